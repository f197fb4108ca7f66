// Package controller reconciles GlobalTenantResources in a cluster with the
// semantics of product.md §3, calling the render core unchanged.
//
// Two controllers share one in-memory store:
//   - the GlobalTenantResource controller (one request per GTR) compiles the
//     spec, selects tenants, queues the pairs that need work, runs the
//     finalizer and writes status — coalescing many pair results into one write;
//   - the pair controller (one request per GTR × tenant) renders one tenant,
//     applies its objects, prunes what it no longer renders and records the
//     outcome. Every trigger (tenants, namespaces, context objects, generated
//     objects) maps to the few pairs it concerns.
package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/decoder"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// AnnotationRequestedAt on a GlobalTenantResource asks for an immediate
// reconcile of all its tenants when its value changes.
const AnnotationRequestedAt = "reconcile." + v1alpha1.Group + "/requestedAt"

// Finalizer guards GlobalTenantResources and TenantInventories until their
// objects are pruned or released.
const Finalizer = inventory.Finalizer

// Options tune the controller.
type Options struct {
	// Workers is the number of pairs reconciled concurrently.
	Workers int
	// DependencyRetry is how soon a pair waiting on dependsOn is retried.
	DependencyRetry time.Duration
	// SkipNameValidation lets one process start several managers one after
	// the other (tests that stop and restart the controller).
	SkipNameValidation bool
}

// Controller is the tenantgen controller.
type Controller struct {
	opts      Options
	client    client.Client // cached reads of the manager, writes as the controller
	api       client.Reader // uncached reads
	cache     cache.Cache
	generated cache.Cache // only objects carrying our GTR label: drift watches and live reads
	// foreign holds the metadata of objects of generated kinds that do not
	// carry our GTR label: the candidates for adoption or a name clash. Its
	// watches never see the objects tenantgen writes, which are labelled
	// from their first write: a watch of every object cost the apiserver a
	// second encoding of each of our writes and the controller a second
	// decoding and copy in memory (30,000 of each at 10,000 tenants).
	foreign cache.Cache
	mapper  meta.RESTMapper
	config  *rest.Config
	events  events.EventRecorder
	store   *store
	pairs   controller.TypedController[Pair]
	gtrs    controller.Controller

	mu            sync.Mutex
	pairQueue     workqueue.TypedRateLimitingInterface[Pair]
	gtrQueue      workqueue.TypedRateLimitingInterface[reconcile.Request]
	pending       []Pair
	watchedCtx    map[schema.GroupVersionKind]bool
	watchedGen    map[schema.GroupVersionKind]bool
	impersonating map[string]client.Client
	listable      map[schema.GroupVersionKind]bool
	// lastStatus is when the status of a GlobalTenantResource was last
	// written (see flush).
	lastStatus map[string]time.Time
	// gtrCost is how long the last reconcile of a GlobalTenantResource took
	// (see statusSpacing).
	gtrCost map[string]time.Duration
	// flushing marks the GlobalTenantResources with a status write asked
	// for (flush) that no reconcile has begun to serve yet: flushSettled
	// brings those forward and leaves the others alone.
	flushing map[string]bool
	retry    *pairRetry
	// kindsMu serialises the writes of status.generatedKinds (recordKinds).
	kindsMu sync.Mutex
	// ownWrites maps a generated object to the resourceVersion our last apply
	// of it returned, so that the watch event echoing that write does not queue
	// its pair for a second, no-op render.
	ownWrites sync.Map
	// scopes caches which kinds are namespaced, for every render (see world).
	scopes scopes
}

// reconcileTimeout bounds one reconcile, so that no worker can hang on a
// request or an informer that never syncs.
const reconcileTimeout = 2 * time.Minute

