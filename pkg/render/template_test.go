package render_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

func TestMissingKey(t *testing.T) {
	w := baseWorld(t)
	solar := tenantOf(t, w, "solar")
	for _, tc := range []struct {
		mode v1alpha1.MissingKey
		body string
		want string
	}{
		{v1alpha1.MissingKeyZero, `{{ $.tenant.spec.nope }}`, ""},
		{v1alpha1.MissingKeyZero, `{{ index $.tenant.spec "nope" }}`, ""},
		{v1alpha1.MissingKeyZero, `{{ $v := $.tenant.spec.nope }}{{ $v }}`, ""},
		{v1alpha1.MissingKeyZero, `{{ if true }}{{ $.tenant.a }}{{ end }}{{ range $.tenant.status.namespaces }}{{ $.tenant.b }}{{ else }}{{ $.tenant.c }}{{ end }}{{ with $.tenant }}{{ .d }}{{ end }}`, ""},
		{v1alpha1.MissingKeyZero, `{{ define "x" }}{{ .nope }}{{ end }}{{ template "x" $.tenant }}`, ""},
		{v1alpha1.MissingKeyZero, `[{{ $.tenant.spec.data.tier }}]`, "[gold]"},
		{v1alpha1.MissingKeyInvalid, `{{ $.tenant.spec.nope }}`, "<no value>"},
		{v1alpha1.MissingKeyInvalid, `{{ index $.tenant.spec "nope" }}`, "<no value>"},
		{v1alpha1.MissingKeyError, `[{{ $.tenant.spec.data.tier }}]`, "[gold]"},
	} {
		t.Run(string(tc.mode)+" "+tc.body, func(t *testing.T) {
			got, whole, err := probe(t, w, solar, tc.mode, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("printed %q, want %q", got, tc.want)
			}
			if tc.mode == v1alpha1.MissingKeyZero && strings.Contains(whole, "<no value>") {
				t.Errorf("missingKey zero printed <no value>:\n%s", whole)
			}
		})
	}
}

// missingKey error is the default: unset and "error" fail the same way, naming
// the generator and the template line and quoting the template.
func TestMissingKeyError(t *testing.T) {
	w := baseWorld(t)
	for _, mode := range []v1alpha1.MissingKey{"", v1alpha1.MissingKeyError} {
		_, _, err := probe(t, w, tenantOf(t, w, "solar"), mode, `{{ $.tenant.spec.data.nope }}`)
		e := oneError(t, err)
		want := render.Error{GTR: "probe", Tenant: "solar", Origin: "resources[0].generators[0]", Line: 6,
			Msg: `at <$.tenant.spec.data.nope>: map has no entry for key "nope"`}
		got := *e
		got.Excerpt = ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("missingKey %q (-want +got):\n%s", mode, diff)
		}
		if !strings.Contains(e.Excerpt, "> 6 |     {{ $.tenant.spec.data.nope }}") || !strings.Contains(e.Excerpt, "2 | kind: ConfigMap") {
			t.Errorf("excerpt does not quote the template around line 6:\n%s", e.Excerpt)
		}
		if msg := e.Error(); !strings.HasPrefix(msg, `globaltenantresource "probe", tenant "solar", resources[0].generators[0] line 6: at <$.tenant.spec.data.nope>`) {
			t.Errorf("Error() = %s", msg)
		}
	}
}

func TestTemplateData(t *testing.T) {
	s := baseWorld(t,
		route("solar-prod", "zeta", "solar"),
		with(route("solar-prod", "a-first", "solar"), "status.ok", "yes"),
	)
	// This world answers lists in reverse order and does not serve Widgets:
	// sorting and optional kinds are the render core's own job.
	w := reversed{World: s, unknown: []string{"Widget"}}
	solar := tenantOf(t, s, "solar")
	routes := ctx("routes", routeAPI, "HTTPRoute")
	none := ctx("none", routeAPI, "HTTPRoute")
	none.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"no": "match"}}
	named := func(name string, optional bool) v1alpha1.ContextResource {
		c := ctx("cfg", "v1", "ConfigMap")
		c.Namespace, c.Name, c.Optional = "platform", name, optional
		return c
	}
	widgets := func(optional bool) v1alpha1.ContextResource {
		c := ctx("widgets", "example.com/v1", "Widget")
		c.Optional = optional
		return c
	}
	for _, tc := range []struct {
		name    string
		body    string
		context v1alpha1.ContextResource
		want    string
		wantErr string
	}{
		{name: "tenant with status", body: `{{ $.tenant.metadata.name }} {{ $.tenant.status.state }} {{ $.tenant.spec.data.tier }}`,
			want: "solar Active gold"},
		{name: "list sorted by namespace and name", body: `{{ range $.routes }}{{ .metadata.namespace }}/{{ .metadata.name }} {{ end }}`,
			context: routes, want: "solar-dev/api solar-prod/a-first solar-prod/shop solar-prod/zeta "},
		{name: "status of context objects kept", body: `{{ (index $.routes 1).status.ok }}`, context: routes, want: "yes"},
		{name: "empty result is an empty list", body: `{{ len $.none }}|{{ range $.none }}x{{ else }}empty{{ end }}`,
			context: none, want: "0|empty"},
		{name: "name set: one object", body: `{{ $.cfg.data.color }}`, context: named("settings", false), want: "blue"},
		{name: "name set, missing", body: `{{ $.cfg }}`, context: named("nope", false),
			wantErr: `context "cfg": ConfigMap "nope" not found in namespace platform (set optional: true if it may be absent)`},
		{name: "name set, missing, optional", body: `{{ if $.cfg }}present{{ else }}absent{{ end }}`,
			context: named("nope", true), want: "absent"},
		{name: "unknown kind", body: `{{ $.widgets }}`, context: widgets(false),
			wantErr: `context "widgets": example.com/v1 Widget: kind is not served by the cluster`},
		{name: "unknown kind, optional", body: `{{ len $.widgets }}`, context: widgets(true), want: "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var context []v1alpha1.ContextResource
			if tc.context.Index != "" {
				context = append(context, tc.context)
			}
			// missingKey error: nothing above may count as a missing key.
			got, _, err := probe(t, w, solar, v1alpha1.MissingKeyError, tc.body, context...)
			if tc.wantErr != "" {
				e := oneError(t, err)
				if e.Msg != tc.wantErr || e.Origin != "resources[0].context" || e.Tenant != "solar" {
					t.Errorf("got origin %q msg %q, want resources[0].context, %q", e.Origin, e.Msg, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("printed %q, want %q", got, tc.want)
			}
		})
	}
}

