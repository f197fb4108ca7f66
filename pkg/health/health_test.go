package health

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	// As the apiserver's JSON decodes: integers are int64.
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

const gw = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: tenant-solar-system, generation: 2}
`

func TestBuiltinRules(t *testing.T) {
	cases := []struct {
		name, doc string
		want      Status
		msg       string // substring of the message
	}{
		{"gateway without status", gw, InProgress, "Accepted not reported yet"},
		{"gateway waiting for its controller", gw + `
status:
  conditions:
  - {type: Accepted, status: Unknown, reason: Pending, message: Waiting for controller, observedGeneration: 2}
  - {type: Programmed, status: Unknown, reason: Pending, message: Waiting for controller, observedGeneration: 2}
`, InProgress, "Waiting for controller"},
		{"gateway programmed", gw + `
status:
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 2}
  - {type: Programmed, status: "True", reason: Programmed, observedGeneration: 2}
`, Current, ""},
		{"gateway programmed for an older generation", gw + `
status:
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 1}
  - {type: Programmed, status: "True", reason: Programmed, observedGeneration: 1}
`, InProgress, "generation 1, not 2"},
		{"gateway not programmed", gw + `
status:
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 2}
  - {type: Programmed, status: "False", reason: Invalid, message: no listeners, observedGeneration: 2}
`, Failed, "Programmed=False (Invalid): no listeners"},
		{"gateway pending an address", gw + `
status:
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 2}
  - {type: Programmed, status: "False", reason: AddressNotAssigned, observedGeneration: 2}
`, InProgress, "AddressNotAssigned"},
		{"route without parents", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns, generation: 1}
`, InProgress, "no parent"},
		{"route with one parent refusing it", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns, generation: 1}
status:
  parents:
  - parentRef: {name: a}
    conditions:
    - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 1}
    - {type: ResolvedRefs, status: "True", reason: ResolvedRefs, observedGeneration: 1}
  - parentRef: {name: b}
    conditions:
    - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 1}
    - {type: ResolvedRefs, status: "False", reason: BackendNotFound, message: service x not found, observedGeneration: 1}
`, Failed, "parent b: ResolvedRefs=False (BackendNotFound)"},
		{"route accepted by every parent", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns, generation: 1}
status:
  parents:
  - parentRef: {name: a}
    conditions:
    - {type: Accepted, status: "True", reason: Accepted}
    - {type: ResolvedRefs, status: "True", reason: ResolvedRefs}
`, Current, ""},
		{"issuer registered", `
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: i, namespace: ns, generation: 1}
status: {conditions: [{type: Ready, status: "True", reason: ACMEAccountRegistered, observedGeneration: 1}]}
`, Current, ""},
		{"issuer failing", `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: i, generation: 1}
status: {conditions: [{type: Ready, status: "False", reason: ErrRegisterACMEAccount, message: invalid email, observedGeneration: 1}]}
`, Failed, "invalid email"},
		{"certificate being issued", `
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c, namespace: ns, generation: 1}
status: {conditions: [{type: Ready, status: "False", reason: DoesNotExist}, {type: Issuing, status: "True", reason: DoesNotExist}]}
`, InProgress, "Issuing=True"},
		{"configmap (kstatus: no status is current)", `
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ns}
`, Current, ""},
		{"deployment rolling out (kstatus)", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns, generation: 2}
spec: {replicas: 2}
status: {observedGeneration: 1}
`, InProgress, ""},
		{"custom resource stalled (kstatus)", `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status: {observedGeneration: 1, conditions: [{type: Stalled, status: "True", reason: Broken, message: out of widgets}]}
`, Failed, "out of widgets"},
		{"object being deleted", `
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ns, deletionTimestamp: "2026-01-01T00:00:00Z"}
`, InProgress, "deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := (*Rules)(nil).Assess(obj(t, tc.doc))
			if got.Status != tc.want || !strings.Contains(got.Message, tc.msg) {
				t.Fatalf("got %s %q, want %s containing %q", got.Status, got.Message, tc.want, tc.msg)
			}
		})
	}
}

func TestCustomChecks(t *testing.T) {
	rules, err := Compile([]v1alpha1.HealthCheck{{
		APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway",
		Current:    `status.?conditions.orValue([]).exists(c, c.type == 'Programmed' && c.status == 'True')`,
		Failed:     `status.?conditions.orValue([]).exists(c, c.type == 'Programmed' && c.status == 'False')`,
		InProgress: `metadata.generation != status.?observedGeneration.orValue(metadata.generation)`,
	}, {
		APIVersion: "example.com/v1", Kind: "Widget",
		Current: `status.phase == 'Running'`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, doc string
		want      Status
		msg       string
	}{
		// The custom check replaces the built-in rule: Accepted is not required.
		{"custom gateway rule", gw + `
