package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// reconcileGTR keeps one GlobalTenantResource's tenants queued and its status written.
func (c *Controller) reconcileGTR(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	gtr := &v1alpha1.GlobalTenantResource{}
	if err := c.client.Get(ctx, req.NamespacedName, gtr); err != nil {
		if apierrors.IsNotFound(err) {
			c.store.drop(req.Name)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if !gtr.DeletionTimestamp.IsZero() {
		return c.finalize(ctx, gtr)
	}
	if !controllerutil.ContainsFinalizer(gtr, Finalizer) {
		patch := client.MergeFrom(gtr.DeepCopy())
		controllerutil.AddFinalizer(gtr, Finalizer)
		if err := c.client.Patch(ctx, gtr, patch); err != nil {
			return reconcile.Result{}, err
		}
	}
	prog, compileErr := c.store.program(gtr)
	selected := gtr.Status.SelectedTenants
	if compileErr == nil {
		var err error
		if selected, err = c.selectTenants(ctx, prog); err != nil {
			return reconcile.Result{}, err
		}
		if !gtr.Spec.Cordoned {
			c.queuePairs(ctx, gtr, prog, selected)
		}
	}
	_, _, identity, _ := c.identity(gtr)
	return c.writeStatus(ctx, gtr, selected, compileErr, identity)
}

// selectTenants returns the names of the tenants the program selects, sorted.
func (c *Controller) selectTenants(ctx context.Context, prog *render.Program) ([]string, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(tenant.GVK.GroupVersion().WithKind("TenantList"))
	if err := c.client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
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

// queuePairs queues what needs work: every pair when the spec or the
// requestedAt annotation changed (or on first sight), else only selected
// tenants without a result yet and tenants to prune because they left.
func (c *Controller) queuePairs(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, prog *render.Program, selected []string) {
	var kinds []schema.GroupVersionKind
	for _, ref := range prog.References() {
		kinds = append(kinds, schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind))
	}
	c.watchContext(ctx, kinds)
	all, known := c.store.trigger(gtr)
	// The pairs the scope produces: one for the cluster, or one per selected tenant.
	want := map[string]bool{}
	if prog.Scope() == v1alpha1.ScopeNone {
		want[""] = true
	} else {
		for _, t := range selected {
			want[t] = true
		}
	}
	for t := range want {
		if all || !known[t] {
			c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
		}
	}
	// Pairs with objects that the spec no longer produces (a tenant left the
	// selector, the scope changed) are queued to be pruned.
	leaving := map[string]bool{}
	for t := range known {
		leaving[t] = true
	}
	for _, it := range gtr.Status.ProcessedItems {
		leaving[it.Tenant] = true
	}
	for t := range leaving {
		if !want[t] {
			c.enqueue(Pair{GTR: gtr.Name, Tenant: t})
		}
	}
}

// writeStatus sums up the pair results; it writes only when something changed,
// so a quiet resync sends no write.
func (c *Controller) writeStatus(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, selected []string, compileErr error, identity string) (reconcile.Result, error) {
	results := c.store.snapshot(gtr.Name)
	status := gtr.Status.DeepCopy()
	status.ObservedGeneration = gtr.Generation
	status.SelectedTenants = selected
	status.TenantCount = len(selected)
	status.ServiceAccount = identity
	var items []v1alpha1.ProcessedItem
	for _, it := range gtr.Status.ProcessedItems {
		if _, ok := results[it.Tenant]; !ok {
			items = append(items, it)
		}
	}
	for _, r := range results {
		if !r.removed {
			items = append(items, r.items...)
		}
	}
	sortItems(items)
	status.ProcessedItems = items
	status.Size = len(items)

	cordoned := metav1.Condition{Type: v1alpha1.ConditionCordoned, Status: metav1.ConditionFalse, Reason: "Active", ObservedGeneration: gtr.Generation}
	if gtr.Spec.Cordoned {
		cordoned.Status, cordoned.Reason, cordoned.Message = metav1.ConditionTrue, "Cordoned", "spec.cordoned is true: nothing is applied or pruned"
	}
	meta.SetStatusCondition(&status.Conditions, cordoned)
	meta.SetStatusCondition(&status.Conditions, readyCondition(gtr, selected, results, compileErr))

	if equality.Semantic.DeepEqual(status, &gtr.Status) {
		return reconcile.Result{}, nil
	}
	gtr.Status = *status
	if err := c.client.Status().Update(ctx, gtr); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, err
	}
	c.store.forgetRemoved(gtr.Name, results)
	return reconcile.Result{}, nil
}

// maxListed bounds how many failing tenants the Ready message names.
const maxListed = 5

func readyCondition(gtr *v1alpha1.GlobalTenantResource, selected []string, results map[string]tenantResult, compileErr error) metav1.Condition {
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: gtr.Generation, Status: metav1.ConditionFalse}
	if compileErr != nil {
		cond.Reason, cond.Message = "InvalidSpec", truncate(compileErr.Error(), 2000)
		return cond
	}
	if gtr.Spec.Cordoned {
		cond.Reason, cond.Message = "Cordoned", "reconciliation is paused"
		return cond
	}
	pairs := selected
	if gtr.Spec.ScopeOrDefault() == v1alpha1.ScopeNone {
		pairs = []string{""}
	}
	var failed []string
	pending := 0
	for _, t := range pairs {
		r, ok := results[t]
		switch {
		case !ok:
			pending++
		case r.problem != "":
			name := t
			if name == "" {
				name = "(cluster)"
			}
			failed = append(failed, fmt.Sprintf("%s: %s", name, r.problem))
		}
	}
	switch {
	case len(failed) > 0:
		shown := failed
		if len(shown) > maxListed {
			shown = shown[:maxListed]
		}
		cond.Reason = "TenantsFailed"
		cond.Message = truncate(fmt.Sprintf("%d of %d tenants failed; %s", len(failed), len(pairs), strings.Join(shown, "; ")), 4000)
	case pending > 0:
		cond.Reason, cond.Message = "Progressing", fmt.Sprintf("%d of %d tenants reconciled", len(pairs)-pending, len(pairs))
	default:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "Reconciled", fmt.Sprintf("%d tenants reconciled", len(pairs))
	}
	return cond
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// finalize prunes (or releases) everything in the inventory before the
// GlobalTenantResource goes away.
func (c *Controller) finalize(ctx context.Context, gtr *v1alpha1.GlobalTenantResource) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(gtr, Finalizer) {
		return reconcile.Result{}, nil
	}
	_, writer, _, err := c.identity(gtr)
	if err != nil {
		return reconcile.Result{}, err
	}
	applier := &apply.Applier{Client: writer, Live: c.liveObject}
	items := gtr.Status.ProcessedItems
	for t, r := range c.store.snapshot(gtr.Name) {
		items = append(without(items, t), r.items...)
	}
	var failed []string
	for _, it := range items {
		if it.UID == "" {
			continue
		}
		var err error
		switch {
		case !gtr.Spec.PruneOnDelete():
			err = applier.Unmark(ctx, it)
		case it.Ownership == v1alpha1.OwnershipCreated:
			err = applier.Delete(ctx, it)
		default:
			err = applier.Release(ctx, it, apply.FieldManager(gtr.Name, it.Tenant))
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s/%s: %v", it.Kind, it.Namespace, it.Name, err))
		} else if gtr.Spec.PruneOnDelete() {
			pruneTotal.WithLabelValues(gtr.Name).Inc()
		}
	}
	if len(failed) > 0 {
		c.events.Eventf(gtr, nil, corev1.EventTypeWarning, "FinalizeFailed", "Finalize", "%d objects could not be removed: %s", len(failed), truncate(strings.Join(failed, "; "), 1000))
		return reconcile.Result{RequeueAfter: 10 * time.Second}, nil
	}
	verb := "pruned"
	if !gtr.Spec.PruneOnDelete() {
		verb = "released (pruningOnDelete is false)"
	}
	c.events.Eventf(gtr, nil, corev1.EventTypeNormal, "Finalized", "Finalize", "%d objects %s", len(items), verb)
	patch := client.MergeFrom(gtr.DeepCopy())
	controllerutil.RemoveFinalizer(gtr, Finalizer)
	if err := c.client.Patch(ctx, gtr, patch); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	c.store.drop(gtr.Name)
	return reconcile.Result{}, nil
}

