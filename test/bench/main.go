// Command bench measures the controller against the performance goals of
// issue 9 on a local kube-apiserver + etcd, and prints numbers (it asserts
// nothing; test/controller holds the assertions).
//
// One run has two phases, each on a fresh control plane loaded with the same
// fixtures (N tenants, each with -namespaces namespaces, -routes labelled
// HTTPRoutes and its tenant-<t>-system namespace):
//
//  1. ceiling: every object the seed GlobalTenantResources render (offline,
//     with pkg/snapshot) is server-side applied by -clients goroutines with
//     no rate limit and no controller. This is the apiserver's write ceiling
//     for exactly the objects the controller must write, on this machine.
//     Then the same clients create one TenantInventory per pair, as the
//     controller writes them: applies plus inventories is the inventory
//     floor, the best the one-inventory-per-pair model can reach here. The
//     CPU the bench's clients used for these writes is printed next to the
//     controller's: it is the part of the controller's CPU that the floor
//     already pays for.
//  2. controller: the real tenantgen binary runs against the second control
//     plane; the bench times cold convergence, reads the controller's own
//     metrics endpoint for its requests, its peak RSS from /proc, the size of
//     the objects it writes, the latency of a new HTTPRoute and the writes of
//     resyncs where nothing changed.
//
// The two phases run one after the other so that they never compete for the
// machine's cores.
//
//	KUBEBUILDER_ASSETS=... go run ./test/bench -tenants 1000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/pkg/health"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	tenants, routes, namespaces int
	samples, workers, clients   int
	quiet, resync, timeout      time.Duration
	binary                      string
	qps                         float64
	burst                       int
	inProcess                   bool
	keepLogs                    bool
	split                       bool
	memLimit                    string
	apiProfile                  string        // path prefix of the apiserver's CPU profiles; empty: none
	apiProfileFor               time.Duration // how long each of them samples
	convergeProfile             string        // the bench process's CPU profile of the cold convergence; empty: none
	planeCPUs                   []int         // with split: kube-apiserver's and etcd's
}

func run() error {
	var cfg config
	flag.IntVar(&cfg.tenants, "tenants", 1000, "tenants to load")
	flag.IntVar(&cfg.routes, "routes", 3, "labelled HTTPRoutes per tenant")
	flag.IntVar(&cfg.namespaces, "namespaces", 1, "tenant namespaces per tenant (besides tenant-<t>-system)")
	flag.IntVar(&cfg.samples, "samples", 20, "new HTTPRoutes timed for the reaction latency")
	flag.IntVar(&cfg.workers, "workers", 32, "controller --workers (as many as the ceiling's clients)")
	flag.IntVar(&cfg.clients, "clients", 32, "parallel clients applying for the write ceiling")
	flag.DurationVar(&cfg.quiet, "quiet", 20*time.Second, "window in which writes are counted during resyncs")
	flag.DurationVar(&cfg.resync, "resync", 5*time.Second, "resync period during the quiet window")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "give up on a convergence after this long")
	flag.StringVar(&cfg.binary, "tenantgen", "bin/tenantgen", "the tenantgen binary (relative paths are from the repository root)")
	flag.Float64Var(&cfg.qps, "qps", 500, "controller --kube-api-qps")
	flag.IntVar(&cfg.burst, "burst", 1000, "controller --kube-api-burst")
	flag.BoolVar(&cfg.inProcess, "inprocess", false, "run the controller inside the bench instead of the binary, so that -cpuprofile/-memprofile "+
		"cover it (RSS then includes the bench; request counts include the bench's few polls)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process (with -inprocess: of the controller too)")
	flag.StringVar(&cfg.convergeProfile, "cpuprofile-converge", "", "write a CPU profile of the bench process from the controller's start to cold convergence only "+
		"(with -inprocess: the controller's CPU while converging, without the fixtures, the ceiling and the quiet window); not with -cpuprofile")
	memProfile := flag.String("memprofile", "", "write a heap profile of the bench process after cold convergence (with -inprocess: of the controller too)")
	flag.BoolVar(&cfg.split, "split", false, "run kube-apiserver and etcd on the first half of the CPUs, the bench and the controller on the other half (see cpus.go)")
	flag.StringVar(&cfg.memLimit, "memlimit", "", "the controller binary's --memory-limit (e.g. 1Gi): the container's limits.memory, as the chart passes it; empty: none")
	flag.StringVar(&cfg.apiProfile, "apiprofile", "", "write CPU profiles of kube-apiserver, from the start of the ceiling, of the inventory floor's creates and of the convergence, to PREFIX-ceiling.pprof, PREFIX-inventories.pprof and PREFIX-controller.pprof")
	flag.DurationVar(&cfg.apiProfileFor, "apiprofile-for", 8*time.Second, "how long each -apiprofile samples (keep it under the ceiling's time)")
	flag.BoolVar(&cfg.keepLogs, "keep", true, "keep the temporary directory with the controller log")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())

	if *cpuProfile != "" && cfg.convergeProfile != "" {
		return fmt.Errorf("-cpuprofile and -cpuprofile-converge exclude each other (one CPU profile at a time)")
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(cfg.binary) {
		cfg.binary = filepath.Join(root, cfg.binary)
	}
	if !cfg.inProcess {
		if _, err := os.Stat(cfg.binary); err != nil {
			return fmt.Errorf("%w (run `make build` first)", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cpus := "CPUs shared by all"
	if cfg.split {
		plane, own, err := cpuHalves()
		if err != nil {
			return err
		}
		// Pinned before the control planes start: they inherit it, and are
		// moved to their own half once running; the controller keeps it.
		if err := pin(os.Getpid(), own); err != nil {
			return err
		}
		cfg.planeCPUs = plane
		cpus = fmt.Sprintf("split CPUs: kube-apiserver and etcd on %v, bench and controller on %v", plane, own)
	}
	fmt.Printf("bench: %d tenants × (%d namespace(s) + system namespace, %d HTTPRoutes), 2 seed GlobalTenantResources; controller --workers %d --kube-api-qps %g --kube-api-burst %d; %s\n",
		cfg.tenants, cfg.namespaces, cfg.routes, cfg.workers, cfg.qps, cfg.burst, cpus)
	if cfg.memLimit != "" {
		fmt.Printf("controller memory limit %s (as the chart passes limits.memory; the controller keeps the Go runtime under 90%% of it)\n", cfg.memLimit)
		if cfg.inProcess {
			return fmt.Errorf("-memlimit applies to the controller binary, not to -inprocess")
		}
	}

	sum := &summary{tenants: cfg.tenants}
	if err := ceiling(ctx, cfg, root, sum); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	if err := controllerPhase(ctx, cfg, root, sum, *memProfile); err != nil {
		sum.print()
		return fmt.Errorf("controller: %w", err)
	}
	sum.print()
	return nil
}

// ---------------------------------------------------------------------------
// Fixtures

// fixtures are the objects both phases load: creates come in two waves
// because routes need their namespace to exist.
type fixtures struct {
	first, second []*unstructured.Unstructured
}

func tenantName(i int) string { return fmt.Sprintf("t%04d", i) }

func tenantNamespace(t string, j int) string { return fmt.Sprintf("%s-ns%d", t, j) }

// newFixtures builds fresh objects every time: creating an object fills in
// server fields, and the snapshot must see objects as a user would write them.
func newFixtures(cfg config) fixtures {
	var f fixtures
	for i := 0; i < cfg.tenants; i++ {
		t := tenantName(i)
		var nss []any
		for j := 0; j < cfg.namespaces; j++ {
			ns := tenantNamespace(t, j)
			nss = append(nss, ns)
			f.first = append(f.first, obj("v1", "Namespace", "", ns, map[string]string{"capsule.clastix.io/tenant": t}, nil))
		}
		// Where the seed GTRs write the tenant's Gateway, EnvoyProxy and Issuer;
		// not a tenant namespace (tenants do not own it).
		f.first = append(f.first, obj("v1", "Namespace", "", "tenant-"+t+"-system", nil, nil))
		tn := obj("capsule.clastix.io/v1beta2", "Tenant", "", t, nil, map[string]any{"owners": []any{map[string]any{"kind": "User", "name": t}}})
		tn.Object["status"] = testenv.TenantStatus(map[string]any{"namespaces": nss})
		f.first = append(f.first, tn)
		for r := 0; r < cfg.routes; r++ {
			f.second = append(f.second, route(t, tenantNamespace(t, r%cfg.namespaces), fmt.Sprintf("r%02d", r), fmt.Sprintf("r%02d.%s.example.com", r, t)))
		}
	}
	return f
}

func (f fixtures) count() int { return len(f.first) + len(f.second) }

// load creates the fixtures with 16 concurrent requests.
func (f fixtures) load(ctx context.Context, c client.Client) error {
	if err := createAll(ctx, c, f.first, 16); err != nil {
		return err
	}
	return createAll(ctx, c, f.second, 16)
}

// createAll creates objects with n concurrent requests and returns the first error.
func createAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, n int) error {
	return parallel(len(objs), n, func(i int) error { return create(ctx, c, objs[i]) })
}

// parallel runs do(0…count-1) on n goroutines and returns the first error;
// after an error the remaining work is skipped.
func parallel(count, n int, do func(i int) error) error {
	var next atomic.Int64
	var failed atomic.Bool
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				if err := do(i); err != nil {
					failed.Store(true)
					errs <- err
					return
				}
			}
		}()
	}
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

