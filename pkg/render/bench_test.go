package render_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
)

// seedProgram compiles the seed example's managed-envoy-gateway GTR as kept in samples/.
func seedProgram(tb testing.TB) *render.Program {
	tb.Helper()
	items, err := manifest.ReadPaths([]string{"../../samples/capsule-envoy-gateway.yaml"})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := snapshot.New(items)
	if err != nil {
		tb.Fatal(err)
	}
	for _, g := range s.GTRs {
		if g.Name == "managed-envoy-gateway" {
			p, err := render.Compile(g.GlobalTenantResource)
			if err != nil {
				tb.Fatal(err)
			}
			return p
		}
	}
	tb.Fatal("no managed-envoy-gateway in samples/capsule-envoy-gateway.yaml")
	return nil
}

// seedWorld has n tenants, each with two namespaces and routes HTTPRoutes
// (one hostname each) labelled for it, spread over its namespaces.
func seedWorld(tb testing.TB, n, routes int) *snapshot.Snapshot {
	tb.Helper()
	var objs []*unstructured.Unstructured
	for i := range n {
		name := fmt.Sprintf("t%04d", i)
		nss := []string{name + "-dev", name + "-prod"}
		tn := tenantObj(name, nss...)
		with(tn, "spec.data.networking.ingress.bandwidth", "100M")
		objs = append(objs, tn, namespaceObj(nss[0], name), namespaceObj(nss[1], name))
		for r := range routes {
			objs = append(objs, route(nss[r%2], fmt.Sprintf("r%02d", r), name, fmt.Sprintf("r%02d.%s.example.com", r, name)))
		}
	}
	return world(tb, objs...)
}

// BenchmarkSeed1000Tenants renders the seed template for 1,000 tenants × 10
// routes per iteration: ns/op is the time for all 1,000 (target ≤ 0.5 s).
func BenchmarkSeed1000Tenants(b *testing.B) {
	p := seedProgram(b)
	w := seedWorld(b, 1000, 10)
	tenants := w.Tenants.Tenants()
	// Check once that the render is the real thing: EnvoyProxy and a Gateway
	// with the challenge listener and one HTTPS listener per hostname.
	objs := renderTenant(b, p, w, tenants[0])
	if len(objs) != 2 {
		b.Fatalf("rendered %v", refs(objs))
	}
	listeners, _, _ := unstructured.NestedSlice(find(b, objs, "Gateway tenant-t0000-system/tenant-t0000-gateway").Object, "spec", "listeners")
	if len(listeners) != 11 {
		b.Fatalf("%d listeners, want 11", len(listeners))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, t := range tenants {
			if _, err := p.Tenant(w, t); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tenants)), "ns/tenant")
}

// BenchmarkSeed1000TenantsParallel is the same work spread over GOMAXPROCS
// goroutines, as the controller's workers render: a Program is safe for
// concurrent use.
func BenchmarkSeed1000TenantsParallel(b *testing.B) {
	p := seedProgram(b)
	w := seedWorld(b, 1000, 10)
	tenants := w.Tenants.Tenants()
	workers := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for i := range workers {
			wg.Go(func() {
				for j := i; j < len(tenants); j += workers {
					if _, err := p.Tenant(w, tenants[j]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tenants)), "ns/tenant")
}

// BenchmarkDecodeCost measures what decoding a rendered document allocates
// per byte of its text (the render charges decodeFactor per byte): it
// reports allocated-bytes/text-byte.
func BenchmarkDecodeCost(b *testing.B) {
	var buf strings.Builder
	buf.WriteString("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: tenant-solar-system, labels: {a: b}}\nspec:\n  listeners:\n")
	for i := range 50 {
		fmt.Fprintf(&buf, "    - name: l%d\n      port: 443\n      protocol: HTTPS\n      hostname: \"h%d.solar.example.com\"\n      tls: {mode: Terminate, certificateRefs: [{kind: Secret, name: s%d}]}\n", i, i, i)
	}
	doc := manifest.Document{Line: 1, Text: buf.String()}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if _, err := manifest.Decode(doc); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(doc.Text)), "allocated-bytes/text-byte")
	// What stays: the decoded objects, measured after a collection.
	kept := make([]any, 100)
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range kept {
		kept[i], _ = manifest.Decode(doc)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(kept))/float64(len(doc.Text)), "kept-bytes/text-byte")
	runtime.KeepAlive(kept)
}
