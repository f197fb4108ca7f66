package tenant

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func tenantObj(name string, statusNamespaces ...any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(GVK)
	u.SetName(name)
	u.SetLabels(map[string]string{"tier": name})
	_ = unstructured.SetNestedSlice(u.Object, statusNamespaces, "status", "namespaces")
	return u
}

func namespaceObj(name, owner string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(NamespaceGVK)
	u.SetName(name)
	labels := map[string]string{LabelNamespaceName: name, "real": "yes"}
	if owner != "" {
		labels[LabelTenant] = owner
	}
	u.SetLabels(labels)
	return u
}

// names lists a tenant's namespaces and whether each is a real object.
func names(t *Tenant) []string {
	var out []string
	for _, ns := range t.Namespaces {
		kind := "synthesized"
		if ns.Labels["real"] == "yes" {
			kind = "object"
		}
		out = append(out, ns.Name+" "+kind)
	}
	return out
}

func TestDirectory(t *testing.T) {
	d := NewDirectory(
		[]*unstructured.Unstructured{
			// b first: the directory sorts.
			tenantObj("b", "b-1"),
			// a's status claims "taken", which b's label owns, and lists
			// "a-new", which has no Namespace object (yet).
			tenantObj("a", "a-2", "taken", "a-new"),
		},
		[]*unstructured.Unstructured{
			namespaceObj("taken", "b"),
			namespaceObj("a-2", ""), // unlabelled: belongs by a's status
			namespaceObj("a-1", "a"),
			namespaceObj("b-1", "b"),
			namespaceObj("ghost-1", "ghost"), // labelled for a tenant that does not exist
			namespaceObj("free", ""),
		},
	)
	var got []string
	for _, tn := range d.Tenants() {
		got = append(got, tn.Name)
	}
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("Tenants (-want +got):\n%s", diff)
	}
	a, _ := d.Get("a")
	b, _ := d.Get("b")
	if diff := cmp.Diff([]string{"a-1 object", "a-2 object", "a-new synthesized"}, names(a)); diff != "" {
		t.Errorf("a's namespaces (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b-1 object", "taken object"}, names(b)); diff != "" {
		t.Errorf("b's namespaces (-want +got):\n%s", diff)
	}
	for ns, want := range map[string]string{"taken": "b", "a-2": "a", "a-new": "a", "ghost-1": "ghost", "free": "", "unknown": ""} {
		if got := d.Owner(ns); got != want {
			t.Errorf("Owner(%s) = %q, want %q", ns, got, want)
		}
	}
	if !a.Owns("a-new") || !a.Owns("a-1") || a.Owns("taken") || a.Owns("b-1") || a.Owns("a-") {
		t.Error("Owns disagrees with the namespaces")
	}
	if _, ok := d.Get("ghost"); ok {
		t.Error("a label made up a tenant")
	}
	if a.Labels()["tier"] != "a" {
		t.Errorf("Labels = %v", a.Labels())
	}
	// A status-only namespace gets a minimal object with its name label.
	synth := a.Namespaces[2]
	want := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{
		"name": "a-new", "labels": map[string]any{LabelNamespaceName: "a-new"},
	}}
	if diff := cmp.Diff(want, synth.Object); diff != "" {
		t.Errorf("synthesized namespace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{LabelNamespaceName: "a-new"}, synth.Labels); diff != "" {
		t.Errorf("synthesized labels (-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	obj := tenantObj("a", "z-listed", "m-both")
	tn := New(obj, []*unstructured.Unstructured{namespaceObj("m-both", "a"), namespaceObj("b-given", "a")})
	if diff := cmp.Diff([]string{"b-given object", "m-both object", "z-listed synthesized"}, names(tn)); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}
	if tn.Name != "a" || tn.Object["status"] == nil {
		t.Errorf("the tenant object lost its status: %v", tn.Object)
	}
	if got := StatusNamespaces(obj); !cmp.Equal(got, []string{"z-listed", "m-both"}) {
		t.Errorf("StatusNamespaces = %v", got)
	}
	if got := OwnerLabel(namespaceObj("x", "a")); got != "a" {
		t.Errorf("OwnerLabel = %q", got)
	}
}
