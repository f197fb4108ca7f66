package render_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

func TestPlaceholdersInRawItemsAndAdditionalMetadata(t *testing.T) {
	w := baseWorld(t)
	p := compile(t, `
scope: Namespace
resources:
  - additionalMetadata:
      labels: {"owner-{{ tenant.name }}": "{{namespace}}"}
      annotations: {note: "ns {{  namespace  }} of {{tenant.name}}"}
    rawItems:
      - apiVersion: example.com/v1
        kind: Widget
        metadata: {name: "w-{{tenant.name}}"}
        spec:
          "key-{{namespace}}": "{{tenant.name}}/{{namespace}}"
          list: ["{{ tenant.name }}", plain, 3]
          nested: {deep: ["x{{namespace}}y"]}
`)
	objs := renderTenant(t, p, w, tenantOf(t, w, "solar"))
	if diff := cmp.Diff([]string{"Widget solar-dev/w-solar", "Widget solar-prod/w-solar"}, refs(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	o := objs[1]
	spec, _, _ := unstructured.NestedMap(o.Object, "spec")
	want := map[string]any{
		"key-solar-prod": "solar/solar-prod",
		"list":           []any{"solar", "plain", int64(3)},
		"nested":         map[string]any{"deep": []any{"xsolar-prody"}},
	}
	if diff := cmp.Diff(want, spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if got := o.GetLabels()["owner-solar"]; got != "solar-prod" {
		t.Errorf("label owner-solar = %q, want solar-prod (labels %v)", got, o.GetLabels())
	}
	if got := o.GetAnnotations()["note"]; got != "ns solar-prod of solar" {
		t.Errorf("annotation note = %q", got)
	}
}

func TestPlaceholdersInContextReferences(t *testing.T) {
	w := baseWorld(t,
		configMap("solar-prod", "solar-cfg", "v", "solar's"),
		configMap("wind-prod", "wind-cfg", "v", "wind's"),
		with(configMap("platform", "sel-solar"), "metadata.labels", map[string]any{"for-solar": "solar"}),
		with(configMap("platform", "sel-wind"), "metadata.labels", map[string]any{"for-wind": "wind"}),
		with(configMap("platform", "expr-solar"), "metadata.labels", map[string]any{"owner": "solar"}),
		with(configMap("platform", "expr-wind"), "metadata.labels", map[string]any{"owner": "wind"}),
	)
	p := compile(t, `
scope: Tenant
resources:
  - context:
      resources:
        - {index: byName, apiVersion: v1, kind: ConfigMap, namespace: "{{tenant.name}}-prod", name: "{{ tenant.name }}-cfg"}
        - {index: bySel, apiVersion: v1, kind: ConfigMap, namespace: platform, selector: {matchLabels: {"for-{{tenant.name}}": "{{tenant.name}}"}}}
        - {index: byExpr, apiVersion: v1, kind: ConfigMap, namespace: platform, selector: {matchExpressions: [{key: owner, operator: In, values: ["{{ tenant.name }}"]}]}}
    generators:
      - template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: out, namespace: platform}
          data:
            byName: {{ $.byName.data.v | quote }}
            bySel: "{{ range $.bySel }}{{ .metadata.name }}{{ end }}"
            byExpr: "{{ range $.byExpr }}{{ .metadata.name }}{{ end }}"
`)
	for _, tc := range []struct{ tenant, byName, bySel, byExpr string }{
		{"solar", "solar's", "sel-solar", "expr-solar"},
		{"wind", "wind's", "sel-wind", "expr-wind"},
	} {
		o := renderTenant(t, p, w, tenantOf(t, w, tc.tenant))[0]
		got := []string{str(t, o, "data.byName"), str(t, o, "data.bySel"), str(t, o, "data.byExpr")}
		if diff := cmp.Diff([]string{tc.byName, tc.bySel, tc.byExpr}, got); diff != "" {
			t.Errorf("%s: byName, bySel, byExpr (-want +got):\n%s", tc.tenant, diff)
		}
	}
}

func TestPlaceholderErrorsAtCompile(t *testing.T) {
	for _, tc := range []struct {
		name, spec, origin, msg string
	}{{
		name: "unknown key in a rawItem value",
		spec: `
scope: Tenant
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: "{{tenant.id}}", namespace: x}}]`,
		origin: "resources[0].rawItems[0]",
		msg:    "unknown placeholder {{tenant.id}}",
	}, {
		name: "unknown key in a rawItem key",
		spec: `
scope: Tenant
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: x}, data: {"{{ tenantName }}": v}}]`,
		origin: "resources[0].rawItems[0]",
		msg:    "unknown placeholder {{ tenantName }}",
	}, {
		name: "namespace in scope Tenant",
		spec: `
scope: Tenant
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: "{{namespace}}"}}]`,
		origin: "resources[0].rawItems[0]",
		msg:    "placeholder {{namespace}} is only available in scope Namespace",
	}, {
		name: "tenant.name in scope None",
		spec: `
scope: None
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: "{{ tenant.name }}", namespace: x}}]`,
		origin: "resources[0].rawItems[0]",
		msg:    "placeholder {{ tenant.name }} is not available in scope None",
	}, {
		name: "unknown key in additionalMetadata",
		spec: `
scope: Namespace
resources:
  - additionalMetadata: {annotations: {a: "{{namespace.name}}"}}`,
		origin: "resources[0].additionalMetadata",
		msg:    "unknown placeholder {{namespace.name}}",
	}, {
		name: "unknown key in a context name",
		spec: `
scope: Tenant
resources:
  - rawItems: []
  - context: {resources: [{index: a, apiVersion: v1, kind: ConfigMap, name: "{{tenant}}"}]}`,
		origin: "resources[1].context.resources[0]",
		msg:    "unknown placeholder {{tenant}}",
	}, {
		name: "namespace in a context selector in scope Tenant",
		spec: `
scope: Tenant
resources:
  - context: {resources: [{index: a, apiVersion: v1, kind: ConfigMap, selector: {matchLabels: {ns: "{{namespace}}"}}}]}`,
		origin: "resources[0].context.resources[0]",
		msg:    "only available in scope Namespace",
	}, {
		name: "unknown key in a namespacedItem",
		spec: `
scope: Namespace
resources:
  - namespacedItems: [{apiVersion: v1, kind: Secret, namespace: platform, name: "{{ ns }}"}]`,
		origin: "resources[0].namespacedItems[0]",
		msg:    "unknown placeholder {{ ns }}",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := compileError(t, tc.spec)
			if e.GTR != "test" || e.Origin != tc.origin || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got GTR %q, origin %q, msg %q; want test, %q, a message containing %q", e.GTR, e.Origin, e.Msg, tc.origin, tc.msg)
			}
			if !strings.Contains(e.Error(), tc.origin) {
				t.Errorf("Error() does not name the origin: %s", e.Error())
			}
		})
	}
}

// A substituted value never adds YAML structure: the template string's own
// "---" and the placeholder value's newlines stay inside one string.
func TestPlaceholderValueCannotInjectYAML(t *testing.T) {
	w := baseWorld(t)
	evil := tenant.New(tenantObj("evil\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: stolen}"), nil)
	p := compile(t, `
scope: Tenant
resources:
  - rawItems:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: script, namespace: platform}
        data:
          script: "echo {{tenant.name}}\n---\nkind: Secret\n"
`)
	objs := renderTenant(t, p, w, evil)
	if len(objs) != 1 {
		t.Fatalf("want one object, got %v", refs(objs))
	}
	want := "echo " + evil.Name + "\n---\nkind: Secret\n"
	if got := str(t, objs[0], "data.script"); got != want {
		t.Errorf("data.script = %q, want %q", got, want)
	}
}

func TestGoTemplateTextInRawItemsPassesThrough(t *testing.T) {
	w := baseWorld(t)
	p := compile(t, `
scope: Tenant
resources:
  - rawItems:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: chart, namespace: platform}
        data:
          values: "{{ .Values.x }} {{ include \"a\" . }} {{ $y }} {{tenant.name}}"
          control: "{{- if .Values.on }}on{{ else }}off{{ end }}{{ range .l }}{{ break }}{{ end }}"
`)
	o := renderTenant(t, p, w, tenantOf(t, w, "solar"))[0]
	if got, want := str(t, o, "data.values"), `{{ .Values.x }} {{ include "a" . }} {{ $y }} solar`; got != want {
		t.Errorf("data.values = %q, want %q", got, want)
	}
	if got, want := str(t, o, "data.control"), "{{- if .Values.on }}on{{ else }}off{{ end }}{{ range .l }}{{ break }}{{ end }}"; got != want {
		t.Errorf("data.control = %q, want %q", got, want)
	}
}

// A placeholder written with template trim markers is still a placeholder,
// not text that passes through unexpanded.
func TestPlaceholderWithTrimMarkers(t *testing.T) {
	w := baseWorld(t)
	p := compile(t, `
scope: Tenant
resources:
  - rawItems:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: "cm-{{- tenant.name -}}", namespace: solar-prod}
`)
	objs := renderTenant(t, p, w, tenantOf(t, w, "solar"))
	if len(objs) != 1 || objs[0].GetName() != "cm-solar" {
		t.Fatalf("got %v, want one ConfigMap cm-solar", refs(objs))
	}
}

// Keys that are one key once placeholders are substituted are an error, not
// a value chosen by map order: at compile time when they only spell a
// placeholder differently, at render time when a literal key equals an
// expanded one.
func TestPlaceholderKeyCollisions(t *testing.T) {
	for _, spec := range []string{
		"scope: Tenant\nresources:\n  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform}, data: {'{{tenant.name}}': a, '{{ tenant.name }}': b}}]",
		"scope: Tenant\nresources:\n  - additionalMetadata: {labels: {'x-{{tenant.name}}': a, 'x-{{- tenant.name -}}': b}}\n    rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform}}]",
		"scope: Tenant\nresources:\n  - context: {resources: [{index: r, apiVersion: v1, kind: ConfigMap, selector: {matchLabels: {'{{tenant.name}}': a, '{{ tenant.name}}': b}}}]}\n    generators: [{template: x}]",
	} {
		e := compileError(t, spec)
		if !strings.Contains(e.Msg, "once placeholders are substituted") {
			t.Errorf("%s: got %+v", spec, *e)
		}
	}
	s := baseWorld(t)
	solar := tenantOf(t, s, "solar")
	p := compile(t, "scope: Tenant\nresources:\n  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform}, data: {'solar': a, '{{tenant.name}}': b}}]")
	for range 20 { // map order is random: every run must fail the same way
		e := renderError(t, p, s, solar)
		if e.Msg != `keys "solar" and "{{tenant.name}}" are both "solar" once placeholders are substituted` && e.Msg != `keys "{{tenant.name}}" and "solar" are both "solar" once placeholders are substituted` {
			t.Fatalf("got %+v", *e)
		}
	}
	// For wind there is no collision.
	if objs := renderTenant(t, p, s, tenantOf(t, s, "wind")); len(objs) != 1 {
		t.Errorf("wind: %v", refs(objs))
	}
}

// Template line numbers are right whatever the template's line endings.
func TestTemplateLineEndings(t *testing.T) {
	s := baseWorld(t)
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		text := strings.ReplaceAll("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: platform}\ndata:\n  x: {{ fail \"line five\" }}\n", "\n", eol)
		g := gtr(t, "scope: Tenant\nresources: [{generators: [{template: x}]}]")
		g.Spec.Resources[0].Generators[0].Template = text
		p, err := render.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		e := renderError(t, p, s, tenantOf(t, s, "solar"))
		if e.Line != 5 || e.Msg != "line five" || !strings.Contains(e.Excerpt, "> 5 |") {
			t.Errorf("%q: got line %d, %q\n%s", eol, e.Line, e.Msg, e.Excerpt)
		}
	}
}
