package snapshot_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
)

// load builds a snapshot from named YAML streams ("name", "text", ...).
func load(t *testing.T, streams ...string) (*snapshot.Snapshot, error) {
	t.Helper()
	var items []manifest.Item
	for i := 0; i+1 < len(streams); i += 2 {
		got, err := manifest.ReadStream(streams[i], streams[i+1])
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, got...)
	}
	return snapshot.New(items)
}

func mustLoad(t *testing.T, streams ...string) *snapshot.Snapshot {
	t.Helper()
	s, err := load(t, streams...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readPaths builds a snapshot from files of the repository.
func readPaths(t *testing.T, paths ...string) *snapshot.Snapshot {
	t.Helper()
	items, err := manifest.ReadPaths(paths)
	if err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.New(items)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func refs(objs []render.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Ref()
	}
	return out
}

const tenants = `apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata: {name: solar}
status: {namespaces: [solar-prod]}
---
apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata: {name: wind}
status: {namespaces: [wind-prod]}
`

// gtrDoc is a GlobalTenantResource rendering one ConfigMap per tenant into
// its namespace; extra is added to its spec.
func gtrDoc(apiVersion, name, extra string) string {
	return `apiVersion: ` + apiVersion + `
kind: GlobalTenantResource
metadata: {name: ` + name + `}
spec:
  scope: Tenant` + extra + `
  resources:
    - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: "` + name + `", namespace: "{{tenant.name}}-prod"}}]
`
}

func TestCapsuleGTR(t *testing.T) {
	s := mustLoad(t, "tenants.yaml", tenants,
		"gtrs.yaml", "# Capsule's own\n"+gtrDoc("capsule.clastix.io/v1beta2", "capsule", "\n  notImplemented: {x: 1}"))
	if len(s.GTRs) != 1 {
		t.Fatalf("GTRs = %v", s.GTRs)
	}
	g := s.GTRs[0]
	if g.Source != "gtrs.yaml:1" || g.APIVersion != "addons.projectcapsule.dev/v1alpha1" || !strings.Contains(g.Warning, `spec.notImplemented (line 7)`) {
		t.Errorf("source %q, apiVersion %q, warning %q", g.Source, g.APIVersion, g.Warning)
	}
	res, err := s.Render("")
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
	if diff := cmp.Diff([]string{"ConfigMap solar-prod/capsule", "ConfigMap wind-prod/capsule"}, refs(res.Objects)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], `gtrs.yaml:1: globaltenantresource "capsule": ignored what tenantgen does not implement`) {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestLoadErrors(t *testing.T) {
	ours := "addons.projectcapsule.dev/v1alpha1"
	for _, tc := range []struct {
		name    string
		streams []string
		want    string
	}{
		{"an unknown field in ours, at its line", []string{"a.yaml", "---\n" + gtrDoc(ours, "x", "\n  notImplemented: true")},
			`a.yaml:7: globaltenantresource "x": spec.notImplemented: unknown field`},
		{"unknown fields deep down, each with its path", []string{"a.yaml", gtrDoc(ours, "x", "\n  limits: {maxObjectsPerTenant: 3, bogus: 1}") + "      generatrs: []\n"},
			"a.yaml:6: globaltenantresource \"x\": spec.limits.bogus: unknown field\na.yaml:9: globaltenantresource \"x\": spec.resources[0].generatrs: unknown field"},
		{"field names are case-sensitive, as in the apiserver", []string{"a.yaml", gtrDoc(ours, "x", "\n  Cordoned: true")},
			`a.yaml:6: globaltenantresource "x": spec.Cordoned: unknown field`},
		{"a duration without a unit", []string{"a.yaml", gtrDoc(ours, "x", "\n  resyncPeriod: 30")},
			`a.yaml:6: globaltenantresource "x": spec.resyncPeriod: 30 is not a duration; write e.g. 30s`},
		{"a duration that does not parse", []string{"a.yaml", gtrDoc(ours, "x", "\n  limits:\n    renderTimeout: soon")},
			`a.yaml:7: globaltenantresource "x": spec.limits.renderTimeout: "soon" is not a duration; write e.g. 30s, 5m or 1h30m`},
		{"a value of the wrong type", []string{"a.yaml", gtrDoc(ours, "x", "\n  cordoned: \"yes\"")},
			`a.yaml:6: globaltenantresource "x": spec.cordoned: got a string, want true or false`},
		{"a misspelt kind of our group", []string{"a.yaml", "---\n" + strings.Replace(gtrDoc(ours, "x", ""), "GlobalTenantResource", "GlobalTenantResorce", 1)},
			`a.yaml:3: GlobalTenantResorce "x": kind "GlobalTenantResorce" is not a kind of addons.projectcapsule.dev; its kinds are GlobalTenantResource, TenantInventory`},
		{"a version we do not serve", []string{"a.yaml", gtrDoc("addons.projectcapsule.dev/v1alpha2", "x", "")},
			`a.yaml:1: GlobalTenantResource "x": apiVersion "addons.projectcapsule.dev/v1alpha2" is not served: addons.projectcapsule.dev serves version v1alpha1 only`},
		{"a Capsule version we do not read", []string{"a.yaml", gtrDoc("capsule.clastix.io/v1beta1", "x", "")},
			`a.yaml:1: GlobalTenantResource "x": apiVersion "capsule.clastix.io/v1beta1": tenantgen reads Capsule's GlobalTenantResource as capsule.clastix.io/v1beta2`},
		{"the same name twice", []string{"a.yaml", gtrDoc(ours, "x", ""), "b.yaml", "---\n---\n" + gtrDoc("capsule.clastix.io/v1beta2", "x", "")},
			`GlobalTenantResource.addons.projectcapsule.dev x is also defined at a.yaml`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.streams...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	_, err := load(t, "a.yaml", gtrDoc(ours, "x", ""), "b.yaml", "---\n---\n"+gtrDoc("capsule.clastix.io/v1beta2", "x", ""))
	if msg := err.Error(); !(strings.Contains(msg, "a.yaml:1") && strings.Contains(msg, "b.yaml:3")) {
		t.Errorf("the duplicate error does not name both places: %s", msg)
	}
}

func TestCRDTeachesScope(t *testing.T) {
	crd := func(kind, scope string) string {
		return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: " + strings.ToLower(kind) + "s.example.com}\n" +
			"spec: {group: example.com, scope: " + scope + ", names: {kind: " + kind + "}}\n---\n"
	}
	s := mustLoad(t, "tenants.yaml", tenants, "crds.yaml", crd("Globe", "Cluster")+crd("Local", "Namespaced"),
		"gtr.yaml", `apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: g}
spec:
  scope: Tenant
  tenantSelector: {matchLabels: {}}
  policy: {allowedKinds: [{group: example.com, kind: "*"}]}
  resources:
    - rawItems:
        - {apiVersion: example.com/v1, kind: Local, metadata: {name: "{{tenant.name}}", namespace: "{{tenant.name}}-prod"}}
        - {apiVersion: example.com/v1, kind: Globe, metadata: {name: "{{tenant.name}}", namespace: "{{tenant.name}}-prod"}}
        - {apiVersion: example.com/v1, kind: Unknown, metadata: {name: "{{tenant.name}}", namespace: "{{tenant.name}}-prod"}}
`)
	for kind, want := range map[string]bool{"Globe": false, "Local": true, "Unknown": true} {
		if got, err := s.Namespaced(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: kind}); got != want || err != nil {
			t.Errorf("Namespaced(%s) = %v, %v", kind, got, err)
		}
	}
	res, err := s.Render("solar")
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
	// The cluster-scoped Globe loses its namespace and is applied first.
	if diff := cmp.Diff([]string{"Globe solar", "Local solar-prod/solar", "Unknown solar-prod/solar"}, refs(res.Objects)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestRender(t *testing.T) {
	ours := "addons.projectcapsule.dev/v1alpha1"
	s := mustLoad(t, "tenants.yaml", tenants,
		"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: solar-prod, labels: {capsule.clastix.io/tenant: solar}}\n",
		"gtrs.yaml", gtrDoc(ours, "per-tenant", "")+"---\n"+`apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: cluster}
spec:
  scope: None
  resources:
    - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: per-tenant, namespace: solar-prod}}]
`)
	res, err := s.Render("")
	if err != nil {
		t.Fatal(err)
	}
	// Both GTRs render ConfigMap solar-prod/per-tenant: the second (in name
	// order) is an error and its copy is not printed.
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(),
		`gtrs.yaml:1: globaltenantresource "per-tenant", tenant "solar", resources[0].rawItems[0]: ConfigMap solar-prod/per-tenant is also rendered by cluster/`) {
		t.Errorf("errors = %v", res.Errors)
	}
	if diff := cmp.Diff([]string{"ConfigMap solar-prod/per-tenant", "ConfigMap wind-prod/per-tenant"}, refs(res.Objects)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if res.Objects[0].Tenant != "" {
		t.Errorf("the first is the scope None one, got tenant %q", res.Objects[0].Tenant)
	}
	// wind-prod is only known from wind's status: no warning. A namespace
	// nobody mentions gets one.
	if len(res.Warnings) != 0 {
		t.Errorf("warnings = %q", res.Warnings)
	}

	only, err := s.Render("wind")
	if err != nil || len(only.Errors) != 0 {
		t.Fatal(err, only.Errors)
	}
	if diff := cmp.Diff([]string{"ConfigMap wind-prod/per-tenant"}, refs(only.Objects)); diff != "" {
		t.Errorf("--tenant wind skips scope None (-want +got):\n%s", diff)
	}
	if _, err := s.Render("nope"); err == nil || err.Error() != `tenant "nope" is not in the input (tenants: solar, wind)` {
		t.Errorf("unknown tenant: %v", err)
	}

	lost := mustLoad(t, "tenants.yaml", tenants, "g.yaml",
		gtrDoc(ours, "g", "")+"---\n"+strings.Replace(gtrDoc(ours, "h", ""), `"{{tenant.name}}-prod"`, `"{{tenant.name}}-missing"`, 1))
	res, err = lost.Render("solar")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0] != `namespace "solar-missing" is neither in the input nor rendered; in a cluster without it these fail to apply: ConfigMap solar-missing/h` {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

// The Capsule guide's Envoy Gateway scenario (samples/ against contexts/):
// the full text is the CLI's golden file; here the rules it shows.
func TestEnvoyGatewayScenario(t *testing.T) {
	s := readPaths(t, "../../contexts/envoy-gateway", "../../samples/capsule-envoy-gateway.yaml")
	res, err := s.Render("")
	if err != nil || len(res.Errors) != 0 || len(res.Warnings) != 0 {
		t.Fatal(err, res.Errors, res.Warnings)
	}
	gateway := func(tenant string) *unstructured.Unstructured {
		for _, o := range res.Objects {
			if o.GetKind() == "Gateway" && o.Tenant == tenant {
				return o.Unstructured
			}
		}
		t.Fatalf("no Gateway for %s", tenant)
		return nil
	}
	hostnames := func(tenant string) []string {
		listeners, _, _ := unstructured.NestedSlice(gateway(tenant).Object, "spec", "listeners")
		var out []string
		for _, l := range listeners {
			l := l.(map[string]any)
			out = append(out, l["name"].(string)+" "+stringOr(l["hostname"], "-"))
		}
		return out
	}
	for tenant, want := range map[string][]string{
		// Sorted by namespace and name whatever the file order; wind-prod/sneaky,
		// labelled for solar in wind's namespace, is not there; "internal" has no label.
		"solar": {"http-challenge -", "solar-dev-api-0 api.dev.solar.example.com", "solar-prod-apps-0 *.apps.solar.example.com",
			"solar-prod-shop-0 shop.solar.example.com", "solar-prod-shop-1 www.solar.example.com"},
		"wind": {"http-challenge -", "wind-prod-blog-0 blog.wind.example.com"},
		"oil":  {"http-challenge -"},
	} {
		if diff := cmp.Diff(want, hostnames(tenant)); diff != "" {
			t.Errorf("%s's listeners (-want +got):\n%s", tenant, diff)
		}
	}
	var issuers []string
	for _, o := range res.Objects {
		if o.GetKind() == "EnvoyProxy" {
			ann, _, _ := unstructured.NestedStringMap(o.Object, "spec", "provider", "kubernetes", "envoyDeployment", "pod", "annotations")
			ip, _, _ := unstructured.NestedString(o.Object, "spec", "provider", "kubernetes", "envoyService", "loadBalancerIP")
			if o.Tenant == "solar" && (ann["kubernetes.io/ingress-bandwidth"] != "100M" || ann["kubernetes.io/egress-bandwidth"] != "50M" || ip != "203.0.113.10") {
				t.Errorf("solar's EnvoyProxy lacks its networking settings: %v %q", ann, ip)
			}
			if o.Tenant != "solar" && (ann != nil || ip != "") {
				t.Errorf("%s's EnvoyProxy has networking settings: %v %q", o.Tenant, ann, ip)
			}
		}
		if o.GetKind() == "Issuer" {
			issuers = append(issuers, o.GetNamespace()+"/"+o.GetName())
		}
	}
	if diff := cmp.Diff([]string{"tenant-oil-system/oil-acme-http", "tenant-solar-system/solar-acme-http", "tenant-wind-system/wind-acme-http"}, issuers); diff != "" {
		t.Errorf("issuers (-want +got):\n%s", diff)
	}
}

// The seed example verbatim (testdata/seed-example.yaml, a copy of the
// product docs' one) prints the listener hostname unquoted, which is a YAML
// alias for solar's wildcard hostname: that render fails, precisely located,
// and every other tenant still renders. samples/ quotes the hostname.
func TestSeedExampleVerbatim(t *testing.T) {
	s := readPaths(t, "../../contexts/envoy-gateway", "testdata/seed-example.yaml")
	res, err := s.Render("")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 {
		t.Fatalf("errors = %v", res.Errors)
	}
	msg := res.Errors[0].Error()
	for _, want := range []string{
		`testdata/seed-example.yaml:7: globaltenantresource "managed-envoy-gateway", tenant "solar", resources[0].generators[1] (rendered output line 47): invalid YAML: yaml: line 47:`,
		"  > 47 |       hostname: *.apps.solar.example.com",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	var got []string
	for _, o := range res.Objects {
		got = append(got, o.Tenant+" "+o.Ref())
	}
	// Per tenant, in the order of the GlobalTenantResources. solar has only its
	// Issuer: its managed-envoy-gateway render failed as a whole (the verbatim
	// guide leaves the wildcard hostname unquoted), and a failed render yields nothing.
	want := []string{
		"oil EnvoyProxy tenant-oil-system/tenant-oil-gateway", "oil Gateway tenant-oil-system/tenant-oil-gateway", "oil Issuer tenant-oil-system/oil-acme-http",
		"solar Issuer tenant-solar-system/solar-acme-http",
		"wind EnvoyProxy tenant-wind-system/tenant-wind-gateway", "wind Gateway tenant-wind-system/tenant-wind-gateway", "wind Issuer tenant-wind-system/wind-acme-http",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func stringOr(v any, def string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return def
}

// A Capsule manifest gets Capsule's defaults (generators' missingKey: zero), and the
// render says so; the same spec as tenantgen's own kind keeps tenantgen's default
// (error), so a missing key fails it.
func TestCapsuleGTRGetsCapsulesDefaults(t *testing.T) {
	spec := `
spec:
  scope: Tenant
  resources:
    - generators:
        - template: |
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: data, namespace: "{{ $.tenant.metadata.name }}-prod"}
            data: {note: "[{{ $.tenant.metadata.zone }}]"}
`
	doc := func(apiVersion string) string {
		return "apiVersion: " + apiVersion + "\nkind: GlobalTenantResource\nmetadata: {name: gen}" + spec
	}
	s := mustLoad(t, "tenants.yaml", tenants, "gtr.yaml", doc("capsule.clastix.io/v1beta2"))
	res, err := s.Render("solar")
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
	if len(res.Objects) != 1 {
		t.Fatalf("objects = %v", refs(res.Objects))
	}
	if note, _, _ := unstructured.NestedString(res.Objects[0].Object, "data", "note"); note != "[]" {
		t.Errorf("data.note = %q, want [] (missingKey zero renders a missing key empty)", note)
	}
	want := `gtr.yaml:1: globaltenantresource "gen": applied Capsule's defaults (it is a capsule.clastix.io GlobalTenantResource): resources[0].generators[0] missingKey: zero`
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], want) {
		t.Errorf("warnings = %q, want one starting with %q", res.Warnings, want)
	}

	s = mustLoad(t, "tenants.yaml", tenants, "gtr.yaml", doc("addons.projectcapsule.dev/v1alpha1"))
	res, err = s.Render("solar")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), `map has no entry for key "zone"`) {
		t.Errorf("tenantgen's kind: errors = %v, want the missing key reported", res.Errors)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("tenantgen's kind: warnings = %q", res.Warnings)
	}
}

// What render says when the output may surprise or an error needs its remedy.
func TestRenderExplains(t *testing.T) {
	ours := "addons.projectcapsule.dev/v1alpha1"
	proxy := `apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: proxy}
spec:
  scope: Tenant
  policy: {allowedKinds: [{group: capsule.clastix.io, kind: GlobalProxySettings}]}
  resources:
    - rawItems: [{apiVersion: capsule.clastix.io/v1beta2, kind: GlobalProxySettings, metadata: {name: "{{tenant.name}}"}}]
`
	crd := "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: globalproxysettings.capsule.clastix.io}\n" +
		"spec: {group: capsule.clastix.io, scope: Cluster, names: {kind: GlobalProxySettings}}\n"
	for _, tc := range []struct {
		name    string
		streams []string
		tenant  string
		errors  []string
		notes   []string
		objects []string
	}{{
		name:    "a GlobalTenantResource that selects no tenant",
		streams: []string{"g.yaml", gtrDoc(ours, "none", "\n  tenantSelector: {matchLabels: {tier: gold}}")},
		notes:   []string{`g.yaml:1: globaltenantresource "none" renders nothing: its tenantSelector (tier=gold) selects no tenant (tenants in the input: solar, wind)`},
	}, {
		name:    "one that does not select the tenant asked for",
		streams: []string{"g.yaml", gtrDoc(ours, "none", "\n  tenantSelector: {matchLabels: {tier: gold}}") + "---\n" + gtrDoc(ours, "all", "")},
		tenant:  "wind",
		notes:   []string{`g.yaml:1: globaltenantresource "none" renders nothing: its tenantSelector (tier=gold) does not select tenant "wind"`},
		objects: []string{"ConfigMap wind-prod/all"},
	}, {
		name:    "a bad scope: its error alone, at its line",
		streams: []string{"g.yaml", "# a comment\n" + gtrDoc(ours, "bad", "t")},
		errors:  []string{`g.yaml:6: globaltenantresource "bad", spec.scope: unknown scope "Tenantt": use Tenant, Namespace or None`},
	}, {
		name:    "an unknown custom kind taken as namespaced: add its CRD",
		streams: []string{"g.yaml", proxy},
		tenant:  "solar",
		errors: []string{`g.yaml:1: globaltenantresource "proxy", tenant "solar", resources[0].rawItems[0], GlobalProxySettings solar: ` +
			`metadata.namespace is required for a namespaced kind in scope Tenant; no CustomResourceDefinition in the input defines GlobalProxySettings.capsule.clastix.io, ` +
			`so it was taken as namespaced; if it is cluster-scoped, add its CustomResourceDefinition to the inputs (kubectl get crd -o yaml lists them)`},
	}, {
		name:    "with its CRD it renders",
		streams: []string{"g.yaml", proxy, "crd.yaml", crd},
		tenant:  "solar",
		objects: []string{"GlobalProxySettings solar"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, append([]string{"tenants.yaml", tenants}, tc.streams...)...)
			res, err := s.Render(tc.tenant)
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, e := range res.Errors {
				errs = append(errs, e.Error())
			}
			if diff := cmp.Diff(tc.errors, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.notes, res.Notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.objects, refs(res.Objects), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}
