package controller

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

// Crash safety (see pkg/inventory's Unrecorded): a pair records the kinds it
// is about to apply in its GlobalTenantResource's status.generatedKinds,
// once per kind; a process that starts finds by label, in those kinds, every
// object it applied before a crash without listing it in an inventory. Until
// that recovery has run for a GlobalTenantResource, none of its pairs runs:
// a pair that ran before would read an inventory that misses what recovery
// is about to add.

// recordKinds makes sure that the GlobalTenantResource's status lists the
// kinds of objs before any of them is applied. One write per new kind: at
// cold start, the first pair of a GlobalTenantResource writes once and every
// other pair finds its kinds listed.
func (c *Controller) recordKinds(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, objs []render.Object) error {
	us := make([]*unstructured.Unstructured, len(objs))
	for i := range objs {
		us[i] = objs[i].Unstructured
	}
	if len(inventory.NewKinds(c.store.kinds(gtr), us)) == 0 {
		return nil
	}
	// One writer per process at a time, so that no write of a shorter list
	// overtakes one of a longer list.
	c.kindsMu.Lock()
	defer c.kindsMu.Unlock()
	known := c.store.kinds(gtr)
	add := inventory.NewKinds(known, us)
	if len(add) == 0 {
		return nil
	}
	all := inventory.MergeKinds(known, add)
	// A merge patch replaces the list, with the union: this controller is the
	// only writer of the field, and the list only grows.
	body, err := json.Marshal(map[string]any{"status": map[string]any{"generatedKinds": all}})
	if err != nil {
		return err
	}
	if err := c.client.Status().Patch(ctx, gtr.DeepCopy(), client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("recording kinds %v in status.generatedKinds: %w", add, err)
	}
	c.store.setKinds(gtr, all)
	log.FromContext(ctx).V(1).Info("recorded generated kinds", "globaltenantresource", gtr.Name, "kinds", add)
	return nil
}

// recoverUnrecorded runs once per process and GlobalTenantResource, before
// any of its pairs: it lists every recorded kind by the GlobalTenantResource's
// label and writes what no inventory lists into the inventory of its pair
// (created if need be), as entries without uid. The pairs then keep what they
// still render and prune the rest, as for any entry; the inventories it
// writes also bring back the pairs of tenants that left while the controller
// was down. It returns the inventories as they are now.
func (c *Controller) recoverUnrecorded(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, invs map[string]*v1alpha1.TenantInventory) (map[string]*v1alpha1.TenantInventory, error) {
	live, err := inventory.Labelled(ctx, c.generated, c.mapper, gtr.Name, gtr.Status.GeneratedKinds, func(gvk schema.GroupVersionKind) error {
		if err := c.mayList(ctx, gvk); err != nil {
			return err
		}
		c.watchGenerated(gvk)
		return nil
	})
	if err != nil {
		return invs, err
	}
	found := inventory.Unrecorded(invs, live)
	if len(found) == 0 {
		return invs, nil
	}
	out := make(map[string]*v1alpha1.TenantInventory, len(invs)+len(found))
	for t, inv := range invs {
		out[t] = inv
	}
	for t, entries := range found {
		r := &pairRun{c: c, gtr: gtr, tenant: t, inv: invs[t]}
		msg := fmt.Sprintf("%d objects applied before a restart were not recorded; recovered by their labels", len(entries))
		cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonProgressing, Message: msg}
		if err := r.save(ctx, append(r.entries(), entries...), r.pending(), cond, nil); err != nil {
			return invs, fmt.Errorf("tenant %q: recording recovered objects: %w", t, err)
		}
		out[t] = r.inv
		c.store.remember(gtr, t, r.inv)
		log.FromContext(ctx).Info("recovered unrecorded objects", "globaltenantresource", gtr.Name, "tenant", t, "objects", len(entries))
	}
	return out, nil
}
