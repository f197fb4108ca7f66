package render

import (
	"runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// FuzzPlaceholders checks placeholder substitution on any string: it never
// panics, a checked string keeps no known placeholder once expanded, every
// spelling of a placeholder expands alike (canonical), and a map whose keys
// collide once expanded is refused, never resolved by map order.
func FuzzPlaceholders(f *testing.F) {
	for _, s := range []string{
		"", "tenant-{{tenant.name}}-system", "{{ tenant.name }}", "{{- namespace -}}", "{{namespace}}.{{tenant.name}}",
		"{{ .Values.x }}", "{{ end }}", "{{tenant.nam}}", "{{{{tenant.name}}}}", "{{ tenant.name", "a\r\nb", "{{\ttenant.name\n}}",
	} {
		f.Add(s, "{{tenant.name}}")
	}
	v := vars{keyTenantName: "solar", keyNamespace: "solar-prod"}
	f.Fuzz(func(t *testing.T, s, other string) {
		got := v.expand(s)
		if checkPlaceholders(s, v) == nil {
			for _, m := range placeholderRE.FindAllStringSubmatch(got, -1) {
				if _, known := v[m[1]]; known && !strings.Contains(s, m[0]) {
					t.Fatalf("expand(%q) = %q introduced placeholder %s", s, got, m[0])
				}
			}
		}
		if c := v.expand(canonical(s)); c != got {
			t.Fatalf("expand(canonical(%q)) = %q, expand = %q", s, c, got)
		}
		obj := map[string]any{s: "a", other: "b"}
		if s == other {
			return
		}
		res, err := v.expandValue(obj)
		if v.expand(s) == v.expand(other) {
			if err == nil {
				t.Fatalf("keys %q and %q collide as %q, yet expanded to %v", s, other, v.expand(s), res)
			}
			return
		}
		if err != nil {
			t.Fatalf("keys %q and %q: %v", s, other, err)
		}
		m := res.(map[string]any)
		if m[v.expand(s)] != "a" || m[v.expand(other)] != "b" || len(m) != 2 {
			t.Fatalf("expandValue(%q, %q) = %v", s, other, m)
		}
	})
}

// staticWorld is a World without objects where every kind is served and
// namespaced except Namespaces and a few well-known cluster-scoped kinds,
// and namespace "other" belongs to tenant wind.
type staticWorld struct{}

func (staticWorld) List(schema.GroupVersionKind, string, labels.Selector) ([]*unstructured.Unstructured, error) {
	return nil, nil
}

func (staticWorld) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	switch gvk.Kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition":
		return false, nil
	}
	return true, nil
}

func (staticWorld) NamespaceOwner(ns string) string {
	if ns == "other" {
		return "wind"
	}
	return ""
}

// FuzzRender compiles and renders any template with the budgets on (a
// 5 ms timeout, short so that the fuzzer spends its time on other inputs): it
// never panics, spends at most the timeout + 100 ms of CPU,
// its errors never name internal functions, and what it renders are objects
// with an identity that the default write policy allows (namespaced, not in
// another tenant's namespace, not in kube-*).
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: platform}\n",
		"{{ range until 3 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c{{ . }}, namespace: platform}\n{{ end }}",
		`{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}`,
		`{{ range 1000000000 }}{{ end }}`,
		`{{ repeat 100000000 "x" }}`,
		`{{ $a := list 1 }}{{ range until 40 }}{{ $a = list $a $a }}{{ end }}{{ toJson $a }}`,
		`{{ printf "%*d" 100000000 1 }}`,
		`{{ index $.tenant.spec "nope" }}`,
		`{{ tenantgen_present 1 }}`,
		"{{ $x := 1 }}\r{{ fail \"x\" }}",
		`{{ regexReplaceAll "" (repeat 1000 "x") "$0$0" }}`,
		`{{ toYaml $.tenant | nindent 4 }}`,
	} {
		f.Add(s, uint8(0))
	}
	t0 := &tenant.Tenant{Name: "solar"}
	t0.Object = map[string]any{"metadata": map[string]any{"name": "solar"}, "spec": map[string]any{"data": map[string]any{"a": "b"}}}
	f.Fuzz(func(t *testing.T, text string, mode uint8) {
		g := &v1alpha1.GlobalTenantResource{}
		g.Name = "fuzz"
		g.Spec.Scope = v1alpha1.ScopeTenant
		g.Spec.Limits.RenderTimeout = &metav1.Duration{Duration: 5 * time.Millisecond}
		mk := []v1alpha1.MissingKey{v1alpha1.MissingKeyError, v1alpha1.MissingKeyZero, v1alpha1.MissingKeyInvalid}[mode%3]
		g.Spec.Resources = []v1alpha1.ResourceSpec{{Generators: []v1alpha1.Generator{{Template: text, MissingKey: mk}}}}
		p, err := Compile(g)
		if err != nil {
			if strings.Contains(err.Error(), internalPrefix) && !strings.Contains(text, internalPrefix) {
				t.Fatalf("compile error names an internal function: %v", err)
			}
			return
		}
		// The render's own CPU time must stay within the timeout + 100 ms;
		// its wall time may be longer only by what a shared machine makes it
		// wait (the fuzzer's first findings were pauses of 0.3 and 1 s on plain
		// text), so it gets 5 s.
		runtime.LockOSThread()
		cpu0, start := threadCPU(), time.Now()
		out, err := p.Tenant(staticWorld{}, t0)
		cpu, took := threadCPU()-cpu0, time.Since(start)
		runtime.UnlockOSThread()
		if cpu > p.timeout+100*time.Millisecond || took > p.timeout+5*time.Second {
			t.Fatalf("render took %v, %v of CPU (timeout %v)", took, cpu, p.timeout)
		}
		if err != nil {
			if strings.Contains(err.Error(), internalPrefix) && !strings.Contains(text, internalPrefix) {
				t.Fatalf("render error names an internal function: %v", err)
			}
			if out != nil {
				t.Fatal("a failed render returned objects")
			}
			return
		}
		if len(out.Objects) > DefaultMaxObjectsPerTenant {
			t.Fatalf("%d objects", len(out.Objects))
		}
		for _, o := range out.Objects {
			if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
				t.Fatalf("object without identity: %v", o.Object)
			}
			// The default write policy of scope Tenant holds whatever the template prints.
			ns := o.GetNamespace()
			if !o.Namespaced || ns == "" || ns == "other" || strings.HasPrefix(ns, "kube-") {
				t.Fatalf("the write policy let through %s", o.Ref())
			}
		}
	})
}