// Setup adds the controller to a manager.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) (*Controller, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.DependencyRetry <= 0 {
		opts.DependencyRetry = 5 * time.Second
	}
	generated, err := gtrLabelCache(mgr, selection.Exists, compactManagedFields)
	if err != nil {
		return nil, err
	}
	foreign, err := gtrLabelCache(mgr, selection.DoesNotExist, cache.TransformStripManagedFields())
	if err != nil {
		return nil, err
	}
	c := &Controller{
		opts: opts, client: mgr.GetClient(), api: mgr.GetAPIReader(), cache: mgr.GetCache(), generated: generated, foreign: foreign,
		mapper: mgr.GetRESTMapper(), config: mgr.GetConfig(), events: mgr.GetEventRecorder("tenantgen"),
		store: newStore(), watchedCtx: map[schema.GroupVersionKind]bool{}, watchedGen: map[schema.GroupVersionKind]bool{},
		impersonating: map[string]client.Client{}, listable: map[schema.GroupVersionKind]bool{},
		lastStatus: map[string]time.Time{}, gtrCost: map[string]time.Duration{}, flushing: map[string]bool{}, retry: newPairRetry(),
	}
	invInformer, err := mgr.GetCache().GetInformer(ctx, &v1alpha1.TenantInventory{})
	if err != nil {
		return nil, err
	}
	share := func(o any) {
		if inv, ok := o.(*v1alpha1.TenantInventory); ok {
			c.store.share(inv)
		}
	}
	if _, err := invInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: share, UpdateFunc: func(_, o any) { share(o) },
	}); err != nil {
		return nil, err
	}
	tenantObj := &unstructured.Unstructured{}
	tenantObj.SetGroupVersionKind(tenant.GVK)
	if err := mgr.GetFieldIndexer().IndexField(ctx, tenantObj, indexTenantNamespaces, func(o client.Object) []string {
		return tenant.StatusNamespaces(o.(*unstructured.Unstructured))
	}); err != nil {
		return nil, fmt.Errorf("indexing tenants: %w", err)
	}
	nsObj := &unstructured.Unstructured{}
	nsObj.SetGroupVersionKind(tenant.NamespaceGVK)
	// A label selector would scan every namespace for every render.
	if err := mgr.GetFieldIndexer().IndexField(ctx, nsObj, indexNamespaceTenant, func(o client.Object) []string {
		if t := o.GetLabels()[tenant.LabelTenant]; t != "" {
			return []string{t}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("indexing namespaces: %w", err)
	}

	// A plain FIFO queue for GlobalTenantResources: with the priority queue,
	// the status flushes of one converging GlobalTenantResource (priority 0,
	// every second) kept another's first reconcile (an initial-list event, low
	// priority) waiting for minutes at 10,000 tenants.
	c.gtrs, err = controller.New("globaltenantresource", mgr, controller.Options{
		Reconciler: reconcile.Func(c.reconcileGTR), ReconciliationTimeout: reconcileTimeout,
		SkipNameValidation: &opts.SkipNameValidation, UsePriorityQueue: new(false),
		MaxConcurrentReconciles: 2,
	})
	if err != nil {
		return nil, err
	}
	c.pairs, err = controller.NewTyped[Pair]("tenantpair", mgr, controller.TypedOptions[Pair]{
		Reconciler: reconcile.TypedFunc[Pair](c.reconcilePair), MaxConcurrentReconciles: opts.Workers,
		ReconciliationTimeout: reconcileTimeout, SkipNameValidation: &opts.SkipNameValidation,
		RateLimiter: c.retry,
	})
	if err != nil {
		return nil, err
	}
	gtrObj := &v1alpha1.GlobalTenantResource{}
	for _, w := range []error{
		c.gtrs.Watch(source.Kind[client.Object](c.cache, gtrObj, &handler.EnqueueRequestForObject{}, notOwnStatus)),
		// A deleted inventory is a pruned pair: the summary changes, and a
		// finalizing GlobalTenantResource may be done.
		c.gtrs.Watch(source.Kind[client.Object](c.cache, &v1alpha1.TenantInventory{}, handler.EnqueueRequestsFromMapFunc(inventoryOwner), onlyDeletes)),
		c.gtrs.Watch(source.Kind[client.Object](c.cache, tenantObj, handler.EnqueueRequestsFromMapFunc(c.allGTRs))),
		c.gtrs.Watch(source.TypedFunc[reconcile.Request](func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			c.mu.Lock()
			c.gtrQueue = q
			c.mu.Unlock()
			return nil
		})),
		// The first lists of tenants and namespaces queue no pair: every
		// GlobalTenantResource's first reconcile queues all its pairs, and a
		// pair queued twice at start rendered twice (a thousand repeat
		// renders of 2,000 at 1,000 tenants).
		c.pairs.Watch(source.TypedKind[client.Object, Pair](c.cache, tenantObj, handler.TypedEnqueueRequestsFromMapFunc(c.tenantPairs), notInitialList)),
		// A GlobalTenantResource becoming Ready (or not, or going away) is what its
		// dependents wait for: without this they would notice only on their next
		// DependencyRetry poll.
		c.pairs.Watch(source.TypedKind[client.Object, Pair](c.cache, gtrObj, handler.TypedEnqueueRequestsFromMapFunc(c.dependentPairs), readinessChanged)),
		c.pairs.Watch(source.TypedKind[client.Object, Pair](c.cache, nsObj, handler.TypedEnqueueRequestsFromMapFunc(c.namespacePairs), notInitialList)),
		c.pairs.Watch(source.TypedFunc[Pair](func(_ context.Context, q workqueue.TypedRateLimitingInterface[Pair]) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.pairQueue = q
			for _, p := range c.pending {
				q.Add(p)
			}
			c.pending = nil
			return nil
		})),
	} {
		if w != nil {
			return nil, w
		}
	}
	return c, nil
}

