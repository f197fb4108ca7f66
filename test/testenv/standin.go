package testenv

// StandIn is a stand-in for the Gateway API controller (Envoy Gateway) and
// cert-manager, for envtest suites and the demo ONLY. Neither can run here (no
// images), so nothing would ever set the status of the Gateways and Issuers that
// tenantgen generates. StandIn writes that status the way the real controllers
// report success: it never provisions a proxy, never talks to an ACME server and
// never issues a certificate. Do not read anything about Envoy Gateway's or
// cert-manager's behaviour into a test that passes against it.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// StandInFieldManager is the field manager of every status write of a StandIn.
const StandInFieldManager = "testenv-standin"

// The kinds a StandIn marks, in the order of StandInKinds.
var (
	GatewayGVR            = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	IssuerGVR             = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	ClusterIssuerGVR      = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	CertificateGVR        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	standInResources      = []schema.GroupVersionResource{GatewayGVR, IssuerGVR, ClusterIssuerGVR, CertificateGVR}
	errStandInNotStarted  = errors.New("testenv: StandIn caches did not sync (are the Gateway API and cert-manager CRDs installed?)")
	standInMessageSuffix  = " (written by tenantgen's test stand-in, test/testenv.StandIn)"
	standInResyncInterval = time.Duration(0) // no periodic resync: every change is an event
)

// StandInOptions configure a StandIn.
type StandInOptions struct {
	// Delay between seeing an object that needs its status (a new object, or a new
	// generation) and writing it, so that a watcher first sees it unready, as with
	// the real controllers. Zero marks at once.
	Delay time.Duration
	// Filter, when set, selects the objects to mark: an object for which it returns
	// false is left alone (its status stays as it is). It is called on every event and
	// again before every write, so relabelling an object changes the answer.
	Filter func(*unstructured.Unstructured) bool
	// Workers writing statuses concurrently; default 2.
	Workers int
}

// StandIn marks Gateways (gateway.networking.k8s.io/v1) Accepted and Programmed, and
// cert-manager Issuers, ClusterIssuers and Certificates (cert-manager.io/v1) Ready,
// through their status subresources, like Envoy Gateway and cert-manager report a
// healthy object. See the comment at the top of this file: it is a test double.
//
// Gateways get status.conditions Accepted=True (reason Accepted) and Programmed=True
// (reason Programmed) and one status.listeners[] entry per spec.listeners[] entry
// (supportedKinds from allowedRoutes.kinds or the protocol, attachedRoutes 0,
// conditions Accepted, Programmed and ResolvedRefs True), every condition with
// observedGeneration = metadata.generation. cert-manager objects get Ready=True with
// the reason cert-manager writes on success (Issuers: ACMEAccountRegistered for ACME,
// IsReady otherwise; Certificates: Ready) and observedGeneration. Other conditions are
// kept. A generation bump (a spec change) is marked again; objects created after
// StartStandIn are watched like the ones that existed before.
type StandIn struct {
	opts   StandInOptions
	client dynamic.Interface
	queue  workqueue.TypedRateLimitingInterface[standInKey]
	stores map[schema.GroupVersionResource]cache.Store
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu     sync.Mutex
	marked map[schema.GroupVersionResource]int
}

type standInKey struct {
	gvr             schema.GroupVersionResource
	namespace, name string
}

// StartStandIn starts a StandIn against the apiserver of cfg and returns once its
// informers have listed every watched kind. It runs until ctx is done or Stop is
// called.
func StartStandIn(ctx context.Context, cfg *rest.Config, opts StandInOptions) (*StandIn, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &StandIn{
		opts:   opts,
		client: dc,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[standInKey](10*time.Millisecond, 2*time.Second),
			workqueue.TypedRateLimitingQueueConfig[standInKey]{Name: "testenv-standin"}),
		stores: map[schema.GroupVersionResource]cache.Store{},
		cancel: cancel,
		marked: map[schema.GroupVersionResource]int{},
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(dc, standInResyncInterval)
	var synced []cache.InformerSynced
	for _, gvr := range standInResources {
		inf := factory.ForResource(gvr).Informer()
		handler := func(obj any) {
			if u, ok := obj.(*unstructured.Unstructured); ok {
				s.observe(gvr, u)
			}
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    handler,
			UpdateFunc: func(_, obj any) { handler(obj) },
		}); err != nil {
			cancel()
			return nil, err
		}
		s.stores[gvr] = inf.GetStore()
		synced = append(synced, inf.HasSynced)
	}
	factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, time.Minute)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		cancel()
		s.queue.ShutDown()
		factory.Shutdown()
		return nil, errStandInNotStarted
	}
	for range opts.Workers {
		s.done.Go(func() {
			for s.processNext(ctx) {
			}
		})
	}
	s.done.Go(func() {
		<-ctx.Done()
		s.queue.ShutDown()
		factory.Shutdown()
	})
	return s, nil
}

