// Package inventory is the record of what tenantgen manages: one
// TenantInventory object per (GlobalTenantResource, tenant) pair, holding
// compact entries (id, version, uid) and the pair's state.
//
// The model keeps every object tenantgen writes small whatever the number of
// tenants: a GlobalTenantResource keeps only counts, and one inventory holds at
// most spec.limits.maxObjectsPerTenant entries (≤ 1,000, 100 to 180 bytes each).
// An inventory is written once per reconcile, after the applies. A crash
// between an apply and that write leaves no orphan: the object carries its
// pair's labels and its kind was recorded in the GlobalTenantResource's
// status.generatedKinds before it was applied, so the next process finds it
// (see Unrecorded).
package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/health"
)

// Finalizer keeps a TenantInventory (and a GlobalTenantResource) until the
// objects it lists are pruned or released: without it a cascading delete
// would drop the record of what to prune.
const Finalizer = v1alpha1.Group + "/finalizer"

// Name is the name of the inventory of a pair: <gtr>.<tenant>, or <gtr> in
// scope None. Names too long for an object name keep a readable prefix and
// end in a hash of the pair.
func Name(gtr, tenant string) string {
	n := gtr
	if tenant != "" {
		n = gtr + "." + tenant
	}
	if len(n) <= validation.DNS1123SubdomainMaxLength {
		return n
	}
	sum := sha256.Sum256([]byte(gtr + "\x00" + tenant))
	return n[:validation.DNS1123SubdomainMaxLength-17] + "-" + hex.EncodeToString(sum[:8])
}

// Ref names one object.
type Ref struct {
	schema.GroupVersionKind
	Namespace string
	Name      string
}

// ID is the entry id of an object: <namespace>_<name>_<group>_<kind>, the
// version left out so that an apiVersion change keeps the entry. Namespaces,
// names and groups cannot hold '_', so the id parses back unambiguously.
func ID(gk schema.GroupKind, namespace, name string) string {
	return namespace + "_" + name + "_" + gk.Group + "_" + gk.Kind
}

// RefOf is the Ref of a live or rendered object.
func RefOf(o *unstructured.Unstructured) Ref {
	return Ref{GroupVersionKind: o.GroupVersionKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// ID is the entry id of the object.
func (r Ref) ID() string { return ID(r.GroupKind(), r.Namespace, r.Name) }

func (r Ref) String() string {
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// Object is an empty object of the Ref's kind and name, for deletes and patches.
func (r Ref) Object() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.GroupVersionKind)
	u.SetNamespace(r.Namespace)
	u.SetName(r.Name)
	return u
}

// Parse returns the object an entry names.
func Parse(e v1alpha1.InventoryEntry) (Ref, error) {
	parts := strings.SplitN(e.ID, "_", 4)
	if len(parts) != 4 || parts[1] == "" || parts[3] == "" || e.Version == "" {
		return Ref{}, fmt.Errorf("malformed inventory entry %q (version %q)", e.ID, e.Version)
	}
	return Ref{
		GroupVersionKind: schema.GroupVersionKind{Group: parts[2], Version: e.Version, Kind: parts[3]},
		Namespace:        parts[0], Name: parts[1],
	}, nil
}

// Entry is the inventory entry of an object.
func Entry(r Ref, uid types.UID, adopted bool) v1alpha1.InventoryEntry {
	return v1alpha1.InventoryEntry{ID: r.ID(), Version: r.Version, UID: uid, Adopted: adopted}
}

// Sort orders entries by id, so that an unchanged inventory compares equal.
func Sort(entries []v1alpha1.InventoryEntry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
}

// Index maps entries by id.
func Index(entries []v1alpha1.InventoryEntry) map[string]v1alpha1.InventoryEntry {
	m := make(map[string]v1alpha1.InventoryEntry, len(entries))
	for _, e := range entries {
		m[e.ID] = e
	}
	return m
}

// New is an empty inventory for a pair, owned by its GlobalTenantResource and
// guarded by the finalizer. Its labels are those of the objects it lists, so
// `kubectl get tinv -l addons.projectcapsule.dev/globaltenantresource=NAME`
// lists a GlobalTenantResource's tenants.
func New(gtr *v1alpha1.GlobalTenantResource, tenant string) *v1alpha1.TenantInventory {
	inv := &v1alpha1.TenantInventory{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "TenantInventory"},
		ObjectMeta: metav1.ObjectMeta{
			Name:       Name(gtr.Name, tenant),
			Labels:     Labels(gtr.Name, tenant),
			Finalizers: []string{Finalizer},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "GlobalTenantResource",
				Name: gtr.Name, UID: gtr.UID, Controller: new(true),
			}},
		},
		Spec: v1alpha1.TenantInventorySpec{GlobalTenantResource: gtr.Name, Tenant: tenant},
	}
	return inv
}

// Record sets an inventory's status from one run of its pair: the entries
// (sorted here, so that an unchanged run compares equal), how many of them
// wait for the deletion brake, the Ready condition and the health of the
// objects applied. A nil health keeps the one already in the status, or says
// Unknown when there is none: a run that applied nothing learnt nothing new.
// The controller and the bench's inventory floor build inventories with it, so
// the floor writes what the controller writes.
func Record(inv *v1alpha1.TenantInventory, entries []v1alpha1.InventoryEntry, pending int, ready metav1.Condition, hs *health.Summary) {
	Sort(entries)
	ready.Type = v1alpha1.ConditionReady
	ready.ObservedGeneration = 0
	meta.SetStatusCondition(&inv.Status.Conditions, ready)
	switch {
	case hs != nil:
		meta.SetStatusCondition(&inv.Status.Conditions, hs.Condition())
		inv.Status.Unhealthy = hs.Unhealthy()
	case meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionHealthy) == nil:
		meta.SetStatusCondition(&inv.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionHealthy,
			Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonNotApplied, Message: "nothing applied yet"})
	}
	inv.Status.Entries = entries
	inv.Status.Size = len(entries)
	inv.Status.PendingDeletions = pending
}

// Applied is the Ready condition of a run whose applies and prunes all went
// through; pending are the objects no longer rendered that wait for the brake.
func Applied(applied, pending int) metav1.Condition {
	msg := fmt.Sprintf("%d objects applied", applied)
	if pending > 0 {
		msg += fmt.Sprintf("; %d no longer rendered wait for the deletion brake", pending)
	}
	return metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled, Message: msg}
}

// Labels are the ownership labels of a pair's objects and of its inventory.
// Label values cannot be empty-and-meaningful, so scope None has no tenant label.
func Labels(gtr, tenant string) map[string]string {
	l := map[string]string{v1alpha1.LabelGlobalTenantResource: gtr}
	if tenant != "" {
		l[v1alpha1.LabelTenant] = tenant
	}
	return l
}

// Selector is the label selector of a GlobalTenantResource's inventories.
func Selector(gtr string) string {
	return v1alpha1.LabelGlobalTenantResource + "=" + gtr
}

// Belongs reports whether an inventory is the one of the pair, not one whose
// name collides with it (a GlobalTenantResource "a.b" with tenant "c" and
// "a" with tenant "b.c").
func Belongs(inv *v1alpha1.TenantInventory, gtr, tenant string) bool {
	return inv.Spec.GlobalTenantResource == gtr && inv.Spec.Tenant == tenant
}