func without(items []v1alpha1.ProcessedItem, tenantName string) []v1alpha1.ProcessedItem {
	var out []v1alpha1.ProcessedItem
	for _, it := range items {
		if it.Tenant != tenantName {
			out = append(out, it)
		}
	}
	return out
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

// reconcilePair renders one tenant, applies its objects and prunes what it no
// longer renders.
func (c *Controller) reconcilePair(ctx context.Context, p Pair) (res reconcile.Result, err error) {
	start := time.Now()
	defer func() { reconcileSeconds.WithLabelValues(p.GTR).Observe(time.Since(start).Seconds()) }()
	logger := log.FromContext(ctx).WithValues("globaltenantresource", p.GTR, "tenant", p.Tenant)

	// Read-only here: status can hold thousands of items, not worth a copy per pair.
	gtr := &v1alpha1.GlobalTenantResource{}
	if err := c.client.Get(ctx, client.ObjectKey{Name: p.GTR}, gtr, client.UnsafeDisableDeepCopy); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	// Without the finalizer a deletion could not prune what we create: wait
	// for the GlobalTenantResource controller to add it (it queues us again).
	if !gtr.DeletionTimestamp.IsZero() || gtr.Spec.Cordoned || !controllerutil.ContainsFinalizer(gtr, Finalizer) {
		return reconcile.Result{}, nil
	}
	prog, err := c.store.program(gtr)
	if err != nil {
		return reconcile.Result{}, nil // status reports the invalid spec
	}
	resync := wait.Jitter(gtr.Spec.ResyncPeriod.Duration, 0.2)
	if resync <= 0 {
		resync = wait.Jitter(time.Minute, 0.2)
	}
	prev := c.store.previous(gtr, p.Tenant)
	if msg := c.waitingOn(ctx, gtr); msg != "" {
		c.record(gtr, p.Tenant, &tenantResult{items: prev, problem: msg})
		return reconcile.Result{RequeueAfter: c.opts.DependencyRetry}, nil
	}
	reader, writer, _, err := c.identity(gtr)
	if err != nil {
		return reconcile.Result{}, err
	}
	w := &world{ctx: ctx, reader: reader, mapper: c.mapper, cache: c.cache}

	// A pair the scope does not produce (the scope changed) only loses its objects.
	if (prog.Scope() == v1alpha1.ScopeNone) != (p.Tenant == "") {
		return reconcile.Result{}, c.pruneTenant(ctx, gtr, p.Tenant, prev, writer)
	}
	var out *render.Output
	if prog.Scope() == v1alpha1.ScopeNone {
		// Select here, not from status: status is written after the pairs run.
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
			return reconcile.Result{}, c.pruneTenant(ctx, gtr, p.Tenant, prev, writer)
		}
		if terr != nil {
			return reconcile.Result{}, terr
		}
		out, err = prog.Tenant(w, t)
	}
	if err != nil {
		renderTotal.WithLabelValues(p.GTR, "error").Inc()
		errorTotal.WithLabelValues(p.GTR, "render").Inc()
		logger.Info("render failed", "error", err.Error())
		r := &tenantResult{items: prev, problem: "render failed: " + truncate(err.Error(), 1000)}
		// A template that ran out of its budget is a failure like any other
		// (never Progressing), with its own reason: the message names the
		// tenant and the limit it hit.
		reason := "RenderFailed"
		if render.Limit(err) != "" {
			reason = "RenderBudgetExceeded"
		}
		return c.failed(gtr, p.Tenant, r, reason, resync), nil
	}
	renderTotal.WithLabelValues(p.GTR, "ok").Inc()

	items, problems := c.applyAll(ctx, gtr, p.Tenant, out.Objects, prev, writer)
	rendered := map[string]bool{}
	for _, it := range items {
		rendered[itemKey(it)] = true
	}
	var stale []v1alpha1.ProcessedItem
	for _, it := range prev {
		if !rendered[itemKey(it)] {
			stale = append(stale, it)
		}
	}
	if len(problems) > 0 {
		// Keep what is not rendered any more: nothing is pruned after a failed apply.
		errorTotal.WithLabelValues(p.GTR, "apply").Inc()
		r := &tenantResult{items: append(items, stale...), problem: fmt.Sprintf("%d of %d objects failed: %s", len(problems), len(out.Objects), truncate(strings.Join(problems, "; "), 1000))}
		return c.failed(gtr, p.Tenant, r, "ApplyFailed", resync), nil
	}
	left, pruneProblems := c.prune(ctx, gtr, stale, writer)
	result := &tenantResult{items: append(items, left...)}
	if len(pruneProblems) > 0 {
		result.problem = "prune failed: " + truncate(strings.Join(pruneProblems, "; "), 1000)
		return c.failed(gtr, p.Tenant, result, "PruneFailed", resync), nil
	}
	c.record(gtr, p.Tenant, result)
	return reconcile.Result{RequeueAfter: resync}, nil
}