// Stop stops the StandIn and waits for its workers and informers.
func (s *StandIn) Stop() {
	s.cancel()
	s.done.Wait()
}

// Marked returns how many status writes the StandIn made per kind (Gateway, Issuer,
// ClusterIssuer, Certificate).
func (s *StandIn) Marked() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for gvr, n := range s.marked {
		out[kindOf(gvr)] = n
	}
	return out
}

func kindOf(gvr schema.GroupVersionResource) string {
	switch gvr {
	case GatewayGVR:
		return "Gateway"
	case IssuerGVR:
		return "Issuer"
	case ClusterIssuerGVR:
		return "ClusterIssuer"
	case CertificateGVR:
		return "Certificate"
	}
	return gvr.String()
}

func (s *StandIn) selected(u *unstructured.Unstructured) bool {
	return u.GetDeletionTimestamp() == nil && (s.opts.Filter == nil || s.opts.Filter(u))
}

// observe queues an object whose status is not what the StandIn writes, after Delay.
// The delaying queue keeps the earliest time of a key, so updates while an object
// waits do not postpone it.
func (s *StandIn) observe(gvr schema.GroupVersionResource, u *unstructured.Unstructured) {
	if !s.selected(u) {
		return
	}
	if _, changed := desiredStatus(gvr, u, time.Now()); !changed {
		return
	}
	s.queue.AddAfter(standInKey{gvr: gvr, namespace: u.GetNamespace(), name: u.GetName()}, s.opts.Delay)
}

func (s *StandIn) processNext(ctx context.Context) bool {
	key, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(key)
	if err := s.mark(ctx, key); err != nil {
		if ctx.Err() == nil {
			s.queue.AddRateLimited(key) // a conflict or a transient error: retry soon
		}
		return true
	}
	s.queue.Forget(key)
	return true
}

// mark writes the status of the cached object of key when it needs one.
func (s *StandIn) mark(ctx context.Context, key standInKey) error {
	storeKey := key.name
	if key.namespace != "" {
		storeKey = key.namespace + "/" + key.name
	}
	obj, ok, err := s.stores[key.gvr].GetByKey(storeKey)
	if err != nil || !ok {
		return err // gone: nothing to do
	}
	u := obj.(*unstructured.Unstructured)
	if !s.selected(u) {
		return nil
	}
	status, changed := desiredStatus(key.gvr, u, time.Now())
	if !changed {
		return nil
	}
	u = u.DeepCopy()
	u.Object["status"] = status
	_, err = s.client.Resource(key.gvr).Namespace(key.namespace).UpdateStatus(ctx, u,
		metav1.UpdateOptions{FieldManager: StandInFieldManager})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", kindOf(key.gvr), storeKey, err)
	}
	s.mu.Lock()
	s.marked[key.gvr]++
	s.mu.Unlock()
	return nil
}

// desiredStatus returns the status u should have and whether it differs from u's.
func desiredStatus(gvr schema.GroupVersionResource, u *unstructured.Unstructured, now time.Time) (map[string]any, bool) {
	old, _, _ := unstructured.NestedMap(u.Object, "status")
	if old == nil {
		old = map[string]any{}
	}
	status := map[string]any{}
	for k, v := range old {
		status[k] = v
	}
	gen := u.GetGeneration()
	conds, _, _ := unstructured.NestedSlice(old, "conditions")
	if gvr == GatewayGVR {
		conds = setCondition(conds, "Accepted", "Accepted", "The Gateway has been scheduled by the gateway controller", gen, now)
		conds = setCondition(conds, "Programmed", "Programmed", "Sending translated listeners and routes to the data plane", gen, now)
		status["listeners"] = listenerStatuses(u, old, now)
	} else {
		reason, message := "IsReady", "The issuer is ready"
		switch {
		case gvr == CertificateGVR:
			reason, message = "Ready", "Certificate is up to date and has not expired"
		case hasField(u, "spec", "acme"):
			reason, message = "ACMEAccountRegistered", "The ACME account was registered with the ACME server"
		}
		conds = setCondition(conds, "Ready", reason, message, gen, now)
	}
	status["conditions"] = conds
	return status, !reflect.DeepEqual(status, old)
}

