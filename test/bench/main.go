// Command bench measures the controller against the goals of product.md §6 on
// a local kube-apiserver + etcd: how long N tenants take to converge from cold,
// how fast a new HTTPRoute gets its listener (p50/p99) with N tenants loaded,
// and how many write requests the controller sends during resyncs where
// nothing changed. It prints numbers; it asserts nothing (see test/controller
// for the assertions).
//
//	KUBEBUILDER_ASSETS=... go run ./test/bench -tenants 1000 -routes 10
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// writeCounter counts the requests that change state.
type writeCounter struct {
	next   http.RoundTripper
	writes atomic.Int64
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		w.writes.Add(1)
	}
	return w.next.RoundTrip(r)
}

func run() error {
	tenants := flag.Int("tenants", 1000, "tenants to load")
	routes := flag.Int("routes", 10, "HTTPRoutes per tenant")
	samples := flag.Int("samples", 20, "new HTTPRoutes timed for the reaction latency")
	workers := flag.Int("workers", 8, "controller workers")
	quiet := flag.Duration("quiet", 20*time.Second, "window in which writes are counted during resyncs")
	resync := flag.Duration("resync", 5*time.Second, "resync period during the quiet window")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = 2000, 4000
	c, err := client.New(fast, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}

	t0 := time.Now()
	if err := loadTenants(ctx, c, *tenants, *routes); err != nil {
		return err
	}
	fmt.Printf("loaded %d tenants, %d namespaces, %d HTTPRoutes in %s\n", *tenants, 3**tenants, *tenants**routes, time.Since(t0).Round(time.Millisecond))
	gtrs, err := loadGTRs(ctx, c, time.Hour)
	if err != nil {
		return err
	}

	counter := &writeCounter{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
	mgr, _, err := controller.NewManager(ctx, cfg, controller.ManagerOptions{
		MetricsAddr: "0", ProbeAddr: "0", QPS: 500, Burst: 1000, Options: controller.Options{Workers: *workers},
	})
	if err != nil {
		return err
	}
	started := time.Now()
	go func() { _ = mgr.Start(ctx) }()
	if err := waitConverged(ctx, c, gtrs, *tenants, 10*time.Minute); err != nil {
		return err
	}
	cold := time.Since(started)
	fmt.Printf("cold convergence: %d tenants × %d GlobalTenantResources in %s (%d writes)\n", *tenants, len(gtrs), cold.Round(time.Millisecond), counter.writes.Load())
	printMetrics()
	printAPIServerTime(ctx, env.Config)
	for _, name := range gtrs {
		g := &v1alpha1.GlobalTenantResource{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, g); err == nil {
			b, _ := json.Marshal(g)
			fmt.Printf("   %s: %d items, object size %d KiB\n", name, len(g.Status.ProcessedItems), len(b)/1024)
		}
	}

	lat, err := routeLatency(ctx, c, *tenants, *samples)
	if err != nil {
		return err
	}
	fmt.Printf("new HTTPRoute → listener (%d samples, %d tenants loaded): p50 %s, p99 %s, max %s\n",
		len(lat), *tenants, pct(lat, 50), pct(lat, 99), lat[len(lat)-1])

	// Shorten the resync so several pass in the window, let the spec change
	// settle, then count.
	for _, name := range gtrs {
		patch := []byte(fmt.Sprintf(`{"spec":{"resyncPeriod":%q}}`, resync.String()))
		g := &v1alpha1.GlobalTenantResource{}
		g.Name = name
		if err := c.Patch(ctx, g, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			return err
		}
	}
	if err := waitConverged(ctx, c, gtrs, *tenants, 5*time.Minute); err != nil {
		return err
	}
	time.Sleep(2 * *resync)
	before := counter.writes.Load()
	time.Sleep(*quiet)
	printMetrics()
	fmt.Printf("quiet resyncs: %d write requests in %s with resyncPeriod %s (≈%d resyncs of %d pairs)\n",
		counter.writes.Load()-before, *quiet, *resync, int(*quiet / *resync), *tenants*len(gtrs))
	return nil
}

// loadTenants creates tenants t0000…, each with two namespaces, a -system
// namespace and `routes` HTTPRoutes with one hostname each.
func loadTenants(ctx context.Context, c client.Client, n, routes int) error {
	name := func(i int) string { return fmt.Sprintf("t%04d", i) }
	// Namespaces and tenants first, routes after: routes need their namespace.
	var first, second []*unstructured.Unstructured
	for i := 0; i < n; i++ {
		t := name(i)
		for _, ns := range []string{t + "-a", t + "-b"} {
			first = append(first, obj("v1", "Namespace", "", ns, map[string]string{"capsule.clastix.io/tenant": t}, nil))
		}
		first = append(first, obj("v1", "Namespace", "", "tenant-"+t+"-system", nil, nil))
		tn := obj("capsule.clastix.io/v1beta2", "Tenant", "", t, nil, map[string]any{"owners": []any{map[string]any{"kind": "User", "name": t}}})
		tn.Object["status"] = testenv.TenantStatus(map[string]any{"namespaces": []any{t + "-a", t + "-b"}})
		first = append(first, tn)
		for r := 0; r < routes; r++ {
			second = append(second, route(t, fmt.Sprintf("%s-%c", t, "ab"[r%2]), fmt.Sprintf("r%02d", r), fmt.Sprintf("r%02d.%s.example.com", r, t)))
		}
	}
	if err := createAll(ctx, c, first); err != nil {
		return err
	}
	return createAll(ctx, c, second)
}

// createAll creates objects with 16 concurrent requests and returns the first error.
func createAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	work := make(chan *unstructured.Unstructured)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := create(ctx, c, u); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, u := range objs {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

func obj(apiVersion, kind, namespace, name string, labels map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetLabels(labels)
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

func route(tenantName, namespace, name, host string) *unstructured.Unstructured {
	return obj("gateway.networking.k8s.io/v1", "HTTPRoute", namespace, name, map[string]string{"projectcapsule.dev/tenant": tenantName},
		map[string]any{"hostnames": []any{host}, "rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": "app", "port": int64(80)}}}}})
}

