package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/brake"
	"github.com/projectcapsule/tenantgen/pkg/health"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// inventoryManager is the field manager of the controller's writes of TenantInventories.
const inventoryManager = "tenantgen"

// pairRun is one reconcile of one pair.
type pairRun struct {
	c       *Controller
	gtr     *v1alpha1.GlobalTenantResource // read-only (from the cache)
	tenant  string
	inv     *v1alpha1.TenantInventory // as last written; nil when there is none
	applier *apply.Applier
	fm      string
	rules   *health.Rules // how health is decided (the program's, or the built-in rules)
}

// reconcilePair renders one tenant, records what it will create, applies its
// objects, prunes what it no longer renders (as far as the deletion brake
// lets it) and records the outcome and the objects' health in the pair's
// TenantInventory. A failure is returned as an error after it is recorded,
// so that the workqueue's rate limiter retries it and controller-runtime's
// error metrics count it.
func (c *Controller) reconcilePair(ctx context.Context, p Pair) (res reconcile.Result, err error) {
	start := time.Now()
	defer func() {
		reconcileSeconds.WithLabelValues(p.GTR).Observe(time.Since(start).Seconds())
		c.retry.noteError(p, err)
	}()
	logger := log.FromContext(ctx).WithValues("globaltenantresource", p.GTR, "tenant", p.Tenant)

	gtr := &v1alpha1.GlobalTenantResource{}
	if err := c.client.Get(ctx, client.ObjectKey{Name: p.GTR}, gtr); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !c.store.recovered(gtr) {
		// The GlobalTenantResource's first reconcile recovers what a previous
		// process left unrecorded, then queues every pair.
		return reconcile.Result{}, nil
	}
	inv, err := c.inventoryOf(ctx, gtr, p.Tenant)
	if err != nil {
		return reconcile.Result{}, err
	}
	reader, writer, _, err := c.identity(gtr)
	if err != nil {
		return reconcile.Result{}, err
	}
	c.store.begin(gtr, p.Tenant)
	defer func() {
		if c.store.end(gtr, p.Tenant) && c.flushPending(gtr.Name) && c.store.settledNow(gtr) {
			c.flushSettled(gtr.Name)
		}
	}()
	r := &pairRun{c: c, gtr: gtr, tenant: p.Tenant, inv: inv, fm: apply.FieldManager(gtr.Name, p.Tenant),
		applier: &apply.Applier{Client: writer, Live: c.liveObject}}
	if !gtr.DeletionTimestamp.IsZero() {
		return r.finalize(ctx)
	}
	// Without the finalizer a deletion could not prune what we create: wait
	// for the GlobalTenantResource controller to add it (it queues us again).
	if gtr.Spec.Cordoned || !controllerutil.ContainsFinalizer(gtr, inventory.Finalizer) {
		return reconcile.Result{}, nil
	}
	prog, err := c.store.program(gtr)
	if err != nil {
		return reconcile.Result{}, nil // status reports the invalid spec (Stalled): retrying cannot fix it
	}
	r.rules = prog.Health()
	resync := wait.Jitter(gtr.Spec.ResyncPeriod.Duration, 0.2)
	if resync <= 0 {
		resync = wait.Jitter(time.Minute, 0.2)
	}
	if msg := c.waitingOn(ctx, gtr); msg != "" {
		r.record(ctx, v1alpha1.ReasonWaitingDependency, msg)
		return reconcile.Result{RequeueAfter: c.opts.DependencyRetry}, nil
	}
	w := &world{ctx: ctx, reader: reader, mapper: c.mapper, cache: c.cache, scopes: &c.scopes}

	// A pair the scope does not produce (the scope changed) only loses its objects.
	if (prog.Scope() == v1alpha1.ScopeNone) != (p.Tenant == "") {
		return r.leave(ctx)
	}
	var out *render.Output
	renderStart := time.Now()
	if prog.Scope() == v1alpha1.ScopeNone {
		// Select here, not from the store: the GTR reconcile may not have run yet.
		selected, serr := c.selectTenants(ctx, prog)
		if serr != nil {
			return reconcile.Result{}, serr
		}
		var tenants []*tenant.Tenant
		for _, name := range selected {
			if t, err := tenantView(ctx, c.cache, name); err == nil {
				tenants = append(tenants, t)
			}
		}
		out, err = prog.Cluster(w, tenants)
	} else {
		t, terr := tenantView(ctx, c.cache, p.Tenant)
		if apierrors.IsNotFound(terr) || (terr == nil && !prog.Selects(t)) {
			return r.leave(ctx)
		}
		if terr != nil {
			return reconcile.Result{}, terr
		}
		out, err = prog.Tenant(w, t)
	}
	renderSeconds.WithLabelValues(p.GTR).Observe(time.Since(renderStart).Seconds())
	if err != nil {
		renderTotal.WithLabelValues(p.GTR, "error").Inc()
		errorTotal.WithLabelValues(p.GTR, "render").Inc()
		logger.Info("render failed", "error", err.Error())
		// A template that ran out of its budget is a failure like any other
		// (never Progressing), with its own reason: the message names the
		// tenant and the limit it hit.
		reason := v1alpha1.ReasonRenderFailed
		if render.Limit(err) != "" {
			reason = v1alpha1.ReasonRenderBudgetExceeded
		}
		return r.failed(ctx, reason, "render failed: "+truncate(err.Error(), 1000))
	}
	renderTotal.WithLabelValues(p.GTR, "ok").Inc()
	return r.sync(ctx, out.Objects, resync)
}