// gtrLabelCache adds to the manager a cache of the objects whose GTR label
// satisfies op (Exists: ours; DoesNotExist: everyone else's).
func gtrLabelCache(mgr manager.Manager, op selection.Operator, transform toolscache.TransformFunc) (cache.Cache, error) {
	req, err := labels.NewRequirement(v1alpha1.LabelGlobalTenantResource, op, nil)
	if err != nil {
		return nil, err
	}
	sel := labels.NewSelector().Add(*req)
	// Its own connection, as cache.New would make.
	hc, err := rest.HTTPClientFor(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: hc,
		DefaultLabelSelector: sel, DefaultTransform: transform,
		NewInformer: decoder.NewInformer(func() decoder.Source {
			return decoder.Source{Config: mgr.GetConfig(), HTTPClient: hc, Mapper: mgr.GetRESTMapper(), Scheme: mgr.GetScheme()}
		}, sel),
	})
	if err != nil {
		return nil, err
	}
	return c, mgr.Add(c)
}

// compactManagedFields keeps who wrote a generated object (what adoption and
// entries without uid are decided on) and drops which fields each one owns, the larger part.
func compactManagedFields(obj any) (any, error) {
	if o, ok := obj.(client.Object); ok {
		if mf := o.GetManagedFields(); len(mf) > 0 {
			for i := range mf {
				mf[i].FieldsV1 = nil
			}
			o.SetManagedFields(mf)
		}
	}
	return obj, nil
}

// enqueue queues a pair now.
func (c *Controller) enqueue(p Pair) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pairQueue == nil {
		c.pending = append(c.pending, p)
		return
	}
	c.pairQueue.Add(p)
}

// Status writes of one GlobalTenantResource are at least statusDelay apart:
// while a thousand tenants converge, the summary is written about once a
// second instead of once per tenant. A change after a quiet spell (a Gateway
// turning Programmed=False) is written after statusGather, the time for the
// results of one event's pairs to arrive together.
const (
	statusDelay  = time.Second
	statusGather = 50 * time.Millisecond
	// statusCostFactor keeps the summaries of a large GlobalTenantResource
	// to about a twentieth of the time: each reconcile reads every tenant
	// and inventory, and at 10,000 tenants, one a second took most of the
	// controller's CPU while converging; at a tenth they still took 14 % of
	// it. The summary users wait for, the last one, is not held back (see
	// flushSettled).
	statusCostFactor = 20
)

