package render_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/projectcapsule/tenantgen/pkg/render"
)

// generator is the spec of a scope Tenant GTR with one generator; the
// template's lines are given without indentation.
func generator(template string, extra ...string) string {
	return "scope: Tenant\n" + strings.Join(extra, "\n") + "\nresources:\n  - generators:\n      - template: |\n          " +
		strings.ReplaceAll(strings.TrimPrefix(template, "\n"), "\n", "\n          ")
}

func TestDecodeMultipleDocuments(t *testing.T) {
	s := baseWorld(t)
	solar := tenantOf(t, s, "solar")
	p := compile(t, generator(`
---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: platform}
---

--- # a separator with a comment
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: platform}
data:
  script: |
    echo one
    ---
    echo two
---
`))
	objs := renderTenant(t, p, s, solar)
	if diff := cmp.Diff([]string{"ConfigMap platform/a", "ConfigMap platform/b"}, refs(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	if got := str(t, objs[1], "data.script"); got != "echo one\n---\necho two\n" {
		t.Errorf("an indented --- in a block scalar split the document: %q", got)
	}
	for _, o := range objs {
		if o.Origin != "resources[0].generators[0]" || o.Tenant != "solar" || !o.Namespaced {
			t.Errorf("%s: origin %q tenant %q namespaced %v", o.Ref(), o.Origin, o.Tenant, o.Namespaced)
		}
	}

	empty := compile(t, generator("{{/* nothing */}}\n---\n"))
	if objs := renderTenant(t, empty, s, solar); len(objs) != 0 {
		t.Errorf("empty output rendered %v", refs(objs))
	}
}

func TestDecodeErrors(t *testing.T) {
	s := baseWorld(t)
	const first = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: platform}\n---\n"
	for _, tc := range []struct {
		name, template string
		line           int
		msg, excerpt   string
	}{{
		name:     "document without a name",
		template: first + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: platform\n",
		line:     5,
		msg:      "document has no metadata.name",
		excerpt:  "    5 | apiVersion: v1\n    6 | kind: ConfigMap\n    7 | metadata:\n    8 |   namespace: platform",
	}, {
		name:     "document without anything",
		template: "{{ if true }}\n{{ end }}foo: bar\n",
		line:     1,
		msg:      "document has no apiVersion, kind, metadata.name",
		excerpt:  "    1 | \n    2 | foo: bar",
	}, {
		name:     "invalid YAML",
		template: first + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: platform}\ndata:\n  k: a: b\n",
		line:     9,
		msg:      "invalid YAML: yaml: line 9: mapping values are not allowed in this context",
		excerpt:  "    8 | data:\n  > 9 |   k: a: b",
	}, {
		name:     "duplicate key",
		template: first + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: platform}\ndata: {k: v}\ndata: {k: w}\n",
		line:     9,
		msg:      "invalid YAML: yaml: unmarshal errors:\n  line 9: key \"data\" already set in map",
		excerpt:  "  > 9 | data: {k: w}",
	}, {
		name:     "a scalar",
		template: first + "just text\n",
		line:     5,
		msg:      "document is a scalar, not an object",
		excerpt:  "    5 | just text",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, generator(tc.template))
			e := renderError(t, p, s, tenantOf(t, s, "solar"))
			if e.Origin != "resources[0].generators[0]" || e.OutputLine != tc.line || !strings.Contains(e.Msg, tc.msg) || !strings.Contains(e.Excerpt, tc.excerpt) {
				t.Errorf("got origin %q, output line %d, msg %q, excerpt\n%s\nwant output line %d, msg %q, excerpt containing\n%s",
					e.Origin, e.OutputLine, e.Msg, e.Excerpt, tc.line, tc.msg, tc.excerpt)
			}
		})
	}
	if !strings.Contains((&render.Error{GTR: "g", Origin: "o", OutputLine: 9, Msg: "m"}).Error(), "o (rendered output line 9): m") {
		t.Error("Error() does not name the rendered output line")
	}
}