// create creates an object; a Tenant's status is written through its subresource.
func create(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	status, hasStatus := u.Object["status"]
	delete(u.Object, "status")
	if err := c.Create(ctx, u); err != nil {
		return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if hasStatus {
		u.Object["status"] = status
		return c.Status().Update(ctx, u)
	}
	return nil
}

// loadGTRs creates the seed example's GlobalTenantResources with a given resync.
func loadGTRs(ctx context.Context, c client.Client, resync time.Duration) ([]string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	items, err := manifest.ReadPaths([]string{root + "/samples/capsule-envoy-gateway.yaml"})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, it := range items {
		u := it.Object
		if err := unstructured.SetNestedField(u.Object, resync.String(), "spec", "resyncPeriod"); err != nil {
			return nil, err
		}
		if err := c.Create(ctx, u); err != nil {
			return nil, err
		}
		names = append(names, u.GetName())
	}
	return names, nil
}

func waitConverged(ctx context.Context, c client.Client, names []string, tenants int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		done := 0
		var last string
		for _, n := range names {
			g := &v1alpha1.GlobalTenantResource{}
			if err := c.Get(ctx, client.ObjectKey{Name: n}, g); err != nil {
				return err
			}
			cond := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ConditionReady)
			if cond != nil && cond.Status == metav1.ConditionTrue && g.Status.ObservedGeneration == g.Generation && g.Status.TenantCount == tenants {
				done++
			} else if cond != nil {
				last = n + ": " + cond.Message
			}
		}
		if done == len(names) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not converged after %s (%s)", timeout, last)
		}
		// Once a second: these statuses are large, and reading them faster
		// would load the apiserver being measured.
		time.Sleep(time.Second)
	}
}

// routeLatency creates HTTPRoutes one at a time and times each until its
// hostname is a listener of the tenant's Gateway.
func routeLatency(ctx context.Context, c client.Client, tenants, samples int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < samples; i++ {
		t := fmt.Sprintf("t%04d", (i*7919)%tenants)
		host := fmt.Sprintf("new%02d.%s.example.com", i, t)
		start := time.Now()
		if err := create(ctx, c, route(t, t+"-a", fmt.Sprintf("new%02d", i), host)); err != nil {
			return nil, err
		}
		for {
			gw := &unstructured.Unstructured{}
			gw.SetAPIVersion("gateway.networking.k8s.io/v1")
			gw.SetKind("Gateway")
			if err := c.Get(ctx, client.ObjectKey{Namespace: "tenant-" + t + "-system", Name: "tenant-" + t + "-gateway"}, gw); err != nil {
				return nil, err
			}
			if hasListener(gw, host) {
				break
			}
			if time.Since(start) > time.Minute {
				return nil, fmt.Errorf("listener for %s did not appear in a minute", host)
			}
			time.Sleep(5 * time.Millisecond)
		}
		out = append(out, time.Since(start))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func hasListener(gw *unstructured.Unstructured, host string) bool {
	ls, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	for _, l := range ls {
		if m, ok := l.(map[string]any); ok && m["hostname"] == host {
			return true
		}
	}
	return false
}

func pct(d []time.Duration, p int) time.Duration {
	i := (len(d)*p + 99) / 100
	return d[min(max(i-1, 0), len(d)-1)].Round(time.Millisecond)
}

// printMetrics prints the controller's own counters, summed over GlobalTenantResources.
func printMetrics() {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return
	}
	var parts []string
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "tenantgen_") {
			continue
		}
		var sum, count float64
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				sum += h.GetSampleSum()
				count += float64(h.GetSampleCount())
			} else if c := m.GetCounter(); c != nil {
				count += c.GetValue()
			}
		}
		if strings.HasSuffix(name, "_seconds") {
			parts = append(parts, fmt.Sprintf("pair reconciles %.0f (mean %.1fms)", count, 1000*sum/max(count, 1)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %.0f", strings.TrimPrefix(name, "tenantgen_"), count))
		}
	}
	sort.Strings(parts)
	fmt.Println("   controller:", strings.Join(parts, ", "))
}

// printAPIServerTime prints where the apiserver spent its request time so far,
// by verb and resource (its own apiserver_request_duration_seconds metric).
func printAPIServerTime(ctx context.Context, cfg *rest.Config) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return
	}
	sums := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_duration_seconds_sum{") {
			continue
		}
		label := func(k string) string {
			i := strings.Index(line, k+`="`)
			if i < 0 {
				return ""
			}
			rest := line[i+len(k)+2:]
			return rest[:strings.IndexByte(rest, '"')]
		}
		var v float64
		fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
		key := label("verb") + " " + label("resource")
		if sub := label("subresource"); sub != "" {
			key += "/" + sub
		}
		sums[key] += v
	}
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range sums {
		if !strings.HasPrefix(k, "WATCH") {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var parts []string
	for _, e := range all[:min(len(all), 8)] {
		parts = append(parts, fmt.Sprintf("%s %.1fs", e.k, e.v))
	}
	fmt.Println("   apiserver request time so far:", strings.Join(parts, ", "))
}