// inventoryOf returns a pair's inventory: as this process last wrote it, or
// from the cache (after a restart). A same-named inventory of another pair
// is an error, never overwritten.
func (c *Controller) inventoryOf(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, tenantName string) (*v1alpha1.TenantInventory, error) {
	if inv, known := c.store.inventory(gtr, tenantName); known {
		return inv, nil
	}
	inv := &v1alpha1.TenantInventory{}
	err := c.client.Get(ctx, client.ObjectKey{Name: inventory.Name(gtr.Name, tenantName)}, inv)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !inventory.Belongs(inv, gtr.Name, tenantName) {
		return nil, fmt.Errorf("tenantinventory %q belongs to globaltenantresource %q, tenant %q: rename one of them",
			inv.Name, inv.Spec.GlobalTenantResource, inv.Spec.Tenant)
	}
	return inv, nil
}

// sync applies the rendered objects and prunes the stale ones. The
// inventory is written once, after the applies: an object applied before a
// crash and not yet listed is found again by its labels (recordKinds and
// recoverUnrecorded).
func (r *pairRun) sync(ctx context.Context, objs []render.Object, resync time.Duration) (reconcile.Result, error) {
	prev := inventory.Index(r.entries())
	desired := map[string]bool{}
	for i := range objs {
		desired[inventory.RefOf(objs[i].Unstructured).ID()] = true
	}
	if err := r.c.recordKinds(ctx, r.gtr, objs); err != nil {
		return r.failed(ctx, v1alpha1.ReasonInventoryFailed, err.Error())
	}

	applied, problems, hs := r.applyAll(ctx, objs, prev)
	var stale []v1alpha1.InventoryEntry
	for id, e := range prev {
		if !desired[id] {
			stale = append(stale, e)
		}
	}
	if len(problems) > 0 {
		// Keep what is not rendered any more: nothing is pruned after a failed apply.
		errorTotal.WithLabelValues(r.gtr.Name, "apply").Inc()
		msg := fmt.Sprintf("%d of %d objects failed: %s", len(problems), len(objs), truncate(strings.Join(problems, "; "), 1000))
		return r.failedWith(ctx, append(applied, stale...), hs, v1alpha1.ReasonApplyFailed, msg)
	}
	left, pending, pruneProblems := r.prune(ctx, stale)
	entries := append(applied, left...)
	if len(pruneProblems) > 0 {
		msg := "prune failed: " + truncate(strings.Join(pruneProblems, "; "), 1000)
		return r.failedWith(ctx, entries, hs, v1alpha1.ReasonPruneFailed, msg)
	}
	if err := r.save(ctx, entries, pending, inventory.Applied(len(applied), pending), hs); err != nil {
		return r.failed(ctx, v1alpha1.ReasonInventoryFailed, "writing the inventory: "+err.Error())
	}
	r.recordOutcome("", "")
	return reconcile.Result{RequeueAfter: resync}, nil
}