status: {conditions: [{type: Programmed, status: "True"}]}
`, Current, "healthChecks[0].current is true"},
		{"failed before current", gw + `
status: {conditions: [{type: Programmed, status: "False"}]}
`, Failed, "healthChecks[0].failed"},
		{"in progress first", gw + `
status: {observedGeneration: 1, conditions: [{type: Programmed, status: "True"}]}
`, InProgress, "healthChecks[0].inProgress"},
		{"nothing true yet", gw, InProgress, "no health check expression is true"},
		{"missing field is in progress, not an error", `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
`, InProgress, "healthChecks[1].current: no such key: phase"},
		{"other version uses the built-in rules", `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: gw, generation: 1}
status: {conditions: [{type: Programmed, status: "True"}]}
`, InProgress, "Accepted not reported yet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rules.Assess(obj(t, tc.doc))
			if got.Status != tc.want || !strings.Contains(got.Message, tc.msg) {
				t.Fatalf("got %s %q, want %s containing %q", got.Status, got.Message, tc.want, tc.msg)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name  string
		check v1alpha1.HealthCheck
		want  string
	}{
		{"syntax", v1alpha1.HealthCheck{APIVersion: "v1", Kind: "Pod", Current: "status.phase =="}, "healthChecks[0].current: ERROR"},
		{"unknown variable", v1alpha1.HealthCheck{APIVersion: "v1", Kind: "Pod", Current: "true", Failed: "foo.bar"}, "healthChecks[0].failed: ERROR: <input>:1:1: undeclared reference to 'foo'"},
		{"not a bool", v1alpha1.HealthCheck{APIVersion: "v1", Kind: "Pod", Current: "'yes'"}, "healthChecks[0].current: \"'yes'\" is of type string, want bool"},
		{"current missing", v1alpha1.HealthCheck{APIVersion: "v1", Kind: "Pod", Failed: "true"}, "healthChecks[0].current: is required"},
		{"bad apiVersion", v1alpha1.HealthCheck{APIVersion: "a/b/c", Kind: "Pod", Current: "true"}, "healthChecks[0].apiVersion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]v1alpha1.HealthCheck{tc.check})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	_, err := Compile([]v1alpha1.HealthCheck{{APIVersion: "v1", Kind: "Pod", Current: "true"}, {APIVersion: "v1", Kind: "Pod", Current: "false"}})
	if err == nil || !strings.Contains(err.Error(), "healthChecks[1]: a second check for v1 Pod") {
		t.Fatalf("duplicate: got %v", err)
	}
}

// An expression that would walk a huge object is stopped by the cost limit,
// and reported as in progress with the reason, never run to the end.
func TestCostLimit(t *testing.T) {
	rules, err := Compile([]v1alpha1.HealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
		Current: `data.items.all(a, data.items.all(b, data.items.all(c, a != 'x')))`}})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 1000)
	for i := range items {
		items[i] = "y"
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c"}, "data": map[string]any{"items": items}}}
	got := rules.Assess(u)
	if got.Status != InProgress || !strings.Contains(got.Message, "cost limit") {
		t.Fatalf("got %s %q", got.Status, got.Message)
	}
}

func TestSummary(t *testing.T) {
	var s Summary
	c := s.Condition()
	if c.Status != "True" || c.Message != "0 objects healthy" {
		t.Fatalf("empty: %+v", c)
	}
	s.Add("ConfigMap ns/a", Result{Status: Current})
	s.Add("Gateway ns/gw", Result{Status: InProgress, Message: "Programmed not reported yet"})
	c = s.Condition()
	if c.Status != "Unknown" || c.Reason != v1alpha1.ReasonHealthPending || s.Unhealthy() != 1 {
		t.Fatalf("in progress: %+v", c)
	}
	for i := 0; i < 4; i++ {
		s.Add("Issuer ns/i"+string(rune('0'+i)), Result{Status: Failed, Message: "Ready=False"})
	}
	c = s.Condition()
	want := "5 of 6 objects not healthy (4 failed, 1 in progress): Issuer ns/i0: Ready=False; Issuer ns/i1: Ready=False; Issuer ns/i2: Ready=False"
	if c.Status != "False" || c.Reason != v1alpha1.ReasonUnhealthy || c.Message != want {
		t.Fatalf("failed first:\n got %+v\nwant %s", c, want)
	}
}
