// Package tenant is tenantgen's view of Capsule tenants and the namespaces they
// own. Names, labels and the API version come from Capsule's own Go module
// (github.com/projectcapsule/capsule, api/v1beta2 and pkg/api/meta); a Tenant is
// still held as an unstructured object, because templates see it as a map
// ($.tenant, status included) and the render core must not depend on the
// apiserver's typed decoding.
package tenant

import (
	"sort"

	capsulev1beta2 "github.com/projectcapsule/capsule/api/v1beta2"
	capsulemeta "github.com/projectcapsule/capsule/pkg/api/meta"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Capsule's API facts that tenantgen relies on.
const (
	// LabelTenant is the label Capsule sets on every namespace of a tenant.
	LabelTenant = capsulemeta.TenantLabel
	// LabelNamespaceName is the label the apiserver sets on every namespace.
	LabelNamespaceName = corev1.LabelMetadataName
)

// Group is Capsule's API group.
var Group = capsulev1beta2.GroupVersion.Group

// GVK is the kind of Capsule tenants tenantgen reads (capsule.clastix.io/v1beta2 Tenant).
var GVK = capsulev1beta2.GroupVersion.WithKind("Tenant")

// NamespaceGVK is the kind of namespaces.
var NamespaceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

// Namespace is one namespace of a tenant.
type Namespace struct {
	Name   string
	Labels map[string]string
	// Object is the Namespace as the cluster has it; a namespace known only from
	// the tenant's status.namespaces gets a minimal object with its name label.
	Object map[string]any
}

// Tenant is a Capsule tenant with the namespaces it owns.
type Tenant struct {
	Name string
	// Object is the Tenant as the cluster has it, status included; templates see it as $.tenant.
	Object map[string]any
	// Namespaces are the tenant's namespaces sorted by name.
	Namespaces []Namespace
}

// Labels returns the tenant's labels.
func (t *Tenant) Labels() map[string]string {
	return (&unstructured.Unstructured{Object: t.Object}).GetLabels()
}

// Owns reports whether a namespace belongs to the tenant.
func (t *Tenant) Owns(namespace string) bool {
	i := sort.Search(len(t.Namespaces), func(i int) bool { return t.Namespaces[i].Name >= namespace })
	return i < len(t.Namespaces) && t.Namespaces[i].Name == namespace
}

// Retain keeps the namespaces for which keep is true. Callers use it to drop
// names a tenant's status lists but another tenant's label claims.
func (t *Tenant) Retain(keep func(namespace string) bool) {
	kept := t.Namespaces[:0]
	for _, ns := range t.Namespaces {
		if keep(ns.Name) {
			kept = append(kept, ns)
		}
	}
	t.Namespaces = kept
}

// StatusNamespaces returns the namespaces a Tenant lists in status.namespaces.
func StatusNamespaces(obj *unstructured.Unstructured) []string {
	names, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "namespaces")
	return names
}

// OwnerLabel returns the tenant a namespace is labelled with ("" for none).
func OwnerLabel(ns *unstructured.Unstructured) string {
	return ns.GetLabels()[LabelTenant]
}

// New builds a Tenant from its object and the namespaces it owns (as decided by
// a Directory or by the controller's cache). Names listed in the tenant's
// status.namespaces for which no object is given are added with a minimal
// object, so that a render targets them and the missing namespace is reported
// at apply time instead of being skipped silently.
func New(obj *unstructured.Unstructured, namespaces []*unstructured.Unstructured) *Tenant {
	t := &Tenant{Name: obj.GetName(), Object: obj.Object}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		seen[ns.GetName()] = true
		t.Namespaces = append(t.Namespaces, Namespace{Name: ns.GetName(), Labels: ns.GetLabels(), Object: ns.Object})
	}
	for _, name := range StatusNamespaces(obj) {
		if !seen[name] {
			seen[name] = true
			t.Namespaces = append(t.Namespaces, synthetic(name))
		}
	}
	sort.Slice(t.Namespaces, func(i, j int) bool { return t.Namespaces[i].Name < t.Namespaces[j].Name })
	return t
}

func synthetic(name string) Namespace {
	labels := map[string]string{LabelNamespaceName: name}
	return Namespace{Name: name, Labels: labels, Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": map[string]any{LabelNamespaceName: name}},
	}}
}

// Directory maps tenants to their namespaces and namespaces to their tenant.
type Directory struct {
	tenants map[string]*Tenant
	names   []string
	owner   map[string]string
}

// NewDirectory decides ownership the way Capsule does: a namespace belongs to
// the tenant named by its capsule.clastix.io/tenant label; a namespace without
// that label belongs to the tenant whose status.namespaces lists it. The label
// wins on disagreement because Capsule's admission enforces it.
func NewDirectory(tenants, namespaces []*unstructured.Unstructured) *Directory {
	d := &Directory{tenants: map[string]*Tenant{}, owner: map[string]string{}}
	existing := map[string]*unstructured.Unstructured{}
	for _, ns := range namespaces {
		existing[ns.GetName()] = ns
		if t := OwnerLabel(ns); t != "" {
			d.owner[ns.GetName()] = t
		}
	}
	for _, t := range tenants {
		for _, name := range StatusNamespaces(t) {
			if _, ok := d.owner[name]; !ok {
				d.owner[name] = t.GetName()
			}
		}
	}
	members := map[string][]*unstructured.Unstructured{}
	for name, t := range d.owner {
		if ns, ok := existing[name]; ok {
			members[t] = append(members[t], ns)
		}
	}
	for _, obj := range tenants {
		t := New(obj, members[obj.GetName()])
		t.Retain(func(ns string) bool { return d.owner[ns] == t.Name })
		d.tenants[t.Name] = t
		d.names = append(d.names, t.Name)
	}
	sort.Strings(d.names)
	return d
}

// Tenants returns every tenant sorted by name.
func (d *Directory) Tenants() []*Tenant {
	out := make([]*Tenant, len(d.names))
	for i, n := range d.names {
		out[i] = d.tenants[n]
	}
	return out
}

// Get returns a tenant by name.
func (d *Directory) Get(name string) (*Tenant, bool) {
	t, ok := d.tenants[name]
	return t, ok
}

// Owner returns the tenant a namespace belongs to ("" for none).
func (d *Directory) Owner(namespace string) string { return d.owner[namespace] }