// applyAll applies a pair's objects in order and returns their entries (the
// previous entry, or one without uid, of an object that failed), the failures and the
// health of the objects applied, read from what the writes returned or from
// the watch cache (no request of its own).
func (r *pairRun) applyAll(ctx context.Context, objs []render.Object, prev map[string]v1alpha1.InventoryEntry) ([]v1alpha1.InventoryEntry, []string, *health.Summary) {
	var entries []v1alpha1.InventoryEntry
	var problems []string
	summary := &health.Summary{}
	for _, o := range objs {
		ref := inventory.RefOf(o.Unstructured)
		var before *v1alpha1.InventoryEntry
		if e, ok := prev[ref.ID()]; ok {
			before = &e
		}
		res := r.applier.Apply(ctx, apply.Request{Object: o, FieldManager: r.fm, Previous: before, Adopt: r.gtr.Spec.Settings.Adopt, Force: r.gtr.Spec.Settings.Force})
		if res.Err != nil {
			problems = append(problems, res.Err.Error())
			switch {
			case before != nil && before.Version == ref.Version:
				entries = append(entries, *before)
			case before == nil && !res.Sent:
				// Never written: nothing to record.
			default:
				// Unconfirmed (no uid): the apply may have gone through before failing.
				uid := types.UID("")
				if before != nil {
					uid = before.UID
				}
				entries = append(entries, inventory.Entry(ref, uid, before != nil && before.Adopted))
			}
			continue
		}
		entries = append(entries, inventory.Entry(ref, res.UID, res.Ownership == v1alpha1.OwnershipAdopted))
		summary.Add(o.Ref(), r.rules.Assess(res.Live))
		if res.Written {
			r.c.rememberWrite(o, res.ResourceVersion)
			applyTotal.WithLabelValues(r.gtr.Name).Inc()
		} else {
			skippedTotal.WithLabelValues(r.gtr.Name).Inc()
		}
		r.c.watchGenerated(o.GroupVersionKind())
	}
	return entries, problems, summary
}

// prune removes the stale entries the deletion brake grants: deletes what
// tenantgen created (UID precondition), releases what it adopted. It returns
// the entries still in the inventory, how many of them wait for the brake,
// and the failures.
func (r *pairRun) prune(ctx context.Context, stale []v1alpha1.InventoryEntry) (left []v1alpha1.InventoryEntry, pending int, problems []string) {
	if len(stale) == 0 {
		if _, asked := r.c.store.askDeletions(r.gtr, r.tenant, nil); asked {
			r.c.flush(r.gtr.Name) // a withdrawn request can end a hold
		}
		return nil, 0, nil
	}
	ids := make([]string, len(stale))
	for i, e := range stale {
		ids[i] = e.ID
	}
	granted := map[string]bool{}
	ok, asked := r.c.store.askDeletions(r.gtr, r.tenant, ids)
	for _, id := range ok {
		granted[id] = true
	}
	if asked {
		r.c.flushAfter(r.gtr.Name, brake.Settle) // the GlobalTenantResource decides
	}
	var done []string
	for _, e := range stale {
		if !granted[e.ID] {
			left = append(left, e)
			pending++
			continue
		}
		var err error
		if e.Adopted {
			err = r.applier.Release(ctx, e, r.fm)
		} else {
			err = r.applier.Delete(ctx, e, r.fm)
		}
		if err != nil {
			left = append(left, e)
			problems = append(problems, fmt.Sprintf("%s: %v", e.ID, err))
			continue
		}
		done = append(done, e.ID)
		pruneTotal.WithLabelValues(r.gtr.Name).Inc()
		verb := "deleted"
		if e.Adopted {
			verb = "released"
		}
		r.c.events.Eventf(r.gtr, nil, corev1.EventTypeNormal, "Pruned", "Prune", "tenant %q: %s %s", r.tenant, describe(e), verb)
	}
	r.c.store.deleted(r.gtr, r.tenant, done)
	return left, pending, problems
}

// leave prunes everything of a pair the spec no longer produces (the tenant
// was deleted or left the selector, or the scope changed) and then deletes
// its inventory.
func (r *pairRun) leave(ctx context.Context) (reconcile.Result, error) {
	if r.inv == nil {
		// Nothing left. The pair stays known as removed until the cache
		// no longer lists its inventory (see store.sweep): forgetting it now
		// would let the next run read the deleted inventory from a lagging
		// cache and ask to delete its objects a second time.
		return reconcile.Result{}, nil
	}
	left, pending, problems := r.prune(ctx, r.entries())
	switch {
	case len(problems) > 0:
		msg := "prune failed: " + truncate(strings.Join(problems, "; "), 1000)
		return r.failedWith(ctx, left, nil, v1alpha1.ReasonPruneFailed, msg)
	case len(left) > 0:
		cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonLeaving,
			Message: fmt.Sprintf("no longer selected: %d objects wait for the deletion brake", pending)}
		if err := r.save(ctx, left, pending, cond, nil); err != nil {
			return reconcile.Result{}, err
		}
		if changed, _ := r.c.store.record(r.gtr, r.tenant, outcome{inv: r.inv, leaving: true}); changed {
			r.c.flush(r.gtr.Name)
		}
		return reconcile.Result{}, nil
	}
	if err := r.deleteInventory(ctx); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, nil
}