// applyAll applies a tenant's objects in order and returns their inventory
// entries and the failures.
func (c *Controller) applyAll(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, tenantName string, objs []render.Object, prev []v1alpha1.ProcessedItem, writer client.Client) ([]v1alpha1.ProcessedItem, []string) {
	previous := map[string]*v1alpha1.ProcessedItem{}
	for i := range prev {
		previous[itemKey(prev[i])] = &prev[i]
	}
	applier := &apply.Applier{Client: writer, Live: c.liveObject}
	fm := apply.FieldManager(gtr.Name, tenantName)
	now := metav1.Now()
	var items []v1alpha1.ProcessedItem
	var problems []string
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		it := v1alpha1.ProcessedItem{
			Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName(),
			Tenant: tenantName, Origin: o.Origin, Ownership: v1alpha1.OwnershipCreated,
		}
		before := previous[itemKey(it)]
		res := applier.Apply(ctx, apply.Request{Object: o, FieldManager: fm, Previous: before, Adopt: gtr.Spec.Settings.Adopt, Force: gtr.Spec.Settings.Force})
		if res.Err != nil {
			problems = append(problems, res.Err.Error())
			if before != nil {
				it.UID, it.Ownership, it.LastApply = before.UID, before.Ownership, before.LastApply
			}
			it.Message = truncate(res.Err.Error(), 500)
			items = append(items, it)
			continue
		}
		it.UID, it.Ownership, it.Ready = res.UID, res.Ownership, true
		if res.Written {
			c.rememberWrite(o, res.ResourceVersion)
			applyTotal.WithLabelValues(gtr.Name).Inc()
			it.LastApply = &now
		} else {
			skippedTotal.WithLabelValues(gtr.Name).Inc()
			if before != nil {
				it.LastApply = before.LastApply
			}
		}
		c.watchGenerated(gvk)
		items = append(items, it)
	}
	return items, problems
}

