package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const leaveAlone = "testenv.tenantgen.test/leave-alone"

// The StandIn on a real apiserver with the real Gateway API and cert-manager CRDs:
// objects created before and after it starts are marked through the status
// subresource, after the delay; a generation bump is marked again; filtered objects
// are left alone; nothing is rewritten once marked.
func TestStandInMarksGatewaysAndIssuers(t *testing.T) {
	env, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := env.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "standin"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	// Exists before the StandIn starts: found by its initial list.
	early := gateway("early", nil)
	mustCreate(ctx, t, c, early)

	const delay = 400 * time.Millisecond
	s, err := StartStandIn(ctx, env.Config, StandInOptions{
		Delay:  delay,
		Filter: func(u *unstructured.Unstructured) bool { return u.GetLabels()[leaveAlone] != "true" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	left := gateway("left-alone", map[string]string{leaveAlone: "true"})
	mustCreate(ctx, t, c, left)
	gw := gateway("gw", nil)
	created := time.Now()
	mustCreate(ctx, t, c, gw)
	issuer := obj("cert-manager.io/v1", "Issuer", "standin", "acme", map[string]any{"acme": map[string]any{
		"server": "https://acme.example.com/directory", "email": "ops@example.com",
		"privateKeySecretRef": map[string]any{"name": "acme-key"},
		"solvers":             []any{map[string]any{"http01": map[string]any{"ingress": map[string]any{}}}},
	}})
	mustCreate(ctx, t, c, issuer)
	clusterIssuer := obj("cert-manager.io/v1", "ClusterIssuer", "", "selfsigned", map[string]any{"selfSigned": map[string]any{}})
	mustCreate(ctx, t, c, clusterIssuer)
	cert := obj("cert-manager.io/v1", "Certificate", "standin", "www", map[string]any{
		"secretName": "www-tls", "dnsNames": []any{"www.example.com"},
		"issuerRef": map[string]any{"name": "acme", "kind": "Issuer"},
	})
	mustCreate(ctx, t, c, cert)

	// Not before the delay: a watcher sees the Gateway unready first.
	got := waitFor(ctx, t, c, gw, func(u *unstructured.Unstructured) error { return gatewayMarked(u, 1) })
	if elapsed := time.Since(created); elapsed < delay {
		t.Errorf("Gateway marked %s after its creation, before the %s delay", elapsed, delay)
	}
	checkListeners(t, got, map[string][]string{"http": {"HTTPRoute", "GRPCRoute"}, "tls": {"TLSRoute"}})
	checkStatusWriter(t, got)

	waitFor(ctx, t, c, early, func(u *unstructured.Unstructured) error { return gatewayMarked(u, 1) })
	for _, o := range []*unstructured.Unstructured{issuer, clusterIssuer, cert} {
		got := waitFor(ctx, t, c, o, func(u *unstructured.Unstructured) error { return conditionTrue(u, "Ready", u.GetGeneration()) })
		checkStatusWriter(t, got)
	}
	if r := condition(waitFor(ctx, t, c, issuer, nil), "Ready")["reason"]; r != "ACMEAccountRegistered" {
		t.Errorf("ACME Issuer Ready reason = %v, want ACMEAccountRegistered as cert-manager writes it", r)
	}
	if r := condition(waitFor(ctx, t, c, cert, nil), "Ready")["reason"]; r != "Ready" {
		t.Errorf("Certificate Ready reason = %v, want Ready", r)
	}

	// A spec change bumps the generation: marked again, with the new listener.
	got = waitFor(ctx, t, c, gw, nil)
	listeners, _, _ := unstructured.NestedSlice(got.Object, "spec", "listeners")
	listeners = append(listeners, map[string]any{"name": "grpc", "protocol": "HTTP", "port": int64(8080),
		"allowedRoutes": map[string]any{"kinds": []any{map[string]any{"kind": "GRPCRoute"}}}})
	if err := unstructured.SetNestedSlice(got.Object, listeners, "spec", "listeners"); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got.GetGeneration() != 2 {
		t.Fatalf("generation after the spec change = %d, want 2", got.GetGeneration())
	}
	got = waitFor(ctx, t, c, gw, func(u *unstructured.Unstructured) error { return gatewayMarked(u, 2) })
	checkListeners(t, got, map[string][]string{"http": {"HTTPRoute", "GRPCRoute"}, "tls": {"TLSRoute"}, "grpc": {"GRPCRoute"}})

	// Settled: nothing is rewritten (one write per marking), and the filtered Gateway
	// still has the CRD's default Pending conditions.
	time.Sleep(delay + time.Second)
	want := map[string]int{"Gateway": 3, "Issuer": 1, "ClusterIssuer": 1, "Certificate": 1}
	if m := s.Marked(); fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("status writes = %v, want %v", m, want)
	}
	got = waitFor(ctx, t, c, left, nil)
	if cond := condition(got, "Programmed"); cond == nil || cond["status"] != "Unknown" || cond["reason"] != "Pending" {
		t.Errorf("filtered Gateway's Programmed condition = %v, want the CRD default (Unknown, Pending)", cond)
	}

	// Relabelled into the filter: marked.
	got.SetLabels(nil)
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, c, left, func(u *unstructured.Unstructured) error { return gatewayMarked(u, u.GetGeneration()) })
}

func gateway(name string, labels map[string]string) *unstructured.Unstructured {
	u := obj("gateway.networking.k8s.io/v1", "Gateway", "standin", name, map[string]any{
		"gatewayClassName": "envoy",
		"listeners": []any{
			map[string]any{"name": "http", "protocol": "HTTP", "port": int64(80)},
			map[string]any{"name": "tls", "protocol": "TLS", "port": int64(443), "hostname": "www.example.com",
				"tls": map[string]any{"mode": "Passthrough"}},
		},
	})
	u.SetLabels(labels)
	return u
}

func obj(apiVersion, kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": spec}}
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func mustCreate(ctx context.Context, t *testing.T, c client.Client, u *unstructured.Unstructured) {
	t.Helper()
	if err := c.Create(ctx, u.DeepCopy()); err != nil {
		t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// waitFor gets u until ok accepts it (nil: the first read) and returns it.
func waitFor(ctx context.Context, t *testing.T, c client.Client, u *unstructured.Unstructured, ok func(*unstructured.Unstructured) error) *unstructured.Unstructured {
	t.Helper()
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(u.GroupVersionKind())
		err := c.Get(ctx, client.ObjectKeyFromObject(u), got)
		if err == nil && ok != nil {
			err = ok(got)
		}
		if err == nil {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func condition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	return findCondition(conds, typ)
}

func findCondition(conds []any, typ string) map[string]any {
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func conditionTrue(u *unstructured.Unstructured, typ string, gen int64) error {
	c := condition(u, typ)
	if c == nil || c["status"] != "True" || c["observedGeneration"] != gen {
		return fmt.Errorf("condition %s = %v, want True with observedGeneration %d", typ, c, gen)
	}
	return nil
}

func gatewayMarked(u *unstructured.Unstructured, gen int64) error {
	if u.GetGeneration() != gen {
		return fmt.Errorf("generation %d, want %d", u.GetGeneration(), gen)
	}
	for typ, reason := range map[string]string{"Accepted": "Accepted", "Programmed": "Programmed"} {
		if err := conditionTrue(u, typ, gen); err != nil {
			return err
		}
		if r := condition(u, typ)["reason"]; r != reason {
			return fmt.Errorf("condition %s has reason %v, want %s", typ, r, reason)
		}
	}
	return nil
}

// checkListeners: one status entry per spec listener, with its route kinds, no
// attached routes, and Accepted, Programmed and ResolvedRefs True at the generation.
func checkListeners(t *testing.T, u *unstructured.Unstructured, kinds map[string][]string) {
	t.Helper()
	ls, _, _ := unstructured.NestedSlice(u.Object, "status", "listeners")
	if len(ls) != len(kinds) {
		t.Errorf("%d status.listeners, want %d: %v", len(ls), len(kinds), ls)
	}
	for _, l := range ls {
		m := l.(map[string]any)
		name, _ := m["name"].(string)
		want, ok := kinds[name]
		if !ok {
			t.Errorf("status.listeners has %q, not in spec", name)
			continue
		}
		var got []string
		for _, k := range m["supportedKinds"].([]any) {
			km := k.(map[string]any)
			if km["group"] != "gateway.networking.k8s.io" {
				t.Errorf("listener %s: supported kind %v has group %v", name, km["kind"], km["group"])
			}
			got = append(got, km["kind"].(string))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("listener %s supportedKinds = %v, want %v", name, got, want)
		}
		if m["attachedRoutes"] != int64(0) {
			t.Errorf("listener %s attachedRoutes = %v, want 0", name, m["attachedRoutes"])
		}
		conds, _ := m["conditions"].([]any)
		for _, typ := range []string{"Accepted", "Programmed", "ResolvedRefs"} {
			c := findCondition(conds, typ)
			if c == nil || c["status"] != "True" || c["reason"] != typ || c["observedGeneration"] != u.GetGeneration() {
				t.Errorf("listener %s condition %s = %v, want True, reason %s, observedGeneration %d", name, typ, c, typ, u.GetGeneration())
			}
		}
	}
}

// checkStatusWriter: the status was written through the status subresource by the
// StandIn's field manager.
func checkStatusWriter(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == StandInFieldManager && mf.Subresource == "status" {
			return
		}
	}
	var got []string
	for _, mf := range u.GetManagedFields() {
		got = append(got, mf.Manager+"/"+mf.Subresource)
	}
	t.Errorf("%s %s: no managedFields entry of %s on the status subresource: %v", u.GetKind(), u.GetName(), StandInFieldManager, got)
}
