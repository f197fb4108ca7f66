package inventory

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Crash safety costs one write per GlobalTenantResource and kind, not one per
// tenant: before a pair applies an object of a kind the GlobalTenantResource's
// status.generatedKinds does not list yet, the controller records the kind
// there. Every object it applies carries its pair's labels. A process that
// starts lists the recorded kinds by label and adds every object no inventory
// lists to its pair's inventory as an entry without uid, which the pair then
// keeps (still rendered) or prunes (not rendered) like any other entry.
// This is the ApplySet pattern of KEP-3659: the parent records the
// group-kinds, the members carry a label.

// NewKinds returns the kinds (Kind.group, as schema.GroupKind prints them)
// of objs that known does not list, sorted, without duplicates.
func NewKinds(known []string, objs []*unstructured.Unstructured) []string {
	have := make(map[string]bool, len(known))
	for _, k := range known {
		have[k] = true
	}
	var out []string
	for _, o := range objs {
		k := o.GroupVersionKind().GroupKind().String()
		if !have[k] {
			have[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// MergeKinds returns the sorted union of two kind lists.
func MergeKinds(a, b []string) []string {
	set := make(map[string]bool, len(a)+len(b))
	for _, k := range append(append([]string(nil), a...), b...) {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseKind is the inverse of schema.GroupKind.String for a recorded kind.
func ParseKind(k string) schema.GroupKind {
	return schema.ParseGroupKind(k)
}

// Unrecorded returns, by tenant ("" in scope None), an entry without uid for
// every live object carrying the GlobalTenantResource's label that the
// tenant's inventory does not list. Objects being deleted are left out: they
// are on their way out already.
func Unrecorded(invs map[string]*v1alpha1.TenantInventory, live []*unstructured.Unstructured) map[string][]v1alpha1.InventoryEntry {
	out := map[string][]v1alpha1.InventoryEntry{}
	listed := map[string]map[string]bool{}
	for t, inv := range invs {
		m := make(map[string]bool, len(inv.Status.Entries))
		for _, e := range inv.Status.Entries {
			m[e.ID] = true
		}
		listed[t] = m
	}
	for _, o := range live {
		if o.GetDeletionTimestamp() != nil {
			continue
		}
		t := o.GetLabels()[v1alpha1.LabelTenant]
		ref := RefOf(o)
		if listed[t][ref.ID()] {
			continue
		}
		if listed[t] == nil {
			listed[t] = map[string]bool{}
		}
		listed[t][ref.ID()] = true
		out[t] = append(out[t], Entry(ref, "", false))
	}
	for t := range out {
		Sort(out[t])
	}
	return out
}

// Labelled lists, from r, the objects of the recorded kinds that carry the
// GlobalTenantResource's label: what Unrecorded looks through. A kind no
// longer served is skipped (none of its objects can exist). prepare, when
// set, runs for each served kind before it is listed (the controller checks
// its permission and starts the kind's watch there).
func Labelled(ctx context.Context, r client.Reader, mapper meta.RESTMapper, gtr string, kinds []string,
	prepare func(schema.GroupVersionKind) error) ([]*unstructured.Unstructured, error) {
	var live []*unstructured.Unstructured
	for _, k := range kinds {
		m, err := mapper.RESTMapping(ParseKind(k))
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		gvk := m.GroupVersionKind
		if prepare != nil {
			if err := prepare(gvk); err != nil {
				return nil, err
			}
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr}); err != nil {
			return nil, fmt.Errorf("listing the %s objects of globaltenantresource %q: %w", k, gtr, err)
		}
		for i := range list.Items {
			live = append(live, &list.Items[i])
		}
	}
	return live, nil
}
