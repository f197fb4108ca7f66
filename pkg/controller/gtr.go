package controller

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/brake"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// reconcileGTR keeps one GlobalTenantResource's pairs queued, decides on its
// pending deletions, runs its finalizer and writes its summary status.
func (c *Controller) reconcileGTR(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	gtr := &v1alpha1.GlobalTenantResource{}
	if err := c.client.Get(ctx, req.NamespacedName, gtr); err != nil {
		if apierrors.IsNotFound(err) {
			c.drop(req.Name)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	defer func() { c.reconciledGTR(gtr.Name, time.Since(start)) }()
	c.serving(gtr.Name)
	invs, err := c.inventories(ctx, gtr)
	if err != nil {
		return reconcile.Result{}, err
	}
	c.store.sweep(gtr, invs)
	if !c.store.recovered(gtr) {
		c.store.setKinds(gtr, gtr.Status.GeneratedKinds)
		if invs, err = c.recoverUnrecorded(ctx, gtr, invs); err != nil {
			return reconcile.Result{}, err
		}
		c.store.setRecovered(gtr)
	}
	if !gtr.DeletionTimestamp.IsZero() {
		return c.finalize(ctx, gtr, invs)
	}
	if !controllerutil.ContainsFinalizer(gtr, inventory.Finalizer) {
		patch := client.MergeFrom(gtr.DeepCopy())
		controllerutil.AddFinalizer(gtr, inventory.Finalizer)
		if err := c.client.Patch(ctx, gtr, patch); err != nil {
			return reconcile.Result{}, err
		}
	}
	prog, compileErr := c.store.program(gtr)
	var selected []string
	var res reconcile.Result
	var held heldDeletions
	if compileErr == nil {
		if selected, err = c.selectTenants(ctx, prog); err != nil {
			return reconcile.Result{}, err
		}
		c.store.setSelected(gtr, selected)
		if !gtr.Spec.Cordoned {
			c.queuePairs(ctx, gtr, prog, selected, invs)
			if res, held, err = c.decideDeletions(ctx, gtr, selected, invs); err != nil {
				return reconcile.Result{}, err
			}
		}
	}
	_, _, identity, _ := c.identity(gtr)
	return res, c.writeStatus(ctx, gtr, selected, invs, compileErr, held, identity)
}

// inventories lists a GlobalTenantResource's inventories from the cache, by tenant.
func (c *Controller) inventories(ctx context.Context, gtr *v1alpha1.GlobalTenantResource) (map[string]*v1alpha1.TenantInventory, error) {
	list := &v1alpha1.TenantInventoryList{}
	if err := c.client.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := make(map[string]*v1alpha1.TenantInventory, len(list.Items))
	for i := range list.Items {
		inv := &list.Items[i]
		if inv.Spec.GlobalTenantResource == gtr.Name {
			out[inv.Spec.Tenant] = inv
		}
	}
	return out, nil
}

// selectTenants returns the names of the tenants the program selects, sorted.
func (c *Controller) selectTenants(ctx context.Context, prog *render.Program) ([]string, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(tenant.GVK.GroupVersion().WithKind("TenantList"))
	// The informer cache: the manager's client reads unstructured objects from
	// the API, which at 10,000 tenants made every status flush a 9 s LIST.
	if err := c.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var out []string
	for i := range list.Items {
		t := &tenant.Tenant{Name: list.Items[i].GetName(), Object: list.Items[i].Object}
		if prog.Selects(t) {
			out = append(out, t.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// wantedPairs are the tenants of the pairs the scope produces: "" for the
// cluster in scope None, else the selected tenants.
func wantedPairs(gtr *v1alpha1.GlobalTenantResource, selected []string) []string {
	if gtr.Spec.ScopeOrDefault() == v1alpha1.ScopeNone {
		return []string{""}
	}
	return selected
}

// queuePairs queues what needs work: every pair when the spec or the
// requestedAt annotation changed (or on first sight), else only selected
// tenants this process has not reconciled yet, and pairs with an inventory
// that the spec no longer produces (a tenant left the selector, was deleted
// while the controller was down, or the scope changed), to be pruned.
func (c *Controller) queuePairs(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, prog *render.Program, selected []string, invs map[string]*v1alpha1.TenantInventory) {
	var kinds []schema.GroupVersionKind
	for _, ref := range prog.References() {
		kinds = append(kinds, schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind))
	}
	c.watchContext(ctx, kinds)
	all, known, held := c.store.trigger(gtr)
	want := map[string]bool{}
	for _, t := range wantedPairs(gtr, selected) {
		want[t] = true
		if all || !known[t] {
			c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
		}
	}
	for t := range invs {
		if !want[t] && !held[t] {
			c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
		}
	}
	for t := range known {
		if !want[t] && invs[t] == nil && !held[t] {
			c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
		}
	}
}

// heldDeletions is what the deletion brake holds, for the status.
type heldDeletions struct {
	pending, blocked, limit int
}

// decideDeletions lets the deletion brake decide on the pending deletions of
// all pairs at once, releases the pairs it grants, and handles the approval
// annotation.
func (c *Controller) decideDeletions(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, selected []string, invs map[string]*v1alpha1.TenantInventory) (reconcile.Result, heldDeletions, error) {
	sum := c.store.summary(gtr)
	total := managed(invs, sum)
	// Settled: every pair the scope produces was reconciled for this spec, so
	// the deletions of one change are all known before any is granted.
	settled := c.store.settled(gtr, wantedPairs(gtr, selected))
	approved := gtr.Annotations[v1alpha1.AnnotationApproveDeletions] == "true"
	limit := brake.Limit(gtr.Spec.Limits.MaxDeletions, total)
	d, pending := c.store.decideDeletions(gtr, limit, settled, approved)
	for _, t := range d.Release {
		c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
	}
	if d.NewlyBlocked {
		c.events.Eventf(gtr, nil, corev1.EventTypeWarning, v1alpha1.ReasonDeletionsBlocked, "Prune", "%s", blockedMessage(gtr.Name, d.Blocked, limit))
	}
	if approved {
		c.events.Eventf(gtr, nil, corev1.EventTypeNormal, "DeletionsApproved", "Prune", "%d pending deletions approved by annotation %s", len(d.Release), v1alpha1.AnnotationApproveDeletions)
		patch := client.MergeFrom(gtr.DeepCopy())
		delete(gtr.Annotations, v1alpha1.AnnotationApproveDeletions)
		if err := c.client.Patch(ctx, gtr, patch); err != nil {
			return reconcile.Result{}, heldDeletions{}, err
		}
	}
	deletionsBlocked.WithLabelValues(gtr.Name).Set(float64(d.Blocked))
	return reconcile.Result{RequeueAfter: d.Wait}, heldDeletions{pending: pending, blocked: d.Blocked, limit: limit}, nil
}

// managed is the number of objects in a GlobalTenantResource's inventories:
// as this process last wrote them, else as the cache has them.
func managed(invs map[string]*v1alpha1.TenantInventory, sum map[string]pairSummary) int {
	n := 0
	for t, inv := range invs {
		if _, ok := sum[t]; !ok {
			n += len(inv.Status.Entries)
		}
	}
	for _, p := range sum {
		n += p.size
	}
	return n
}

func blockedMessage(gtr string, n, limit int) string {
	return fmt.Sprintf("%d deletions are held: more than spec.limits.maxDeletions allows at once (%d); release them with `%s`",
		n, limit, brake.ApproveCommand(gtr))
}

// writeStatus sums up the pairs; it writes only when something changed, so a
// quiet resync sends no write. The merge patch carries no resourceVersion:
// this controller is the only writer of the status, so it cannot conflict.
func (c *Controller) writeStatus(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, selected []string, invs map[string]*v1alpha1.TenantInventory, compileErr error, held heldDeletions, identity string) error {
	t := tallyPairs(gtr, wantedPairs(gtr, selected), c.store.summary(gtr), invs)
	status := gtr.Status.DeepCopy()
	status.ObservedGeneration = gtr.Generation
	status.TenantCount = len(selected)
	status.ServiceAccount = identity
	// The union with what the status already lists: a pair's recordKinds
	// has its write in the cache a moment before it is in the store, and
	// the list never shrinks (a summary written in that moment dropped it).
	status.GeneratedKinds = c.store.kinds(gtr)
	if len(gtr.Status.GeneratedKinds) > 0 {
		status.GeneratedKinds = inventory.MergeKinds(status.GeneratedKinds, gtr.Status.GeneratedKinds)
	}
	status.InventorySelector = inventory.Selector(gtr.Name)
	status.PendingDeletions = held.pending
	status.Size = t.managed
	status.ReadyTenants = t.ready
	status.FailedTenants = len(t.failing)
	status.UnhealthyTenants = t.unhealthyTenants
	status.UnhealthyObjects = t.unhealthyObjects
	status.Failing = t.failing
	if len(status.Failing) > maxListed {
		status.Failing = status.Failing[:maxListed]
	}
	setConditions(&status.Conditions, conditions(gtr, t, compileErr, held))
	observe(gtr.Name, len(selected), t, status, invs)
	if equality.Semantic.DeepEqual(status, &gtr.Status) {
		return nil
	}
	patch := client.MergeFrom(gtr.DeepCopy())
	gtr.Status = *status
	c.statusWritten(gtr.Name)
	return client.IgnoreNotFound(c.client.Status().Patch(ctx, gtr, patch))
}

// finalize has every pair with an inventory prune (or release) its objects
// and delete its inventory, then lets the GlobalTenantResource go. The pairs
// do the work, in parallel; their inventories' deletions bring us back here.
func (c *Controller) finalize(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, invs map[string]*v1alpha1.TenantInventory) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(gtr, inventory.Finalizer) {
		return reconcile.Result{}, nil
	}
	if c.store.busy(gtr) {
		return reconcile.Result{RequeueAfter: statusDelay}, nil
	}
	left := 0
	for t := range invs {
		if inv, known := c.store.inventory(gtr, t); known && inv == nil {
			continue // deleted; the cache has not seen it yet
		}
		left++
		c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
	}
	if left > 0 {
		return reconcile.Result{}, nil
	}
	verb := "pruned"
	if !gtr.Spec.PruneOnDelete() {
		verb = "released (pruningOnDelete is false)"
	}
	c.events.Eventf(gtr, nil, corev1.EventTypeNormal, "Finalized", "Finalize", "every tenant's objects %s", verb)
	patch := client.MergeFrom(gtr.DeepCopy())
	controllerutil.RemoveFinalizer(gtr, inventory.Finalizer)
	if err := c.client.Patch(ctx, gtr, patch); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	c.drop(gtr.Name)
	return reconcile.Result{}, nil
}

// drop forgets a GlobalTenantResource that is gone: its state, its metric
// series (no alert fires for it) and its status schedule.
func (c *Controller) drop(name string) {
	c.store.drop(name)
	forgetMetrics(name)
	c.mu.Lock()
	delete(c.lastStatus, name)
	delete(c.gtrCost, name)
	delete(c.flushing, name)
	c.mu.Unlock()
}

// waitingOn returns why a GlobalTenantResource must wait for its dependsOn, "" when it need not.
func (c *Controller) waitingOn(ctx context.Context, gtr *v1alpha1.GlobalTenantResource) string {
	for _, d := range gtr.Spec.DependsOn {
		dep := &v1alpha1.GlobalTenantResource{}
		if err := c.client.Get(ctx, client.ObjectKey{Name: d.Name}, dep); err != nil {
			return fmt.Sprintf("waiting for globaltenantresource %q: %v", d.Name, err)
		}
		if !isReady(dep) {
			return fmt.Sprintf("waiting for globaltenantresource %q to be Ready", d.Name)
		}
	}
	return ""
}

// isReady reports whether a GlobalTenantResource is Ready for its current generation.
func isReady(g *v1alpha1.GlobalTenantResource) bool {
	cond := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ConditionReady)
	return cond != nil && cond.Status == metav1.ConditionTrue && g.Status.ObservedGeneration == g.Generation
}