func TestLimits(t *testing.T) {
	s := baseWorld(t)
	solar := tenantOf(t, s, "solar")
	three := "{{ range until 3 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-{{ . }}, namespace: platform}\n{{ end }}"
	if objs := renderTenant(t, compile(t, generator(three, "limits: {maxObjectsPerTenant: 3}")), s, solar); len(objs) != 3 {
		t.Errorf("3 objects within a limit of 3: %v", refs(objs))
	}
	e := renderError(t, compile(t, generator(three, "limits: {maxObjectsPerTenant: 2}")), s, solar)
	if e.Msg != "render exceeded limits.maxObjectsPerTenant: more than 2 objects rendered" || e.Limit != "limits.maxObjectsPerTenant" || e.Tenant != "solar" {
		t.Errorf("got %+v", *e)
	}

	start := time.Now()
	loop := "{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}x{{ end }}{{ end }}{{ end }}"
	e = renderError(t, compile(t, generator(loop, "limits: {renderTimeout: 1ms}")), s, solar)
	if e.Msg != "render exceeded limits.renderTimeout: the render ran longer than 1ms" || e.Limit != "limits.renderTimeout" || e.Origin != "resources[0].generators[0]" {
		t.Errorf("got %+v", *e)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a 1ms render budget took %v", d)
	}

	huge := `{{ $s := repeat 100000 "x" }}{{ range until 200 }}{{ $s }}{{ end }}`
	if e := renderError(t, compile(t, generator(huge)), s, solar); e.Limit != "render memory" {
		t.Errorf("got %+v", *e)
	}
}

// A render with an error returns nothing, not the objects that did render;
// other tenants are not affected.
func TestFailedRenderReturnsNoObjects(t *testing.T) {
	s := baseWorld(t)
	p := compile(t, `
scope: Tenant
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: "{{tenant.name}}-fine", namespace: platform}}]
    generators:
      - template: |
          {{ if eq $.tenant.metadata.name "wind" }}{{ fail "wind is broken" }}{{ end }}`)
	e := renderError(t, p, s, tenantOf(t, s, "wind"))
	if !strings.Contains(e.Msg, "wind is broken") || e.Line != 1 {
		t.Errorf("got %+v", *e)
	}
	if objs := renderTenant(t, p, s, tenantOf(t, s, "solar")); len(objs) != 1 {
		t.Errorf("solar rendered %v", refs(objs))
	}
}

func TestApplyOrder(t *testing.T) {
	s := baseWorld(t)
	p := compile(t, `
scope: None
resources:
  - rawItems:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: platform}}
      - {apiVersion: v1, kind: Namespace, metadata: {name: n2}}
      - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: zz}}
      - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: b.example.com}}
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform}}
      - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: yy}}
      - {apiVersion: v1, kind: Namespace, metadata: {name: n1}}
      - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.example.com}}`)
	out, err := p.Cluster(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Namespace n2", "Namespace n1",
		"CustomResourceDefinition b.example.com", "CustomResourceDefinition a.example.com",
		"ClusterRole zz", "ClusterRole yy",
		"ConfigMap platform/b", "ConfigMap platform/a",
	}
	if diff := cmp.Diff(want, refs(out.Objects)); diff != "" {
		t.Errorf("apply order (-want +got):\n%s", diff)
	}
	// Sort orders objects of several renders the same way, stably.
	mixed := append([]render.Object{}, out.Objects[6], out.Objects[4], out.Objects[0], out.Objects[7], out.Objects[2], out.Objects[1])
	render.Sort(mixed)
	want = []string{"Namespace n2", "Namespace n1", "CustomResourceDefinition b.example.com", "ClusterRole zz", "ConfigMap platform/b", "ConfigMap platform/a"}
	if diff := cmp.Diff(want, refs(mixed)); diff != "" {
		t.Errorf("Sort (-want +got):\n%s", diff)
	}
}

func TestDuplicatesWithinARender(t *testing.T) {
	s := baseWorld(t)
	solar := tenantOf(t, s, "solar")
	p := compile(t, `
scope: Tenant
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform}}]
  - generators:
      - template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: a, namespace: platform}`)
	e := renderError(t, p, s, solar)
	if e.Origin != "resources[1].generators[0]" || e.Object != "ConfigMap platform/a" || e.Msg != "rendered twice: resources[0].rawItems[0] already rendered it" {
		t.Errorf("got %+v", *e)
	}
	// A cluster-scoped object with a fixed name, rendered once per namespace.
	p = compile(t, allowClusterRoles+"resources:\n  - rawItems: [{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: fixed}}]")
	e = renderError(t, p, s, solar)
	if e.Namespace != "solar-prod" || e.Object != "ClusterRole fixed" || !strings.HasPrefix(e.Msg, "rendered twice") {
		t.Errorf("got %+v", *e)
	}
	// Same name, other kind or other namespace: no duplicate.
	p = compile(t, `
scope: Tenant
resources:
  - rawItems:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform}}
      - {apiVersion: v1, kind: Secret, metadata: {name: a, namespace: platform}}
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: solar-prod}}`)
	if objs := renderTenant(t, p, s, solar); len(objs) != 3 {
		t.Errorf("rendered %v", refs(objs))
	}
}