// statusSpacing is the least time between two status writes of a
// GlobalTenantResource whose last reconcile took cost.
func statusSpacing(cost time.Duration) time.Duration {
	return max(statusDelay, statusCostFactor*cost)
}

// flush asks for a status write of a GlobalTenantResource, statusSpacing
// after the last write, or statusGather from now if that is later. Every
// request is served by a reconcile that begins after it (the queue keeps the
// earliest of the times asked for one GlobalTenantResource), so none is lost.
func (c *Controller) flush(gtr string) {
	now := time.Now()
	c.mu.Lock()
	at := now.Add(statusGather)
	if earliest := c.lastStatus[gtr].Add(statusSpacing(c.gtrCost[gtr])); earliest.After(at) {
		at = earliest
	}
	c.flushing[gtr] = true
	c.mu.Unlock()
	c.flushAfter(gtr, at.Sub(now))
}

// flushSettled brings forward the status write asked for a
// GlobalTenantResource whose pairs all just finished: without
// statusSpacing's cost factor, which paces the summaries while pairs keep
// changing it. The last one of a convergence or of a spec change is the one
// users wait for (Ready); at 10,000 tenants, where one summary takes over a
// second under load, the factor could hold it back by more than ten. With
// no write asked for (a quiet resync) it does nothing.
func (c *Controller) flushSettled(gtr string) {
	now := time.Now()
	c.mu.Lock()
	if !c.flushing[gtr] {
		c.mu.Unlock()
		return
	}
	at := now.Add(statusGather)
	if earliest := c.lastStatus[gtr].Add(statusDelay); earliest.After(at) {
		at = earliest
	}
	c.mu.Unlock()
	c.flushAfter(gtr, at.Sub(now))
}

// flushPending reports whether a status write of the GlobalTenantResource
// was asked for and no reconcile has begun to serve it yet.
func (c *Controller) flushPending(gtr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushing[gtr]
}

// serving marks the status writes asked for so far as served: a
// GlobalTenantResource reconcile begins, and reads every pair after this.
func (c *Controller) serving(gtr string) {
	c.mu.Lock()
	delete(c.flushing, gtr)
	c.mu.Unlock()
}

// reconciledGTR records how long a reconcile of a GlobalTenantResource took.
func (c *Controller) reconciledGTR(gtr string, took time.Duration) {
	c.mu.Lock()
	c.gtrCost[gtr] = took
	c.mu.Unlock()
}

// statusWritten records a status write of a GlobalTenantResource.
func (c *Controller) statusWritten(gtr string) {
	c.mu.Lock()
	c.lastStatus[gtr] = time.Now()
	c.mu.Unlock()
}

// flushAfter asks for a reconcile of a GlobalTenantResource after d.
func (c *Controller) flushAfter(gtr string, d time.Duration) {
	c.mu.Lock()
	q := c.gtrQueue
	c.mu.Unlock()
	if q != nil {
		q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: gtr}}, d)
	}
}

// listGTRs returns every GlobalTenantResource from the cache.
func (c *Controller) listGTRs(ctx context.Context) []v1alpha1.GlobalTenantResource {
	var list v1alpha1.GlobalTenantResourceList
	if err := c.client.List(ctx, &list); err != nil {
		return nil
	}
	return list.Items
}

func (c *Controller) allGTRs(ctx context.Context, _ client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, g := range c.listGTRs(ctx) {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: g.Name}})
	}
	return out
}

// pairsOf maps a tenant to the pair of every GlobalTenantResource.
func (c *Controller) pairsOf(ctx context.Context, tenantName string) []Pair {
	var out []Pair
	for _, g := range c.listGTRs(ctx) {
		if g.Spec.ScopeOrDefault() == v1alpha1.ScopeNone {
			out = append(out, Pair{GTR: g.Name})
		} else {
			out = append(out, Pair{GTR: g.Name, Tenant: tenantName})
		}
	}
	return out
}