// create creates an object; a Tenant's status is written through its
// subresource, as Capsule would.
func create(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	u = u.DeepCopy()
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

// seedGTRs reads the seed example's GlobalTenantResources with a given resync.
func seedGTRs(root string, resync time.Duration) ([]manifest.Item, error) {
	items, err := manifest.ReadPaths([]string{filepath.Join(root, "samples", "capsule-envoy-gateway.yaml")})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if err := unstructured.SetNestedField(it.Object.Object, resync.String(), "spec", "resyncPeriod"); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// startEnv starts a control plane and a client without client-side rate
// limit (QPS < 0), so that loading and the ceiling are bound by the apiserver.
func startEnv(cfg config) (*testenv.Env, client.Client, error) {
	env, err := testenv.Start()
	if err != nil {
		return nil, nil, err
	}
	if cfg.split {
		if err := pinControlPlane(cfg.planeCPUs); err != nil {
			_ = env.Stop()
			return nil, nil, err
		}
	}
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = -1, 0
	c, err := client.New(fast, client.Options{Scheme: env.Scheme})
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	return env, c, nil
}

// ---------------------------------------------------------------------------
// Phase 1: the apiserver's write ceiling

func ceiling(ctx context.Context, cfg config, root string, sum *summary) error {
	fx := newFixtures(cfg)
	gtrs, err := seedGTRs(root, time.Hour)
	if err != nil {
		return err
	}
	// Render before loading: the snapshot wants the objects as written.
	t0 := time.Now()
	var items []manifest.Item
	for _, u := range append(append([]*unstructured.Unstructured{}, fx.first...), fx.second...) {
		items = append(items, manifest.Item{Object: u.DeepCopy(), File: "bench"})
	}
	items = append(items, gtrs...)
	snap, err := snapshot.New(items)
	if err != nil {
		return err
	}
	res, err := snap.Render("")
	if err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("offline render: %d errors, first: %w", len(res.Errors), res.Errors[0])
	}
	// The controller adds its hash annotation before applying; adding it here
	// makes the ceiling's request bodies those the controller sends.
	desired := make([]*unstructured.Unstructured, len(res.Objects))
	for i, o := range res.Objects {
		u := o.DeepCopy()
		h, err := apply.Hash(u)
		if err != nil {
			return err
		}
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[apply.AnnotationHash] = h
		u.SetAnnotations(ann)
		desired[i] = u
	}
	fmt.Printf("rendered offline: %d objects for %d tenants in %s\n", len(desired), cfg.tenants, time.Since(t0).Round(time.Millisecond))
	seen := map[schema.GroupVersionKind]bool{}
	for _, u := range desired {
		if gvk := u.GroupVersionKind(); !seen[gvk] {
			seen[gvk] = true
			sum.generatedKinds = append(sum.generatedKinds, gvk)
		}
	}

	env, c, err := startEnv(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	t1 := time.Now()
	if err := fx.load(ctx, c); err != nil {
		return err
	}
	fmt.Printf("ceiling env: loaded %d fixture objects in %s\n", fx.count(), time.Since(t1).Round(time.Millisecond))

	start, cpu := time.Now(), readCPU(os.Getpid(), "the bench's clients")
	profiled := profileAPIServer(ctx, env.Config, cfg.apiProfile, "ceiling", cfg.apiProfileFor)
	live := make([]*unstructured.Unstructured, len(desired))
	err = parallel(len(desired), cfg.clients, func(i int) error {
		u := desired[i].DeepCopy()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("ceiling"), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		live[i] = u // the apply's response: what the controller's inventories record
		return nil
	})
	if err != nil {
		return err
	}
	sum.ceiling = time.Since(start)
	sum.ceilingWrites = len(desired)
	fmt.Printf("ceiling: %d server-side applies in %s (%.0f/s, %d clients)\n",
		len(desired), sum.ceiling.Round(time.Millisecond), float64(len(desired))/sum.ceiling.Seconds(), cfg.clients)
	sum.clientCPU += cpu.print(sum.ceiling)
	profiled()
	if err := inventoryFloor(ctx, cfg, env.Config, c, gtrs, live, sum); err != nil {
		return fmt.Errorf("inventory floor: %w", err)
	}
	printAPIServerTime(ctx, env.Config)
	return nil
}

// inventoryFloor times, after the ceiling's applies and with the same
// clients, the one write per (GTR, tenant) pair the inventory model adds:
// creating the pair's TenantInventory as the controller writes it (entries
// with the applied objects' uids, Ready and Healthy conditions). Applies plus
// these creates, with no controller, is the floor of the model on this
// machine: what the controller can reach at best, whatever its own cost.
func inventoryFloor(ctx context.Context, cfg config, rc *rest.Config, c client.Client, gtrItems []manifest.Item, live []*unstructured.Unstructured, sum *summary) error {
	gtrs := map[string]*v1alpha1.GlobalTenantResource{}
	for _, it := range gtrItems {
		g := &v1alpha1.GlobalTenantResource{}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(it.Object.Object, g); err != nil {
			return err
		}
		if err := c.Create(ctx, g); err != nil {
			return err
		}
		gtrs[g.Name] = g
	}
	rules, err := health.Compile(nil)
	if err != nil {
		return err
	}
	type pair struct{ gtr, tenant string }
	objs := map[pair][]*unstructured.Unstructured{}
	var order []pair
	for _, u := range live {
		p := pair{u.GetLabels()[v1alpha1.LabelGlobalTenantResource], u.GetLabels()[v1alpha1.LabelTenant]}
		if gtrs[p.gtr] == nil {
			return fmt.Errorf("%s %s/%s: no GlobalTenantResource %q", u.GetKind(), u.GetNamespace(), u.GetName(), p.gtr)
		}
		if objs[p] == nil {
			order = append(order, p)
		}
		objs[p] = append(objs[p], u)
	}
	invs := make([]*v1alpha1.TenantInventory, len(order))
	for i, p := range order {
		var entries []v1alpha1.InventoryEntry
		hs := &health.Summary{}
		for _, u := range objs[p] {
			ref := inventory.RefOf(u)
			entries = append(entries, inventory.Entry(ref, u.GetUID(), false))
			hs.Add(ref.String(), rules.Assess(u))
		}
		invs[i] = inventory.New(gtrs[p.gtr], p.tenant)
		inventory.Record(invs[i], entries, 0, inventory.Applied(len(entries), 0), hs)
	}
	start, cpu := time.Now(), readCPU(os.Getpid(), "the bench's clients")
	profiled := profileAPIServer(ctx, rc, cfg.apiProfile, "inventories", cfg.apiProfileFor)
	err = parallel(len(invs), cfg.clients, func(i int) error {
		return c.Create(ctx, invs[i], client.FieldOwner("ceiling"))
	})
	if err != nil {
		return err
	}
	sum.inventories = time.Since(start)
	profiled()
	fmt.Printf("inventory floor: + %d TenantInventory creates in %s (%.0f/s); applies + inventories = %s = %.2f× the ceiling: the best the one-inventory-per-pair model can do here\n",
		len(invs), sum.inventories.Round(time.Millisecond), float64(len(invs))/sum.inventories.Seconds(),
		sum.floor().Round(time.Millisecond), sum.floorRatio())
	sum.clientCPU += cpu.print(sum.inventories)
	return nil
}

// ---------------------------------------------------------------------------
// Phase 2: the controller

// proc is the running controller: a subprocess, or the bench itself with -inprocess.
type proc struct {
	pid     int
	metrics string        // URL of its Prometheus endpoint
	exited  chan struct{} // closed when it stops
	exitErr error
	stop    func()
	// baseline are the counters before the controller started (non-zero
	// only in process, where the bench's own requests share the registry).
	baseline samples
}

func controllerPhase(ctx context.Context, cfg config, root string, sum *summary, memProfile string) error {
	env, c, err := startEnv(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	fx := newFixtures(cfg)
	t0 := time.Now()
	if err := fx.load(ctx, c); err != nil {
		return err
	}
	gtrItems, err := seedGTRs(root, time.Hour)
	if err != nil {
		return err
	}
	var gtrs []string
	for _, it := range gtrItems {
		if err := c.Create(ctx, it.Object.DeepCopy()); err != nil {
			return err
		}
		gtrs = append(gtrs, it.Object.GetName())
	}
	fmt.Printf("controller env: loaded %d fixture objects and %d GlobalTenantResources in %s\n", fx.count(), len(gtrs), time.Since(t0).Round(time.Millisecond))
	if err := warmWatchCaches(ctx, c, append([]schema.GroupVersionKind{v1alpha1.GroupVersion.WithKind("TenantInventory")}, sum.generatedKinds...)); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "tenantgen-bench-")
	if err != nil {
		return err
	}
	if !cfg.keepLogs {
		defer os.RemoveAll(dir)
	}
	stopProfile, err := startCPUProfile(cfg.convergeProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	p, err := startController(ctx, cfg, env, dir)
	if err != nil {
		return err
	}
	defer p.stop()
	started := time.Now()
	cpu := readCPU(p.pid, "controller")
	profiled := profileAPIServer(ctx, env.Config, cfg.apiProfile, "controller", cfg.apiProfileFor)

	// Cold convergence.
	first := timeFirstApply(p, started)
	if err := waitConverged(ctx, c, p, gtrs, cfg.tenants, cfg.timeout, true); err != nil {
		return err
	}
	sum.cold = time.Since(started)
	first.stop()
	stopProfile()
	cold, err := p.scrape()
	if err != nil {
		return err
	}
	sum.coldWrites, sum.coldConflicts = cold.writes(), cold.conflicts()
	fmt.Printf("cold convergence: %d tenants × %d GTRs in %s = %.2f× the ceiling (goal ≤ 1.5×), %.2f× the inventory floor\n",
		cfg.tenants, len(gtrs), sum.cold.Round(time.Millisecond), sum.ratio(), sum.cold.Seconds()/sum.floor().Seconds())
	fmt.Printf("   start-up: first apply %s after the controller's start\n", first)
	fmt.Printf("   controller requests: %d writes, %d reads; %d × 409 Conflict = %.1f%% of writes (goal ≤ 5%%)\n",
		int(sum.coldWrites), int(cold.reads()), int(sum.coldConflicts), pctOf(sum.coldConflicts, sum.coldWrites))
	fmt.Printf("   by method: %s; by code: %s\n", cold.byMethod(), cold.byCode())
	fmt.Printf("   tenantgen: %s\n", cold.tenantgen())
	sum.controllerCPU = cpu.print(sum.cold)
	profiled()
	printAPIServerTime(ctx, env.Config)
	sum.rssCold = p.peakRSS()
	fmt.Printf("controller peak RSS: %d MiB (goal ≤ 200 MiB at 1,000 tenants, ≤ 1 GiB at 10,000)\n", sum.rssCold>>20)
	// The heap goal is the live heap at the last collection times 1+GOGC/100.
	if goal, pct := cold.sum("go_memstats_next_gc_bytes", nil), cold.sum("go_gc_gogc_percent", nil); goal > 0 && pct > 0 && !cfg.inProcess {
		fmt.Printf("   live heap at the last GC ≈ %d MiB (heap goal %d MiB at GOGC %g)\n", int64(goal/(1+pct/100))>>20, int64(goal)>>20, pct)
	}
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			return err
		}
	}

	// Object sizes.
	if err := largestObjects(ctx, c, gtrs, sum); err != nil {
		return err
	}

	// Reaction to a new HTTPRoute with everything loaded.
	lat, err := routeLatency(ctx, c, cfg, cfg.samples)
	if err != nil {
		return err
	}
	inOrder := make([]string, len(lat))
	for i, d := range lat {
		inOrder[i] = d.Round(time.Millisecond).String()
	}
	slices.Sort(lat)
	sum.p50, sum.p99, sum.pmax = pct(lat, 50), pct(lat, 99), lat[len(lat)-1].Round(time.Millisecond)
	fmt.Printf("new HTTPRoute → listener (%d samples, %d tenants loaded): p50 %s, p99 %s, max %s (goal p99 ≤ 100ms)\n",
		len(lat), cfg.tenants, sum.p50, sum.p99, sum.pmax)
	fmt.Printf("   in the order taken: %s\n", strings.Join(inOrder, " "))

	// Quiet resyncs: shorten the resync so several pass in the window, let
	// the spec change settle (it bumps the generation, so every pair is
	// reconciled once more), wait out the resyncs already scheduled, then count.
	for _, name := range gtrs {
		patch := []byte(fmt.Sprintf(`{"spec":{"resyncPeriod":%q}}`, cfg.resync.String()))
		g := &v1alpha1.GlobalTenantResource{}
		g.Name = name
		if err := c.Patch(ctx, g, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			return err
		}
	}
	t1 := time.Now()
	if err := waitConverged(ctx, c, p, gtrs, cfg.tenants, cfg.timeout, false); err != nil {
		return err
	}
	fmt.Printf("resyncPeriod %s: GTRs Ready at the new generation after %s\n", cfg.resync, time.Since(t1).Round(time.Millisecond))
	// The GTR summary is not proof that every pair rendered the new
	// generation; the inventories are. Counting before they all have would
	// count the spec change's own writes as resync writes.
	n, err := waitInventories(ctx, c, gtrs, cfg.tenants, cfg.timeout)
	if err != nil {
		return err
	}
	fmt.Printf("   all %d TenantInventories at the new generation after %s\n", n, time.Since(t1).Round(time.Millisecond))
	time.Sleep(2 * cfg.resync)
	before, err := p.scrape()
	if err != nil {
		return err
	}
	// Four slices of the window tell a tail of the spec change (falling) from
	// writes every resync sends (steady).
	var slices []string
	prev := before
	for i := 0; i < 4; i++ {
		time.Sleep(cfg.quiet / 4)
		now, err := p.scrape()
		if err != nil {
			return err
		}
		slices = append(slices, strconv.Itoa(int(now.minus(prev).writes())))
		prev = now
	}
	after := prev
	delta := after.minus(before)
	sum.quietWrites, sum.quietConflicts, sum.quiet = delta.writes(), delta.conflicts(), cfg.quiet
	fmt.Printf("quiet resyncs: %d write requests in %s with resyncPeriod %s (≈%d resyncs of %d pairs; goal 0)\n",
		int(sum.quietWrites), cfg.quiet, cfg.resync, int(cfg.quiet/cfg.resync), cfg.tenants*len(gtrs))
	fmt.Printf("   writes per quarter of the window: %s\n", strings.Join(slices, ", "))
	fmt.Printf("   in the window: %d reads, %d × 409 (by method: %s); tenantgen: %s\n", int(delta.reads()), int(sum.quietConflicts), delta.byMethod(), delta.tenantgen())
	total := after
	fmt.Printf("409 Conflict overall: %d of %d writes = %.1f%% (goal ≤ 5%% converging, 0 quiet)\n",
		int(total.conflicts()), int(total.writes()), pctOf(total.conflicts(), total.writes()))
	sum.rssEnd = p.peakRSS()
	fmt.Printf("controller peak RSS at the end: %d MiB\n", sum.rssEnd>>20)
	printAPIServerTime(ctx, env.Config)
	return nil
}

// startController starts the tenantgen binary (or, with -inprocess, its
// manager in this process) against env, with its metrics on a free local port.
func startController(ctx context.Context, cfg config, env *testenv.Env, dir string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &proc{metrics: "http://" + addr + "/metrics", exited: make(chan struct{})}
	if cfg.inProcess {
		// Rate-limiter and request latencies say whether --kube-api-qps or
		// the apiserver holds the controller back; the binary does not export them.
		metrics.RegisterRESTClientMetrics(metrics.MetricRateLimiterLatency, metrics.MetricRequestLatency)
		p.baseline = gatherLocal()
		mctx, cancel := context.WithCancel(ctx)
		mgr, _, err := controller.NewManager(mctx, env.Config, controller.ManagerOptions{
			MetricsAddr: addr, ProbeAddr: "0", QPS: float32(cfg.qps), Burst: cfg.burst,
			Options: controller.Options{Workers: cfg.workers},
		})
		if err != nil {
			cancel()
			return nil, err
		}
		go func() { p.exitErr = mgr.Start(mctx); close(p.exited) }()
		p.pid = os.Getpid()
		p.stop = func() { cancel(); <-p.exited }
		fmt.Printf("controller: in process, metrics %s\n", p.metrics)
		return p, nil
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "controller.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.binary, "controller", "--kubeconfig", kubeconfig, "--leader-elect=false",
		"--metrics-bind-address", addr, "--health-probe-bind-address", "0",
		"--workers", strconv.Itoa(cfg.workers),
		"--kube-api-qps", strconv.FormatFloat(cfg.qps, 'g', -1, 64), "--kube-api-burst", strconv.Itoa(cfg.burst))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cfg.memLimit != "" {
		cmd.Env = append(os.Environ(), "TENANTGEN_MEMORY_LIMIT="+cfg.memLimit)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p.pid = cmd.Process.Pid
	go func() { p.exitErr = cmd.Wait(); logFile.Close(); close(p.exited) }()
	p.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
	}
	fmt.Printf("controller: %s (pid %d), log %s, metrics %s\n", cfg.binary, p.pid, logPath, p.metrics)
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

// pidCPUSeconds is a process's user and system CPU time so far (-1 when it
// cannot be read).
func pidCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, field 2, may hold spaces: count from after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// planeCPU is the CPU time so far of the control plane's processes, by
// command name: it tells how the apiserver's and etcd's share of the machine
// differs between the ceiling and the controller.
func planeCPU() map[string]float64 {
	out := map[string]float64{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if name != "kube-apiserver" && name != "etcd" {
			continue
		}
		if s := pidCPUSeconds(pid); s >= 0 {
			out[name] += s
		}
	}
	return out
}

// planeCPUSince prints the control plane's CPU time since before.
func planeCPUSince(before map[string]float64) string {
	now := planeCPU()
	return fmt.Sprintf("kube-apiserver %.1fs, etcd %.1fs", now["kube-apiserver"]-before["kube-apiserver"], now["etcd"]-before["etcd"])
}

// cpuReading is what the bench reads at the start of a phase to print the
// CPU the phase used: the whole machine's, the control plane's and that of
// the process that sends the writes (the bench's clients in the ceiling and
// the floor, the controller while it converges).
type cpuReading struct {
	pid        int
	who        string
	busy, proc float64
	plane      map[string]float64
}

func readCPU(pid int, who string) cpuReading {
	return cpuReading{pid: pid, who: who, busy: machineBusySeconds(), proc: pidCPUSeconds(pid), plane: planeCPU()}
}

// print prints the CPU used since the reading, in a phase that took d, and
// returns the writing process's share.
func (r cpuReading) print(d time.Duration) (writer float64) {
	writer = pidCPUSeconds(r.pid) - r.proc
	if busy := machineBusySeconds() - r.busy; busy > 0 {
		fmt.Printf("   CPU: whole machine %.1fs of %.1fs (%d cores); %s %.1fs (%.0f%% of it), %s\n",
			busy, d.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU(), r.who, writer, 100*writer/busy, planeCPUSince(r.plane))
	}
	return writer
}

// machineBusySeconds is the CPU time all cores spent outside idle and iowait so far.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // cpu user nice system idle iowait irq softirq steal
	busy := 0.0
	for i, v := range f[1:min(len(f), 9)] {
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}

// peakRSS is the process's high-water mark of resident memory (VmHWM), in bytes.
func (p *proc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// apiGet sends a GET for path to kube-apiserver with the bench's
// credentials; a status other than 200 is an error.
func apiGet(ctx context.Context, cfg *rest.Config, path string) (*http.Response, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	url := strings.TrimSuffix(cfg.Host, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return resp, nil
}

// profileAPIServer samples kube-apiserver's CPU through its own pprof
// endpoint (on by default) into prefix-phase.pprof, in the background; the
// returned func waits for it. Comparing the ceiling's profile with the
// controller's shows what the controller's requests cost the apiserver
// beyond the applies themselves.
func profileAPIServer(ctx context.Context, cfg *rest.Config, prefix, phase string, d time.Duration) (wait func()) {
	if prefix == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := func() error {
			resp, err := apiGet(ctx, cfg, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			f, err := os.Create(prefix + "-" + phase + ".pprof")
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(f, resp.Body)
			return err
		}()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
		}
	}()
	return func() { <-done }
}

// startCPUProfile starts a CPU profile written to path ("": none) and
// returns what stops it, which may be called more than once.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// waitConverged polls the GlobalTenantResources every pollEvery until every
// tenant of each is applied for the current generation. With progress,
// it prints how far they are every 15 seconds, which is what tells a slow
// convergence from a stuck one at 10,000 tenants.
func waitConverged(ctx context.Context, c client.Client, p *proc, names []string, tenants int, timeout time.Duration, progress bool) error {
	start := time.Now()
	lastPrint := start
	for {
		done := 0
		var state []string
		for _, n := range names {
			g := &v1alpha1.GlobalTenantResource{}
			if err := c.Get(ctx, client.ObjectKey{Name: n}, g); err != nil {
				return err
			}
			cond := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ConditionReady)
			// Converged = every tenant applied for the current spec. Ready also
			// needs the Gateways programmed and the Issuers registered, and no
			// Envoy Gateway or cert-manager runs here: that is their time, not ours.
			if g.Status.ObservedGeneration == g.Generation && g.Status.TenantCount == tenants && g.Status.ReadyTenants == tenants && g.Status.FailedTenants == 0 {
				done++
			}
			s := fmt.Sprintf("%s gen %d/%d tenants %d ready %d failed %d", n, g.Status.ObservedGeneration, g.Generation,
				g.Status.TenantCount, g.Status.ReadyTenants, g.Status.FailedTenants)
			if cond != nil {
				s += fmt.Sprintf(" Ready=%s %s", cond.Status, truncate(cond.Message, 120))
			}
			state = append(state, s)
		}
		if done == len(names) {
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("not converged after %s: %s", timeout, strings.Join(state, "; "))
		}
		if progress && time.Since(lastPrint) >= 15*time.Second {
			lastPrint = time.Now()
			extra := ""
			if m, err := p.scrape(); err == nil {
				extra = fmt.Sprintf(", %d writes, %d × 409", int(m.writes()), int(m.conflicts()))
			}
			fmt.Printf("   … %s: %s; RSS peak %d MiB%s\n", time.Since(start).Round(time.Second), strings.Join(state, "; "), p.peakRSS()>>20, extra)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("the controller exited: %v", p.exitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// warmWatchCaches has kube-apiserver fill its watch caches of kinds
// before the controller starts: a list at resourceVersion 0 is served from
// the cache, once the cache holds the kind. In a running cluster these
// caches are full (Envoy Gateway and cert-manager watch their kinds, and
// tenantgen its inventories since its first start); on a fresh
// kube-apiserver the first watch of a CRD waits for its cache, and the
// controller's start would be timed with that wait in it.
func warmWatchCaches(ctx context.Context, c client.Client, gvks []schema.GroupVersionKind) error {
	start := time.Now()
	var names []string
	for _, gvk := range gvks {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, l, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0", Limit: 1}}); err != nil {
			return fmt.Errorf("warming the watch cache of %s: %w", gvk.Kind, err)
		}
		names = append(names, gvk.Kind)
	}
	fmt.Printf("controller env: kube-apiserver's watch caches of %s filled in %s, as a running cluster has them\n",
		strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
	return nil
}

// firstApply times the controller's start-up, which the ceiling does not
// have: from its start to its first apply, read from its metrics every
// firstApplyEvery. It stops reading then: a scrape of the controller's
// metrics costs it a few milliseconds of CPU, and reading them every
// 100 ms throughout took a tenth of its CPU while converging.
type firstApply struct {
	done, stopped chan struct{}
	at            time.Duration
}

const firstApplyEvery = 50 * time.Millisecond

func timeFirstApply(p *proc, start time.Time) *firstApply {
	f := &firstApply{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(f.stopped)
		tick := time.NewTicker(firstApplyEvery)
		defer tick.Stop()
		for {
			select {
			case <-f.done:
				return
			case <-tick.C:
			}
			if m, err := p.scrape(); err == nil && m.sum("tenantgen_applies_total", nil) > 0 {
				f.at = time.Since(start)
				return
			}
		}
	}()
	return f
}

func (f *firstApply) stop() { close(f.done); <-f.stopped }

func (f *firstApply) String() string {
	if f.at == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (±%s)", f.at.Round(firstApplyEvery), firstApplyEvery)
}

// pollEvery is how often waitConverged reads the GlobalTenantResources: it
// sees a convergence on average half of it late, which at one second was
// about 2 % of a 1,000-tenant convergence (20 to 25 s).
const pollEvery = 100 * time.Millisecond

// waitInventories waits until every TenantInventory of the GTRs is Ready and
// rendered at its GTR's current generation, listing them every 2 seconds in
// pages (at 10,000 tenants there are 20,000). It returns how many there are.
func waitInventories(ctx context.Context, c client.Client, gtrs []string, tenants int, timeout time.Duration) (int, error) {
	start, first := time.Now(), true
	for {
		gen := map[string]int64{}
		for _, n := range gtrs {
			g := &v1alpha1.GlobalTenantResource{}
			if err := c.Get(ctx, client.ObjectKey{Name: n}, g); err != nil {
				return 0, err
			}
			gen[n] = g.Generation
		}
		current, total := 0, 0
		cont := ""
		for {
			list := &v1alpha1.TenantInventoryList{}
			if err := c.List(ctx, list, client.Limit(500), client.Continue(cont)); err != nil {
				return 0, err
			}
			for _, inv := range list.Items {
				total++
				ready := meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionReady)
				if ready && gen[inv.Spec.GlobalTenantResource] > 0 {
					current++
				}
			}
			if cont = list.Continue; cont == "" {
				break
			}
		}
		if first {
			first = false
			fmt.Printf("   when the GTRs said Ready: %d of %d TenantInventories Ready at the new generation\n", current, tenants*len(gtrs))
		}
		if current == tenants*len(gtrs) {
			return total, nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("after %s only %d of %d TenantInventories are Ready at their GTR's generation", timeout, current, tenants*len(gtrs))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// largestObjects prints, per kind tenantgen writes, the largest object as the
// apiserver stores it (JSON, managedFields included): etcd's request limit
// and watch fan-out are paid on that size.
func largestObjects(ctx context.Context, c client.Client, gtrs []string, sum *summary) error {
	kinds := []struct{ apiVersion, kind string }{
		{v1alpha1.GroupVersion.String(), "GlobalTenantResource"},
		{v1alpha1.GroupVersion.String(), "TenantInventory"},
		{"gateway.networking.k8s.io/v1", "Gateway"},
		{"gateway.envoyproxy.io/v1alpha1", "EnvoyProxy"},
		{"cert-manager.io/v1", "Issuer"},
	}
	var parts []string
	for _, k := range kinds {
		largest, name, n := 0, "", 0
		cont := ""
		for {
			list := &unstructured.UnstructuredList{}
			list.SetAPIVersion(k.apiVersion)
			list.SetKind(k.kind + "List")
			if err := c.List(ctx, list, client.Limit(500), client.Continue(cont)); err != nil {
				return fmt.Errorf("listing %s: %w", k.kind, err)
			}
			for i := range list.Items {
				b, err := json.Marshal(list.Items[i].Object)
				if err != nil {
					return err
				}
				n++
				if len(b) > largest {
					largest, name = len(b), strings.TrimPrefix(list.Items[i].GetNamespace()+"/"+list.Items[i].GetName(), "/")
				}
			}
			if cont = list.GetContinue(); cont == "" {
				break
			}
		}
		if largest > sum.largest {
			sum.largest, sum.largestWhat = largest, k.kind+" "+name
		}
		parts = append(parts, fmt.Sprintf("%s %.1f KiB (%s, %d objects)", k.kind, float64(largest)/1024, name, n))
	}
	fmt.Printf("largest objects: %s (goal ≤ 256 KiB)\n", strings.Join(parts, ", "))
	return nil
}

// routeLatency creates HTTPRoutes one at a time and times each until its
// hostname is a listener of the tenant's Gateway, in the order taken.
func routeLatency(ctx context.Context, c client.Client, cfg config, samples int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < samples; i++ {
		t := tenantName((i * 7919) % cfg.tenants)
		host := fmt.Sprintf("new%02d.%s.example.com", i, t)
		start := time.Now()
		if err := create(ctx, c, route(t, tenantNamespace(t, 0), fmt.Sprintf("new%02d", i), host)); err != nil {
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

func pctOf(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * part / whole
}

// ---------------------------------------------------------------------------
// The controller's metrics

// sample is one Prometheus series value; histograms appear as their _sum and
// _count series, as in the text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type samples []sample

func (p *proc) scrape() (samples, error) {
	req, err := http.NewRequest(http.MethodGet, p.metrics, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping the controller's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping the controller's metrics: %s", resp.Status)
	}
	s, err := parseText(resp.Body)
	if err != nil {
		return nil, err
	}
	return s.minus(p.baseline), nil
}

// parseText reads the Prometheus text format, which is all the metrics
// endpoint serves to a client that does not ask for protobuf.
func parseText(r io.Reader) (samples, error) {
	var out samples
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %q", line)
			}
			s.name, rest = line[:i], line[j+1:]
			for _, kv := range splitLabels(line[i+1 : j]) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					s.labels[k] = strings.Trim(v, `"`)
				}
			}
		} else {
			s.name, rest, _ = strings.Cut(line, " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// splitLabels splits `a="x",b="y,z"` on the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// gatherLocal reads this process's registry, for the baseline in process.
func gatherLocal() samples {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil
	}
	var out samples
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				out = append(out, sample{f.GetName(), labels, m.GetCounter().GetValue()})
			case m.GetHistogram() != nil:
				out = append(out, sample{f.GetName() + "_sum", labels, m.GetHistogram().GetSampleSum()},
					sample{f.GetName() + "_count", labels, float64(m.GetHistogram().GetSampleCount())})
			}
		}
	}
	return out
}

func key(s sample) string {
	ks := make([]string, 0, len(s.labels))
	for k, v := range s.labels {
		ks = append(ks, k+"="+v)
	}
	sort.Strings(ks)
	return s.name + "{" + strings.Join(ks, ",") + "}"
}

// minus subtracts an earlier scrape, series by series.
func (s samples) minus(earlier samples) samples {
	if len(earlier) == 0 {
		return s
	}
	prev := map[string]float64{}
	for _, e := range earlier {
		prev[key(e)] = e.value
	}
	out := make(samples, len(s))
	for i, x := range s {
		x.value -= prev[key(x)]
		out[i] = x
	}
	return out
}

func (s samples) sum(name string, keep func(map[string]string) bool) float64 {
	var total float64
	for _, x := range s {
		if x.name == name && (keep == nil || keep(x.labels)) {
			total += x.value
		}
	}
	return total
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

const requestsTotal = "rest_client_requests_total"

func (s samples) writes() float64 {
	return s.sum(requestsTotal, func(l map[string]string) bool { return isWrite(l["method"]) })
}

func (s samples) reads() float64 {
	return s.sum(requestsTotal, func(l map[string]string) bool { return !isWrite(l["method"]) })
}

// conflicts are the 409s of write requests (reads do not conflict).
func (s samples) conflicts() float64 {
	return s.sum(requestsTotal, func(l map[string]string) bool { return l["code"] == "409" && isWrite(l["method"]) })
}

// group sums the request counter by one label and formats "k n, …".
func (s samples) group(label string) string {
	by := map[string]float64{}
	for _, x := range s {
		if x.name == requestsTotal && x.value != 0 {
			by[x.labels[label]] += x.value
		}
	}
	ks := make([]string, 0, len(by))
	for k := range by {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, int(by[k])))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (s samples) byMethod() string { return s.group("method") }
func (s samples) byCode() string   { return s.group("code") }

// tenantgen formats the controller's own counters, summed over GTRs.
func (s samples) tenantgen() string {
	c := func(name string) int { return int(s.sum("tenantgen_"+name, nil)) }
	result := func(r string) func(map[string]string) bool {
		return func(l map[string]string) bool { return l["result"] == r }
	}
	n := s.sum("tenantgen_pair_reconcile_duration_seconds_count", nil)
	mean := 1000 * s.sum("tenantgen_pair_reconcile_duration_seconds_sum", nil) / max(n, 1)
	return fmt.Sprintf("applies %d, skipped writes %d, inventory writes %d, renders ok %d / error %d, errors %d, prunes %d, pair reconciles %d (mean %.1f ms)",
		c("applies_total"), c("skipped_writes_total"), c("inventory_writes_total"),
		int(s.sum("tenantgen_renders_total", result("ok"))), int(s.sum("tenantgen_renders_total", result("error"))),
		c("errors_total"), c("prunes_total"), int(n), mean)
}

// printAPIServerTime prints where the apiserver spent its request time so far,
// by verb and resource (its own apiserver_request_duration_seconds metric).
func printAPIServerTime(ctx context.Context, cfg *rest.Config) {
	resp, err := apiGet(ctx, cfg, "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	all, err := parseText(resp.Body)
	if err != nil {
		return
	}
	sums := map[string]float64{}
	for _, x := range all {
		if x.name != "apiserver_request_duration_seconds_sum" || x.labels["verb"] == "WATCH" {
			continue
		}
		k := x.labels["verb"] + " " + x.labels["resource"]
		if sub := x.labels["subresource"]; sub != "" {
			k += "/" + sub
		}
		sums[k] += x.value
	}
	type kv struct {
		k string
		v float64
	}
	var top []kv
	for k, v := range sums {
		top = append(top, kv{k, v})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].v > top[j].v })
	var parts []string
	for _, e := range top[:min(len(top), 8)] {
		parts = append(parts, fmt.Sprintf("%s %.1fs", e.k, e.v))
	}
	fmt.Println("   apiserver request time so far:", strings.Join(parts, ", "))
}

// ---------------------------------------------------------------------------
// Summary

type summary struct {
	tenants                     int
	ceiling, cold, quiet        time.Duration
	inventories                 time.Duration             // the inventory floor's creates, after the ceiling
	clientCPU                   float64                   // the bench's CPU seconds for the ceiling's and the floor's writes
	controllerCPU               float64                   // the controller's CPU seconds while converging
	generatedKinds              []schema.GroupVersionKind // the kinds the seed GTRs generate
	ceilingWrites               int
	coldWrites, coldConflicts   float64
	quietWrites, quietConflicts float64
	rssCold, rssEnd             int64
	largest                     int
	largestWhat                 string
	p50, p99, pmax              time.Duration
}

// floor is the inventory model's floor: the ceiling's applies plus one
// inventory create per pair.
func (s *summary) floor() time.Duration { return s.ceiling + s.inventories }

// floorRatio is the floor against the ceiling.
func (s *summary) floorRatio() float64 {
	if s.ceiling == 0 {
		return 0
	}
	return s.floor().Seconds() / s.ceiling.Seconds()
}

func (s *summary) ratio() float64 {
	if s.ceiling == 0 {
		return 0
	}
	return s.cold.Seconds() / s.ceiling.Seconds()
}

// print writes the figures next to their goals; a figure the run did not
// reach is shown as "-".
func (s *summary) print() {
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISS"
	}
	rssGoal := int64(-1)
	switch {
	case s.tenants <= 1000:
		rssGoal = 200 << 20
	case s.tenants <= 10000:
		rssGoal = 1 << 30
	}
	type row struct{ what, value, goal, verdict string }
	var rows []row
	add := func(what, value, goal string, reached, ok bool) {
		v := "-"
		if reached {
			v = verdict(ok)
		} else {
			value = "-"
		}
		rows = append(rows, row{what, value, goal, v})
	}
	add("write ceiling", fmt.Sprintf("%d applies in %s", s.ceilingWrites, s.ceiling.Round(time.Millisecond)), "(reference)", s.ceiling > 0, true)
	add("inventory floor", fmt.Sprintf("+ inventories in %s = %.2f× ceiling", s.inventories.Round(time.Millisecond), s.floorRatio()), "(reference)", s.inventories > 0, true)
	add("cold convergence", fmt.Sprintf("%s = %.2f× ceiling", s.cold.Round(time.Millisecond), s.ratio()), "≤ 1.5×", s.cold > 0, s.ratio() <= 1.5)
	add("controller CPU", fmt.Sprintf("%.1fs while converging (the floor's clients: %.1fs)", s.controllerCPU, s.clientCPU), "(reference)", s.controllerCPU > 0, true)
	add("409s while converging", fmt.Sprintf("%d / %d writes = %.1f%%", int(s.coldConflicts), int(s.coldWrites), pctOf(s.coldConflicts, s.coldWrites)), "≤ 5%", s.cold > 0, pctOf(s.coldConflicts, s.coldWrites) <= 5)
	rss := max(s.rssCold, s.rssEnd)
	goal := "-"
	if rssGoal > 0 {
		goal = fmt.Sprintf("≤ %d MiB", rssGoal>>20)
	}
	add("controller peak RSS", fmt.Sprintf("%d MiB", rss>>20), goal, rss > 0, rssGoal < 0 || rss <= rssGoal)
	add("largest written object", fmt.Sprintf("%.1f KiB (%s)", float64(s.largest)/1024, s.largestWhat), "≤ 256 KiB", s.largest > 0, s.largest <= 256<<10)
	add("new route p99", fmt.Sprintf("%s (p50 %s, max %s)", s.p99, s.p50, s.pmax), "≤ 100ms", s.p99 > 0, s.p99 <= 100*time.Millisecond)
	add("quiet-resync writes", fmt.Sprintf("%d in %s", int(s.quietWrites), s.quiet), "0", s.quiet > 0, s.quietWrites == 0)
	add("quiet-resync 409s", fmt.Sprintf("%d", int(s.quietConflicts)), "0", s.quiet > 0, s.quietConflicts == 0)

	w := [3]int{}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len([]rune(r.what))), max(w[1], len([]rune(r.value))), max(w[2], len([]rune(r.goal)))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(0, n-len([]rune(s)))) }
	fmt.Printf("\nsummary (%d tenants)\n", s.tenants)
	for _, r := range rows {
		fmt.Printf("  %s  %s  %s  %s\n", pad(r.what, w[0]), pad(r.value, w[1]), pad(r.goal, w[2]), r.verdict)
	}
}