// Templates get copies: sprig's set mutates maps in place, and the World's
// objects are shared with every other render (the controller's cache).
func TestTemplateDataIsACopy(t *testing.T) {
	s := baseWorld(t)
	solar := tenantOf(t, s, "solar")
	body := `{{ $_ := set $.tenant.metadata "name" "hacked" }}{{ $_ := set (index $.routes 0).metadata "name" "hacked" }}{{ $.tenant.metadata.name }}`
	for range 2 {
		got, _, err := probe(t, s, solar, "", body, ctx("routes", routeAPI, "HTTPRoute"))
		if err != nil || got != "hacked" {
			t.Fatalf("printed %q, %v", got, err)
		}
	}
	if solar.Name != "solar" || solar.Object["metadata"].(map[string]any)["name"] != "solar" {
		t.Errorf("the tenant was modified: %v", solar.Object["metadata"])
	}
	objs, _ := s.List(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}, "solar-dev", labels.Everything())
	if len(objs) != 1 || objs[0].GetName() != "api" {
		t.Errorf("the world's route was modified: %v", objs)
	}
}

func TestFunctions(t *testing.T) {
	w := baseWorld(t)
	solar := tenantOf(t, w, "solar")
	for _, tc := range []struct {
		mode       v1alpha1.MissingKey
		body, want string
		wantErr    string
	}{
		{body: `{{ $.tenant.spec.data | toYaml }}`, want: "tier: gold"},
		{body: `{{ (fromYaml "a: {b: c}").a.b }}`, want: "c"},
		{body: `{{ required "tier is required" $.tenant.spec.data.tier }}`, want: "gold"},
		{body: `{{ required "tier is required" "" }}`, wantErr: "tier is required"},
		{mode: v1alpha1.MissingKeyZero, body: `{{ required "nope is required" $.tenant.spec.nope }}`, wantErr: "nope is required"},
		{body: `{{ dig "spec" "data" "x" "fallback" $.tenant }}`, want: "fallback"},
	} {
		got, _, err := probe(t, w, solar, tc.mode, tc.body)
		if tc.wantErr != "" {
			if e := oneError(t, err); !strings.Contains(e.Msg, tc.wantErr) || e.Line != 6 {
				t.Errorf("%s: got line %d, %q; want line 6, %q", tc.body, e.Line, e.Msg, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s printed %q (%v), want %q", tc.body, got, err, tc.want)
		}
	}
}

// Functions that read the environment or the clock or draw random numbers do
// not exist for generators: using one fails the compile.
func TestRemovedFunctions(t *testing.T) {
	for _, fn := range []string{"env", "expandenv", "now", "randAlpha", "uuidv4", "getHostByName", "genPrivateKey"} {
		e := compileError(t, `
scope: Tenant
resources:
  - generators:
      - template: |
          # line 1
          {{ `+fn+` "x" }}
`)
		if e.Origin != "resources[0].generators[0]" || e.Line != 2 || !strings.Contains(e.Msg, `function "`+fn+`" not defined`) {
			t.Errorf("%s: got origin %q line %d msg %q", fn, e.Origin, e.Line, e.Msg)
		}
		if !strings.Contains(e.Excerpt, "> 2 | {{ "+fn) {
			t.Errorf("%s: excerpt does not point at line 2:\n%s", fn, e.Excerpt)
		}
	}
	names := render.FuncNames()
	if !slices.IsSorted(names) {
		t.Error("FuncNames is not sorted")
	}
	for _, fn := range []string{"toYaml", "fromYaml", "required", "dig", "quote", "b64enc", "sha256sum"} {
		if !slices.Contains(names, fn) {
			t.Errorf("FuncNames lacks %s", fn)
		}
	}
	for _, fn := range []string{"env", "expandenv", "now", "randAlpha", "uuidv4", "tenantgen_zero"} {
		if slices.Contains(names, fn) {
			t.Errorf("FuncNames lists %s", fn)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, tc := range []struct{ spec, origin, msg string }{
		{"scope: Cluster\nresources: []", "spec.scope", `unknown scope "Cluster"`},
		// Only the scope's error: checked as scope None, the placeholder would fail too.
		{"scope: Tenantt\nresources:\n  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: \"{{tenant.name}}\", namespace: x}}]", "spec.scope", `unknown scope "Tenantt"`},
		{"scope: Tenant\nresources:\n  - generators: [{template: x, missingKey: maybe}]", "resources[0].generators[0]", `missingKey "maybe"`},
		{"scope: Tenant\nresources:\n  - generators: [{template: \"a\\n{{ if }}\"}]", "resources[0].generators[0]", "missing value for if"},
		{"scope: Tenant\nresources:\n  - context: {resources: [{index: tenant, apiVersion: v1, kind: ConfigMap}]}", "resources[0].context.resources[0]", `index "tenant" is reserved`},
		{"scope: Tenant\nresources:\n  - context: {resources: [{index: a-b, apiVersion: v1, kind: ConfigMap}]}", "resources[0].context.resources[0]", `index "a-b" is not an identifier`},
		{"scope: Tenant\nresources:\n  - context: {resources: [{index: a, apiVersion: v1, kind: ConfigMap}, {index: a, apiVersion: v1, kind: Secret}]}", "resources[0].context.resources[1]", `index "a" is used twice`},
		{"scope: Tenant\nresources:\n  - context: {resources: [{index: a, apiVersion: v1, kind: \"\"}]}", "resources[0].context.resources[0]", "do not name a kind"},
		{"scope: Tenant\nresources:\n  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {namespace: x}}]", "resources[0].rawItems[0]", "the object has no metadata.name"},
		{"scope: Tenant\nresources:\n  - rawItems: [{metadata: {name: y}}]", "resources[0].rawItems[0]", "the object has no apiVersion, kind, metadata.name"},
		{"scope: Tenant\nresources:\n  - rawItems: [[a]]", "resources[0].rawItems[0]", "not an object"},
		{"scope: Tenant\ntenantSelector: {matchLabels: {\"a b\": c}}\nresources: []", "spec.tenantSelector", "a b"},
	} {
		e := compileError(t, tc.spec)
		if e.Origin != tc.origin || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%s:\ngot origin %q msg %q; want %q, %q", tc.spec, e.Origin, e.Msg, tc.origin, tc.msg)
		}
	}
}

// missingKey error also fails when an action prints a nil that no map lookup
// caught (index of a missing key, a nil from dig): Go would print
// "<no value>". The message and its line say where; it never names the
// internal function that caught it.
func TestMissingKeyErrorOnPrintedNil(t *testing.T) {
	w := baseWorld(t)
	for _, body := range []string{`{{ index $.tenant.spec "nope" }}`, `{{ dig "a" "b" nil $.tenant }}`} {
		_, _, err := probe(t, w, tenantOf(t, w, "solar"), v1alpha1.MissingKeyError, body)
		e := oneError(t, err)
		if !strings.HasPrefix(e.Msg, "printed a missing value") || strings.Contains(e.Error(), "tenantgen_") || e.Line != 6 || !strings.Contains(e.Excerpt, "> 6 |") {
			t.Errorf("%s: got line %d, %q", body, e.Line, e.Msg)
		}
	}
	// A value that is present but empty is not missing.
	if got, _, err := probe(t, w, tenantOf(t, w, "solar"), v1alpha1.MissingKeyError, `[{{ dig "a" "" $.tenant }}]`); err != nil || got != "[]" {
		t.Errorf("an empty default printed %q, %v", got, err)
	}
}

// required and fail report the author's message as it is, at its line.
func TestRequiredAndFailMessages(t *testing.T) {
	w := baseWorld(t)
	for body, want := range map[string]string{
		`{{ required "spec.data.tier2 is required" $.tenant.spec.data.tier2 }}`: "spec.data.tier2 is required",
		`{{ fail (printf "tenant %s is not ready" $.tenant.metadata.name) }}`:   "tenant solar is not ready",
	} {
		_, _, err := probe(t, w, tenantOf(t, w, "solar"), v1alpha1.MissingKeyZero, body)
		if e := oneError(t, err); e.Msg != want || e.Line != 6 {
			t.Errorf("%s: got line %d, %q; want line 6, %q", body, e.Line, e.Msg, want)
		}
	}
}