func (c *Controller) tenantPairs(ctx context.Context, o client.Object) []Pair {
	return c.pairsOf(ctx, o.GetName())
}

// namespacePairs: a tenant namespace changed (labels drive namespaceSelector
// and ownership), or a namespace appeared that failing pairs may have waited for.
func (c *Controller) namespacePairs(ctx context.Context, o client.Object) []Pair {
	out := c.store.failing()
	if t := o.GetLabels()[tenant.LabelTenant]; t != "" {
		out = append(out, c.pairsOf(ctx, t)...)
	}
	return out
}

// contextPairs maps a change of a context object to the pairs that read it.
// A namespaced object concerns the tenant owning its namespace, for every
// GTR whose references may see it there; references that can see any
// namespace (explicit namespace, cluster-scoped kind, scope None) concern
// every selected tenant of that GTR.
func (c *Controller) contextPairs(ctx context.Context, o client.Object) []Pair {
	gvk := o.GetObjectKind().GroupVersionKind()
	owner := ""
	if ns := o.GetNamespace(); ns != "" {
		owner = namespaceOwner(ctx, c.cache, ns)
	}
	var out []Pair
	gtrs := c.listGTRs(ctx)
	for i := range gtrs {
		g := &gtrs[i]
		prog, err := c.store.program(g)
		if err != nil {
			continue
		}
		for _, ref := range prog.References() {
			if schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind).GroupKind() != gvk.GroupKind() {
				continue
			}
			switch {
			case prog.Scope() == v1alpha1.ScopeNone:
				out = append(out, Pair{GTR: g.Name})
			case ref.Namespace == "" && o.GetNamespace() != "":
				if owner != "" {
					out = append(out, Pair{GTR: g.Name, Tenant: owner})
				}
			default:
				for _, t := range c.store.selected(g.Name) {
					out = append(out, Pair{GTR: g.Name, Tenant: t})
				}
			}
		}
	}
	return out
}

// inventoryOwner maps an inventory to its GlobalTenantResource.
func inventoryOwner(_ context.Context, o client.Object) []reconcile.Request {
	if inv, ok := o.(*v1alpha1.TenantInventory); ok && inv.Spec.GlobalTenantResource != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: inv.Spec.GlobalTenantResource}}}
	}
	return nil
}

// onlyDeletes passes deletions only: every other inventory change is one the
// controller made itself and already knows about.
var onlyDeletes = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	UpdateFunc:  func(event.UpdateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// notOwnStatus drops the GlobalTenantResource updates that change nothing
// but its status: the controller's own summary writes, each of which used to
// be followed by a second reconcile reading every tenant and inventory again.
// Spec (generation), labels, annotations (approve-deletions, requestedAt),
// finalizers and deletion still pass.
var notOwnStatus = predicate.TypedFuncs[client.Object]{
	UpdateFunc: func(e event.TypedUpdateEvent[client.Object]) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.GetGeneration() != n.GetGeneration() ||
			!maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	},
}

// readinessChanged passes the GlobalTenantResource events that can end or start
// a dependent's wait: creation, deletion and a change of isReady. Status writes
// that leave readiness as it was do not wake the dependents.
var readinessChanged = predicate.TypedFuncs[client.Object]{
	UpdateFunc: func(e event.TypedUpdateEvent[client.Object]) bool {
		o, ok1 := e.ObjectOld.(*v1alpha1.GlobalTenantResource)
		n, ok2 := e.ObjectNew.(*v1alpha1.GlobalTenantResource)
		return !ok1 || !ok2 || isReady(o) != isReady(n)
	},
	GenericFunc: func(event.TypedGenericEvent[client.Object]) bool { return false },
}

