package generators_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
)

// hostileValues are what a tenant (or whoever writes the objects the catalog
// reads) could put in a field to make a template write something else:
// documents, keys, list items, template and placeholder syntax, YAML
// anchors and aliases, quotes, very long strings.
var hostileValues = []string{
	"x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\nroleRef: {kind: ClusterRole, name: cluster-admin}",
	"x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pwn, namespace: kube-system}\n",
	"a\nextra: injected\nmore: [1, 2]",
	"{{ $.tenant }}{{tenant.name}}{{ fail \"x\" }}",
	"&anchor [*anchor, *anchor]",
	"*alias",
	"\"'\\ # not a comment: {a: b}\t\r\n",
	strings.Repeat("long-", 2000),
}

// contextLeaf is one string field of a context object that the catalog may
// read and a tenant may set.
type contextLeaf struct {
	item int
	path []any // map keys (string) and list indexes (int)
}

func (l contextLeaf) String(items []manifest.Item) string {
	return fmt.Sprintf("%s %s %v", items[l.item].Object.GetKind(), items[l.item].Object.GetName(), l.path)
}

// leaves lists the string fields a tenant controls in the fixtures: the
// Tenants' spec.data and annotations, and the routes' spec and annotations.
// Names, namespaces and labels are left out: the apiserver validates them as
// DNS names and label values, and labels decide what a context selects.
func leaves(items []manifest.Item, kinds map[string]bool) []contextLeaf {
	var out []contextLeaf
	var walk func(item int, path []any, v any)
	walk = func(item int, path []any, v any) {
		switch t := v.(type) {
		case string:
			out = append(out, contextLeaf{item: item, path: append([]any{}, path...)})
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(item, append(path, k), t[k])
			}
		case []any:
			for i, e := range t {
				walk(item, append(path, i), e)
			}
		}
	}
	for i, it := range items {
		o := it.Object.Object
		switch it.Object.GetKind() {
		case "Tenant":
			if spec, ok := o["spec"].(map[string]any); ok {
				walk(i, []any{"spec", "data"}, spec["data"])
			}
		case "HTTPRoute", "TLSRoute", "GRPCRoute", "TCPRoute":
			if !kinds[it.Object.GetKind()] {
				continue // the generator does not read it
			}
			walk(i, []any{"spec"}, o["spec"])
		default:
			continue
		}
		if md, ok := o["metadata"].(map[string]any); ok {
			walk(i, []any{"metadata", "annotations"}, md["annotations"])
		}
	}
	return out
}

func set(obj map[string]any, path []any, value string) {
	var cur any = obj
	for i, p := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p.(string)] = value
			}
			cur = c[p.(string)]
		case []any:
			if last {
				c[p.(int)] = value
			}
			cur = c[p.(int)]
		}
	}
}

// rendered is a render's objects per GlobalTenantResource and tenant, and
// the tenants that failed.
type rendered struct {
	objects map[string][]map[string]any // "gtr/tenant" -> objects in order
	failed  map[string]bool             // tenants with an error
}

func renderAll(t *testing.T, items []manifest.Item) rendered {
	t.Helper()
	s, err := snapshot.New(items)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Render("")
	if err != nil {
		t.Fatal(err)
	}
	r := rendered{objects: map[string][]map[string]any{}, failed: map[string]bool{}}
	for _, o := range res.Objects {
		key := o.GetLabels()["addons.projectcapsule.dev/globaltenantresource"] + "/" + o.Tenant
		r.objects[key] = append(r.objects[key], o.Object)
	}
	for _, e := range res.Errors {
		r.failed[e.Error()] = true
	}
	return r
}

// Every catalog generator prints what it reads from its context through
// quote (or as a typed number), so a hostile value in any field a tenant
// controls adds no object and changes no field but those that print it: a
// tenant's render either fails or yields the same objects, whose fields
// equal the baseline's except where the hostile value itself is printed.
func TestHostileContextValuesChangeNothingElse(t *testing.T) {
	files, err := filepath.Glob(catalogGlob)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			items, err := manifest.ReadPaths([]string{"../contexts", file})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, g := range loadGTRs(t, []string{file}) {
				for _, r := range g.Spec.Resources {
					if r.Context != nil {
						for _, c := range r.Context.Resources {
							kinds[c.Kind] = true
						}
					}
				}
			}
			base := renderAll(t, items)
			if len(base.objects) == 0 {
				t.Fatal("the baseline renders nothing")
			}
			for _, leaf := range leaves(items, kinds) {
				for _, h := range hostileValues {
					mutated := make([]manifest.Item, len(items))
					copy(mutated, items)
					o := mutated[leaf.item].Object.DeepCopy()
					set(o.Object, leaf.path, h)
					mutated[leaf.item].Object = o
					got := renderAll(t, mutated)
					where := fmt.Sprintf("%s = %.60q", leaf.String(items), h)
					for key, objs := range got.objects {
						want, ok := base.objects[key]
						if !ok {
							t.Errorf("%s: %s rendered %d objects, the baseline none", where, key, len(objs))
							continue
						}
						if len(objs) != len(want) {
							t.Errorf("%s: %s rendered %d objects, the baseline %d", where, key, len(objs), len(want))
							continue
						}
						for i := range objs {
							compare(t, where, key, h, want[i], objs[i])
						}
					}
				}
			}
		})
	}
}

// compare fails on a change that the hostile value h does not explain. A
// value may change what lists hold (a hostname makes a listener, routes are
// sorted and deduplicated by it), so fields are compared by their path with
// list indexes left out: got must have exactly the baseline's fields, and a
// value the baseline does not have at that path must be a string printing h
// (or a part of it, as a template may trim, replace or join it).
func compare(t *testing.T, where, key, h string, want, got map[string]any) {
	t.Helper()
	w, g := map[string]map[string]bool{}, map[string]map[string]bool{}
	shape("", runtime.DeepCopyJSON(want), w)
	shape("", runtime.DeepCopyJSON(got), g)
	for path, values := range g {
		base, ok := w[path]
		if !ok {
			t.Errorf("%s: %s has a field %s the baseline has not", where, key, path)
			continue
		}
		for v := range values {
			if !base[v] && !printsPartOf(v, h) {
				t.Errorf("%s: %s field %s holds %.80q, which neither the baseline nor the hostile value explains", where, key, path, v)
			}
		}
	}
	// A list may lose its elements (a route whose parentRef no longer names
	// the Gateway is left out); fields outside lists may not go.
	for path := range w {
		if _, ok := g[path]; !ok && !strings.Contains(path, "[]") {
			t.Errorf("%s: %s lost field %s", where, key, path)
		}
	}
}

// shape maps each path without list indexes to the values found there.
func shape(prefix string, v any, out map[string]map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			shape(prefix+"."+k, e, out)
		}
	case []any:
		for _, e := range t {
			shape(prefix+"[]", e, out)
		}
		if len(t) == 0 {
			shape(prefix+"[]", nil, out)
		}
	default:
		if out[prefix] == nil {
			out[prefix] = map[string]bool{}
		}
		out[prefix][fmt.Sprintf("%T:%v", t, t)] = true
	}
}

// printsPartOf reports whether a rendered string value holds a fragment of
// h: five characters of it (all of a shorter h), as a template may have
// replaced or trimmed the rest.
func printsPartOf(v, h string) bool {
	s, ok := strings.CutPrefix(v, "string:")
	if !ok {
		return false
	}
	h = strings.TrimSpace(h)
	n := min(len(h), 5)
	for i := 0; i+n <= len(h); i++ {
		if strings.Contains(s, h[i:i+n]) {
			return true
		}
	}
	return false
}