// prune removes stale items: deletes what tenantgen created (UID
// precondition), releases what it adopted. It returns the items it could not
// remove, marked not Ready, and the failures.
func (c *Controller) prune(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, stale []v1alpha1.ProcessedItem, writer client.Client) ([]v1alpha1.ProcessedItem, []string) {
	applier := &apply.Applier{Client: writer, Live: c.liveObject}
	var left []v1alpha1.ProcessedItem
	var problems []string
	for _, it := range stale {
		if it.UID == "" {
			continue // never existed: nothing to remove
		}
		var err error
		if it.Ownership == v1alpha1.OwnershipCreated {
			err = applier.Delete(ctx, it)
		} else {
			err = applier.Release(ctx, it, apply.FieldManager(gtr.Name, it.Tenant))
		}
		if err != nil {
			it.Ready, it.Message = false, truncate("prune failed: "+err.Error(), 500)
			left = append(left, it)
			problems = append(problems, fmt.Sprintf("%s %s/%s: %v", it.Kind, it.Namespace, it.Name, err))
			continue
		}
		pruneTotal.WithLabelValues(gtr.Name).Inc()
		c.events.Eventf(gtr, nil, corev1.EventTypeNormal, "Pruned", "Prune", "tenant %q: %s %s/%s (%s)", it.Tenant, it.Kind, it.Namespace, it.Name, strings.ToLower(string(it.Ownership)))
	}
	return left, problems
}

// pruneTenant removes everything of a tenant that was deleted or left the selector.
func (c *Controller) pruneTenant(ctx context.Context, gtr *v1alpha1.GlobalTenantResource, tenantName string, prev []v1alpha1.ProcessedItem, writer client.Client) error {
	left, problems := c.prune(ctx, gtr, prev, writer)
	if len(problems) > 0 {
		c.record(gtr, tenantName, &tenantResult{items: left, problem: "prune failed: " + truncate(strings.Join(problems, "; "), 1000)})
		return fmt.Errorf("pruning tenant %q: %s", tenantName, strings.Join(problems, "; "))
	}
	c.record(gtr, tenantName, &tenantResult{removed: true})
	return nil
}

// record stores a pair's outcome and asks for a status write when it changed.
func (c *Controller) record(gtr *v1alpha1.GlobalTenantResource, tenantName string, r *tenantResult) {
	if changed, _ := c.store.record(gtr, tenantName, r); changed {
		c.flush(gtr.Name)
	}
}

// Retry of a failed pair: from failureRetry, doubling per consecutive failure,
// never later than the resync. A failure is often fixed outside tenantgen's
// sight (an RBAC grant, a CRD installed), so waiting for the resync is too slow.
const (
	failureRetry    = 5 * time.Second
	maxFailureShift = 6
)

// failed records a failed pair, emits an Event only when the problem is new
// (Events are writes: a tenant failing the same way must not write on every
// retry) and returns when to retry.
func (c *Controller) failed(gtr *v1alpha1.GlobalTenantResource, tenantName string, r *tenantResult, reason string, resync time.Duration) reconcile.Result {
	changed, fresh := c.store.record(gtr, tenantName, r)
	if changed {
		c.flush(gtr.Name)
	}
	if fresh {
		c.events.Eventf(gtr, nil, corev1.EventTypeWarning, reason, "Reconcile", "tenant %q: %s", tenantName, r.problem)
	}
	retry := failureRetry << min(max(r.failures-1, 0), maxFailureShift)
	return reconcile.Result{RequeueAfter: min(retry, resync)}
}