// finalize removes a pair's objects because its GlobalTenantResource is being
// deleted: deleted or released (pruningOnDelete), or only unmarked
// (pruningOnDelete: false). The deletion brake does not apply: deleting the
// GlobalTenantResource is the approval.
func (r *pairRun) finalize(ctx context.Context) (reconcile.Result, error) {
	if r.inv == nil {
		r.c.flush(r.gtr.Name)
		return reconcile.Result{}, nil
	}
	var left []v1alpha1.InventoryEntry
	var failed []string
	for _, e := range r.entries() {
		var err error
		switch {
		case !r.gtr.Spec.PruneOnDelete():
			err = r.applier.Unmark(ctx, e)
		case e.Adopted:
			err = r.applier.Release(ctx, e, r.fm)
		default:
			err = r.applier.Delete(ctx, e, r.fm)
		}
		if err != nil {
			left = append(left, e)
			failed = append(failed, fmt.Sprintf("%s: %v", describe(e), err))
		} else if r.gtr.Spec.PruneOnDelete() {
			pruneTotal.WithLabelValues(r.gtr.Name).Inc()
		}
	}
	if len(failed) > 0 {
		msg := fmt.Sprintf("%d objects could not be removed: %s", len(failed), truncate(strings.Join(failed, "; "), 1000))
		r.c.events.Eventf(r.gtr, nil, corev1.EventTypeWarning, "FinalizeFailed", "Finalize", "tenant %q: %s", r.tenant, msg)
		cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonPruneFailed, Message: msg}
		if err := r.save(ctx, left, 0, cond, nil); err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, &pairError{reason: v1alpha1.ReasonPruneFailed, problem: msg}
	}
	if err := r.deleteInventory(ctx); err != nil {
		return reconcile.Result{}, err
	}
	r.c.flush(r.gtr.Name)
	return reconcile.Result{}, nil
}

// entries returns a copy of the pair's inventory entries.
func (r *pairRun) entries() []v1alpha1.InventoryEntry {
	if r.inv == nil {
		return nil
	}
	return append([]v1alpha1.InventoryEntry(nil), r.inv.Status.Entries...)
}

func (r *pairRun) pending() int {
	if r.inv == nil {
		return 0
	}
	return r.inv.Status.PendingDeletions
}

// condition returns the inventory's Ready condition as it is.
func (r *pairRun) condition() metav1.Condition {
	if r.inv != nil {
		if c := meta.FindStatusCondition(r.inv.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			return *c
		}
	}
	return metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonProgressing}
}

// save writes the pair's inventory when it differs from the last written one
// (a quiet resync writes nothing). The inventory is the controller's alone,
// so it is created, then replaced whole against the resourceVersion last
// written: no field ownership to merge, which halved the apiserver's time
// for the 2,000 inventory writes of a thousand converging tenants, compared
// with server-side applies. A nil health keeps the Healthy condition as it
// was (nothing was applied this time).
func (r *pairRun) save(ctx context.Context, entries []v1alpha1.InventoryEntry, pending int, cond metav1.Condition, hs *health.Summary) error {
	inv := inventory.New(r.gtr, r.tenant)
	if r.inv != nil {
		inv.Status.Conditions = append([]metav1.Condition(nil), r.inv.Status.Conditions...)
		inv.Status.Unhealthy = r.inv.Status.Unhealthy
	}
	inventory.Record(inv, entries, pending, cond, hs)
	if r.inv != nil && equality.Semantic.DeepEqual(inv.Status, r.inv.Status) &&
		controllerutil.ContainsFinalizer(r.inv, inventory.Finalizer) && len(r.inv.OwnerReferences) == 1 && r.inv.OwnerReferences[0].UID == r.gtr.UID {
		return nil
	}
	if err := r.write(ctx, inv); err != nil {
		return err
	}
	inv.ManagedFields = nil // kept in memory for every pair; nothing reads them
	r.inv = inv
	inventoryWrites.WithLabelValues(r.gtr.Name).Inc()
	return nil
}