// dependentPairs maps a GlobalTenantResource to the pairs of every
// GlobalTenantResource that depends on it.
func (c *Controller) dependentPairs(ctx context.Context, o client.Object) []Pair {
	var out []Pair
	for _, g := range c.listGTRs(ctx) {
		for _, d := range g.Spec.DependsOn {
			if d.Name != o.GetName() {
				continue
			}
			if g.Spec.ScopeOrDefault() == v1alpha1.ScopeNone {
				out = append(out, Pair{GTR: g.Name})
				break
			}
			for _, t := range c.store.selected(g.Name) {
				out = append(out, Pair{GTR: g.Name, Tenant: t})
			}
			break
		}
	}
	return out
}

func objectID(o client.Object) string {
	return o.GetObjectKind().GroupVersionKind().GroupKind().String() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// rememberWrite records the resourceVersion an apply returned.
func (c *Controller) rememberWrite(o client.Object, resourceVersion string) {
	c.ownWrites.Store(objectID(o), resourceVersion)
}

// notOwnWrite lets through the events of generated objects that are not the
// echo of tenantgen's own last write: edits by others (drift) and, because
// deletes always pass, deletions. The first list is dropped (see notInitialList).
func (c *Controller) notOwnWrite() predicate.TypedFuncs[client.Object] {
	own := func(o client.Object) bool {
		if rv, ok := c.ownWrites.Load(objectID(o)); ok && rv == o.GetResourceVersion() {
			return true
		}
		// The event of an apply often arrives before the apply's response
		// (and rememberWrite): at 1,000 tenants that re-rendered about 800
		// pairs of 2,000 at cold start. An event whose newest write is the
		// pair's own apply shows what that apply made; a change by anyone
		// else (a status write included) makes their entry the newest.
		l := o.GetLabels()
		return apply.LastWrittenBy(o, apply.FieldManager(l[v1alpha1.LabelGlobalTenantResource], l[v1alpha1.LabelTenant]))
	}
	return predicate.TypedFuncs[client.Object]{
		CreateFunc: func(e event.TypedCreateEvent[client.Object]) bool { return !e.IsInInitialList && !own(e.Object) },
		UpdateFunc: func(e event.TypedUpdateEvent[client.Object]) bool { return !own(e.ObjectNew) },
	}
}

// notInitialList drops the events of an informer's first list. The
// informers for context and generated kinds start when a pair first needs
// them, and a render waits until its informer has synced, so what the first
// list holds was already seen by every render since: re-rendering for it
// only doubled the renders of a cold start. (On a restart every pair is
// queued anyway.)
var notInitialList = predicate.TypedFuncs[client.Object]{
	CreateFunc: func(e event.TypedCreateEvent[client.Object]) bool { return !e.IsInInitialList },
}

// generatedPairs maps a change of a generated object (drift) to its pair.
func generatedPairs(_ context.Context, o client.Object) []Pair {
	l := o.GetLabels()
	if g := l[v1alpha1.LabelGlobalTenantResource]; g != "" {
		return []Pair{{GTR: g, Tenant: l[v1alpha1.LabelTenant]}}
	}
	return nil
}

// mayList checks, once per kind, that the controller may list a kind
// cluster-wide before an informer is started for it: an informer for a
// forbidden kind never syncs, and every read of it would block until the
// reconcile times out. A refusal is not remembered, so granting RBAC later
// takes effect at the next reconcile.
func (c *Controller) mayList(ctx context.Context, gvk schema.GroupVersionKind) error {
	c.mu.Lock()
	ok := c.listable[gvk]
	c.mu.Unlock()
	if ok {
		return nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	err := c.api.List(ctx, list, client.Limit(1))
	switch {
	case err == nil:
		c.mu.Lock()
		c.listable[gvk] = true
		c.mu.Unlock()
		return nil
	case apierrors.IsForbidden(err):
		return fmt.Errorf("the controller may not list %s (%s) cluster-wide; grant get/list/watch on it (Helm values rbac.contextKinds or rbac.generatedKinds): %w", gvk.Kind, gvk.GroupVersion(), err)
	}
	return err
}

// watchContext starts watching the kinds a program reads, once per kind.
func (c *Controller) watchContext(ctx context.Context, gvks []schema.GroupVersionKind) {
	for _, gvk := range gvks {
		if c.mayList(ctx, gvk) != nil {
			continue // the pair reconcile reports it; retried on the next GTR reconcile
		}
		c.mu.Lock()
		done := c.watchedCtx[gvk]
		c.watchedCtx[gvk] = true
		c.mu.Unlock()
		if done {
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := c.pairs.Watch(source.TypedKind[client.Object, Pair](c.cache, u, handler.TypedEnqueueRequestsFromMapFunc(c.contextPairs), notInitialList)); err != nil {
			c.mu.Lock()
			delete(c.watchedCtx, gvk)
			c.mu.Unlock()
		}
	}
}

// watchGenerated starts a drift watch on a generated kind, once per kind.
// liveObject has checked that the kind may be listed.
func (c *Controller) watchGenerated(gvk schema.GroupVersionKind) {
	c.mu.Lock()
	done := c.watchedGen[gvk]
	c.watchedGen[gvk] = true
	c.mu.Unlock()
	if done {
		return
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.pairs.Watch(source.TypedKind[client.Object, Pair](c.generated, u, handler.TypedEnqueueRequestsFromMapFunc(generatedPairs), c.notOwnWrite())); err != nil {
		c.mu.Lock()
		delete(c.watchedGen, gvk)
		c.mu.Unlock()
	}
}

// liveObject reads the current state of an object: from the cache of
// generated objects when it carries our label, else from the API (objects
// that exist without our label are candidates for adoption).
func (c *Controller) liveObject(ctx context.Context, probe *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	key := client.ObjectKeyFromObject(probe)
	if err := c.mayList(ctx, probe.GroupVersionKind()); err != nil && !meta.IsNoMatchError(err) {
		return nil, err
	}
	u := probe.DeepCopy()
	err := c.generated.Get(ctx, key, u, client.UnsafeDisableDeepCopy) // only read
	if err == nil {
		return u, nil
	}
	if meta.IsNoMatchError(err) {
		return nil, nil // the apply reports the unknown kind
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	// Not ours (yet): does something by that name exist without our label? A
	// metadata-only informer answers from memory, so creating a thousand
	// tenants' objects does not cost a thousand GETs; only an existing object
	// is fetched in full, to decide on adoption. Between this check and the
	// apply another writer can still create the object, as it could between a
	// GET and the apply.
	exists := &metav1.PartialObjectMetadata{}
	exists.SetGroupVersionKind(probe.GroupVersionKind())
	if err := c.foreign.Get(ctx, key, exists); apierrors.IsNotFound(err) {
		return nil, nil
	}
	u = probe.DeepCopy()
	if err := c.api.Get(ctx, key, u); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, err
	}
	return u, nil
}

// identity returns the reader for context, the writer and the identity name
// for a GlobalTenantResource: the controller itself, or its serviceAccount.
func (c *Controller) identity(gtr *v1alpha1.GlobalTenantResource) (client.Reader, client.Client, string, error) {
	sa := gtr.Spec.ServiceAccount
	if sa == nil {
		// The informer cache, not the manager's client: that client reads
		// unstructured objects from the API, one rate-limited call per list.
		return &checkedReader{Reader: c.cache, c: c}, c.client, "", nil
	}
	user := "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.impersonating[user]; ok {
		return cl, cl, user, nil
	}
	cfg := rest.CopyConfig(c.config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cl, err := client.New(cfg, client.Options{Scheme: c.client.Scheme(), Mapper: c.mapper})
	if err != nil {
		return nil, nil, user, err
	}
	c.impersonating[user] = cl
	return cl, cl, user, nil
}

// checkedReader reads from the informer cache after checking that the
// controller may list the kind (see mayList).
type checkedReader struct {
	client.Reader
	c *Controller
}

func (r *checkedReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	gvk := list.GetObjectKind().GroupVersionKind()
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	if err := r.c.mayList(ctx, gvk); err != nil {
		return err
	}
	return r.Reader.List(ctx, list, opts...)
}