func hasField(u *unstructured.Unstructured, fields ...string) bool {
	_, found, _ := unstructured.NestedFieldNoCopy(u.Object, fields...)
	return found
}

// setCondition sets type to True with reason and observedGeneration gen. An existing
// condition already saying so is kept as it is (lastTransitionTime included); one
// that was not True gets lastTransitionTime now.
func setCondition(conds []any, typ, reason, message string, gen int64, now time.Time) []any {
	want := map[string]any{
		"type": typ, "status": "True", "reason": reason, "message": message + standInMessageSuffix,
		"observedGeneration": gen, "lastTransitionTime": now.UTC().Format(time.RFC3339),
	}
	out := make([]any, 0, len(conds)+1)
	found := false
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			out = append(out, c)
			continue
		}
		found = true
		if m["status"] == "True" {
			want["lastTransitionTime"] = m["lastTransitionTime"]
		}
		if m["status"] == want["status"] && m["reason"] == want["reason"] && m["message"] == want["message"] &&
			m["observedGeneration"] == want["observedGeneration"] {
			out = append(out, m)
		} else {
			out = append(out, want)
		}
	}
	if !found {
		out = append(out, want)
	}
	return out
}

// listenerStatuses returns one status.listeners[] entry per spec.listeners[] entry,
// as Envoy Gateway reports a valid listener; attachedRoutes is kept from the old
// entry of the same name (the StandIn does not count routes).
func listenerStatuses(u *unstructured.Unstructured, old map[string]any, now time.Time) []any {
	oldByName := map[string]map[string]any{}
	if ls, _, _ := unstructured.NestedSlice(old, "listeners"); ls != nil {
		for _, l := range ls {
			if m, ok := l.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					oldByName[n] = m
				}
			}
		}
	}
	specs, _, _ := unstructured.NestedSlice(u.Object, "spec", "listeners")
	gen := u.GetGeneration()
	out := make([]any, 0, len(specs))
	for _, l := range specs {
		spec, ok := l.(map[string]any)
		if !ok {
			continue
		}
		name, _ := spec["name"].(string)
		prev := oldByName[name]
		var conds []any
		attached := int64(0)
		if prev != nil {
			conds, _, _ = unstructured.NestedSlice(prev, "conditions")
			if n, ok := prev["attachedRoutes"].(int64); ok {
				attached = n
			}
		}
		conds = setCondition(conds, "Accepted", "Accepted", "Listener has been successfully translated", gen, now)
		conds = setCondition(conds, "Programmed", "Programmed", "Sending translated listener configuration to the data plane", gen, now)
		conds = setCondition(conds, "ResolvedRefs", "ResolvedRefs", "Listener references have been resolved", gen, now)
		entry := map[string]any{"name": name, "attachedRoutes": attached, "conditions": conds}
		if kinds := supportedKinds(spec); len(kinds) > 0 { // an empty list would not round-trip
			entry["supportedKinds"] = kinds
		}
		out = append(out, entry)
	}
	return out
}

// supportedKinds: the listener's allowedRoutes.kinds when set, else the route kinds of
// its protocol.
func supportedKinds(listener map[string]any) []any {
	const group = "gateway.networking.k8s.io"
	if kinds, _, _ := unstructured.NestedSlice(listener, "allowedRoutes", "kinds"); len(kinds) > 0 {
		out := make([]any, 0, len(kinds))
		for _, k := range kinds {
			m, ok := k.(map[string]any)
			if !ok {
				continue
			}
			g, ok := m["group"].(string)
			if !ok {
				g = group
			}
			out = append(out, map[string]any{"group": g, "kind": m["kind"]})
		}
		return out
	}
	var kinds []string
	switch protocol, _ := listener["protocol"].(string); protocol {
	case "HTTP", "HTTPS":
		kinds = []string{"HTTPRoute", "GRPCRoute"}
	case "TLS":
		kinds = []string{"TLSRoute"}
	case "TCP":
		kinds = []string{"TCPRoute"}
	case "UDP":
		kinds = []string{"UDPRoute"}
	}
	out := make([]any, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, map[string]any{"group": group, "kind": k})
	}
	return out
}