// write creates the inventory or replaces the one last written. Labels and
// annotations that others added to it are kept. A replace that finds the
// inventory changed since (someone labelled it) reads it again from the
// apiserver and retries once. A create that finds one fails: the pair's
// retry reads its entries instead of overwriting them.
func (r *pairRun) write(ctx context.Context, inv *v1alpha1.TenantInventory) error {
	owner := client.FieldOwner(inventoryManager)
	if r.inv == nil {
		return r.c.client.Create(ctx, inv, owner)
	}
	for attempt := 0; ; attempt++ {
		inv.ResourceVersion = r.inv.ResourceVersion
		inv.Labels = keepForeign(r.inv.Labels, inv.Labels)
		inv.Annotations = keepForeign(r.inv.Annotations, inv.Annotations)
		err := r.c.client.Update(ctx, inv, owner)
		if !apierrors.IsConflict(err) || attempt > 0 {
			return err
		}
		fresh := &v1alpha1.TenantInventory{}
		if err := r.c.api.Get(ctx, client.ObjectKeyFromObject(inv), fresh); err != nil {
			return err
		}
		r.inv = fresh
	}
}

// keepForeign returns ours plus the keys of theirs that ours does not set.
func keepForeign(theirs, ours map[string]string) map[string]string {
	for k, v := range theirs {
		if _, set := ours[k]; !set {
			if ours == nil {
				ours = map[string]string{}
			}
			ours[k] = v
		}
	}
	return ours
}

// deleteInventory drops the finalizer and deletes a pair's (now empty)
// inventory.
func (r *pairRun) deleteInventory(ctx context.Context) error {
	inv := r.inv
	if controllerutil.ContainsFinalizer(inv, inventory.Finalizer) {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		if err := r.c.client.Patch(ctx, inv.DeepCopy(), patch); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	uid := inv.UID
	if err := r.c.client.Delete(ctx, inv.DeepCopy(), client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	r.inv = nil
	r.c.store.forget(r.gtr, r.tenant)
	r.c.store.record(r.gtr, r.tenant, outcome{})
	r.c.flush(r.gtr.Name)
	return nil
}

// record writes a pair's state without touching its entries. The inventory
// is created if need be, so that `kubectl get tinv` shows every tenant.
func (r *pairRun) record(ctx context.Context, reason, problem string) {
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: truncate(problem, 2000)}
	if err := r.save(ctx, r.entries(), r.pending(), cond, nil); err != nil {
		problem += "; writing the inventory: " + err.Error()
	}
	r.recordOutcome(reason, problem)
}

// recordOutcome stores the pair's outcome and asks for a status write when
// the GlobalTenantResource's summary changes. It reports whether the
// problem is new.
func (r *pairRun) recordOutcome(reason, problem string) (newProblem bool) {
	changed, fresh := r.c.store.record(r.gtr, r.tenant, outcome{inv: r.inv, reason: reason, problem: problem})
	if changed {
		r.c.flush(r.gtr.Name)
	}
	return fresh
}

// failed records a failed pair with its entries and health as they are.
func (r *pairRun) failed(ctx context.Context, reason, problem string) (reconcile.Result, error) {
	return r.failedWith(ctx, r.entries(), nil, reason, problem)
}

// failedWith records a failed pair with the given entries, emits an Event
// only when the problem is new (Events are writes: a tenant failing the same
// way must not write on every retry) and returns the problem as the error
// the workqueue retries with its backoff (see pairRetry).
func (r *pairRun) failedWith(ctx context.Context, entries []v1alpha1.InventoryEntry, hs *health.Summary, reason, problem string) (reconcile.Result, error) {
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: truncate(problem, 2000)}
	if err := r.save(ctx, entries, r.pending(), cond, hs); err != nil {
		problem += "; writing the inventory: " + err.Error()
	}
	if r.recordOutcome(reason, problem) {
		r.c.events.Eventf(r.gtr, nil, corev1.EventTypeWarning, reason, "Reconcile", "tenant %q: %s", r.tenant, problem)
	}
	return reconcile.Result{}, &pairError{reason: reason, problem: problem}
}

// pairError is a recorded pair failure, returned to the workqueue.
type pairError struct{ reason, problem string }

func (e *pairError) Error() string { return e.reason + ": " + e.problem }

// describe names an entry's object for messages.
func describe(e v1alpha1.InventoryEntry) string {
	if ref, err := inventory.Parse(e); err == nil {
		return ref.String()
	}
	return e.ID
}
