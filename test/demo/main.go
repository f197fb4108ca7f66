// Command demo runs tenantgen's main job on this machine: it starts a local
// kube-apiserver + etcd with the real Gateway API, Envoy Gateway, cert-manager
// and Capsule CRDs, loads the fixture tenants, namespaces and routes of
// contexts/ and the GlobalTenantResources of samples/, starts the test stand-in
// for Envoy Gateway and cert-manager (testenv.StandIn: it marks Gateways
// Programmed and Issuers Ready, as their controllers would), runs the tenantgen
// controller binary against it, waits with the real
// `kubectl wait --for=condition=Ready tgr --all` (kubectl from KUBEBUILDER_ASSETS)
// and prints what the controller generated and the kubeconfig to use with
// kubectl. It then runs until interrupted, or exits right after printing when
// TENANTGEN_DEMO_EXIT=1 (the smoke test of make test, which fails when any step,
// kubectl wait included, fails).
//
//	go run ./test/demo -tenantgen bin/tenantgen -f contexts/envoy-gateway -f samples/capsule-envoy-gateway.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// standInDelay lets a watcher see the GlobalTenantResources progress before the
// stand-in marks the generated objects healthy.
const standInDelay = 500 * time.Millisecond

func run() (err error) {
	var files paths
	binary := flag.String("tenantgen", "bin/tenantgen", "the tenantgen binary to run as the controller")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for every GlobalTenantResource to be Ready")
	flag.Var(&files, "f", "file or directory of objects to load (repeatable)")
	flag.Parse()
	if len(files) == 0 {
		files = paths{"contexts/envoy-gateway", "samples/capsule-envoy-gateway.yaml"}
	}
	exitAfterPrint := os.Getenv("TENANTGEN_DEMO_EXIT") == "1"
	kubectl := filepath.Join(os.Getenv(testenv.AssetsEnv), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		return fmt.Errorf("no kubectl in %s=%q (%w): run test/scripts/install-control-plane.sh, which builds it next to kube-apiserver", testenv.AssetsEnv, os.Getenv(testenv.AssetsEnv), err)
	}

	step("starting kube-apiserver + etcd and installing CRDs")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("   control plane %s, %d CRDs in %s\n", env.Timings.ControlPlane.Round(time.Millisecond), len(env.CRDs), env.Timings.CRDs.Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "tenantgen-demo-")
	if err != nil {
		return err
	}
	// Removed when the demo ends well; kept on failure, where the error names the log.
	defer func() {
		if err == nil {
			_ = os.RemoveAll(dir)
		}
	}()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	k := kubectlRunner{path: kubectl, kubeconfig: kubeconfig, cacheDir: filepath.Join(dir, "kube-cache")}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("starting the stand-in for Envoy Gateway and cert-manager")
	standIn, err := testenv.StartStandIn(ctx, env.Config, testenv.StandInOptions{Delay: standInDelay})
	if err != nil {
		return err
	}
	defer standIn.Stop()
	fmt.Printf("   neither runs here: test/testenv.StandIn marks Gateways Accepted+Programmed and Issuers,\n"+
		"   ClusterIssuers and Certificates Ready %s after they appear, as their controllers would\n", standInDelay)

	step("loading " + strings.Join(files, ", "))
	items, err := manifest.ReadPaths(files)
	if err != nil {
		return err
	}
	// Namespaces first, GlobalTenantResources last, as kubectl apply would need.
	rank := func(it manifest.Item) int {
		switch it.Object.GetKind() {
		case "Namespace":
			return 0
		case "GlobalTenantResource":
			return 2
		}
		return 1
	}
	sort.SliceStable(items, func(i, j int) bool { return rank(items[i]) < rank(items[j]) })
	var gtrs []string
	for _, it := range items {
		if err := load(ctx, env.Client, it.Object); err != nil {
			return fmt.Errorf("%s: %w", it.Source(), err)
		}
		if it.Object.GetKind() == "GlobalTenantResource" {
			gtrs = append(gtrs, it.Object.GetName())
		}
	}
	fmt.Printf("   %d objects, %d GlobalTenantResources\n", len(items), len(gtrs))

	step("running " + *binary + " controller")
	logPath := filepath.Join(dir, "controller.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, *binary, "controller", "--kubeconfig", kubeconfig,
		"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()

	// Wait until the controller has taken up every GlobalTenantResource, then let the
	// real kubectl wait for Ready: it waits while the generated objects become healthy.
	started := time.Now()
	states, err := waitConverged(ctx, env.Client, gtrs, *timeout)
	if err != nil {
		return fmt.Errorf("%w (controller log: %s)", err, logPath)
	}
	fmt.Printf("   the controller reported on every GlobalTenantResource after %s:\n", time.Since(started).Round(time.Millisecond))
	for _, s := range states {
		fmt.Println("     " + s)
	}

	step("kubectl wait --for=condition=Ready tgr --all --timeout=120s")
	waitStart := time.Now()
	out, err := k.run(ctx, "wait", "--for=condition=Ready", "tgr", "--all", "--timeout=120s")
	printIndented(out)
	if err != nil {
		return fmt.Errorf("kubectl wait --for=condition=Ready tgr --all: %w (controller log: %s)", err, logPath)
	}
	fmt.Printf("   kubectl wait returned after %s (%s after the controller started)\n",
		time.Since(waitStart).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	// kubectl wait checks the condition only; also require observedGeneration.
	if err := waitReady(ctx, env.Client, gtrs, *timeout); err != nil {
		return fmt.Errorf("%w (controller log: %s)", err, logPath)
	}
	m := standIn.Marked()
	fmt.Printf("   stand-in status writes: Gateway %d, Issuer %d, ClusterIssuer %d, Certificate %d\n",
		m["Gateway"], m["Issuer"], m["ClusterIssuer"], m["Certificate"])
	for _, args := range [][]string{{"get", "tgr"}, {"get", "tinv"}} {
		step("kubectl " + strings.Join(args, " "))
		out, err := k.run(ctx, args...)
		printIndented(out)
		if err != nil {
			return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
		}
	}

	step("generated objects")
	if err := printGenerated(ctx, env.Client, gtrs); err != nil {
		return err
	}
	if exitAfterPrint {
		step("done (TENANTGEN_DEMO_EXIT=1): stopping the control plane and removing the demo's kubeconfig and log")
		return nil
	}
	step("use the cluster")
	fmt.Printf("   export KUBECONFIG=%s PATH=%s:$PATH\n   kubectl get globaltenantresources\n   controller log: %s\n",
		kubeconfig, filepath.Dir(kubectl), logPath)
	fmt.Println("   running until interrupted (Ctrl-C), which stops the control plane and removes these files")
	<-ctx.Done()
	return nil
}

// kubectlRunner runs the kubectl built by install-control-plane.sh against the
// demo's apiserver, with its discovery cache in the demo's directory (not ~/.kube).
type kubectlRunner struct{ path, kubeconfig, cacheDir string }

// run returns kubectl's combined output; err says how it failed.
func (k kubectlRunner) run(ctx context.Context, args ...string) (string, error) {
	args = append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)
	out, err := exec.CommandContext(ctx, k.path, args...).CombinedOutput()
	return string(out), err
}

func printIndented(out string) {
	for line := range strings.Lines(strings.TrimRight(out, "\n")) {
		fmt.Print("   " + line)
	}
	fmt.Println()
}

// waitConverged waits until the controller has processed the current spec of every
// GlobalTenantResource (status.observedGeneration = generation, a Ready condition of
// any status) and returns one line per GlobalTenantResource with that condition.
func waitConverged(ctx context.Context, c client.Client, names []string, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var states, waiting []string
		for _, n := range names {
			g := &v1alpha1.GlobalTenantResource{}
			if err := c.Get(ctx, client.ObjectKey{Name: n}, g); err != nil {
				return nil, err
			}
			cond := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ConditionReady)
			if cond == nil || g.Status.ObservedGeneration != g.Generation {
				waiting = append(waiting, n)
				continue
			}
			states = append(states, fmt.Sprintf("%s: Ready=%s (%s) %s", n, cond.Status, cond.Reason, cond.Message))
		}
		if len(waiting) == 0 {
			return states, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the controller did not converge within %s: %s", timeout, strings.Join(waiting, ", "))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func step(s string) { fmt.Printf("==> %s\n", s) }

// load creates an object with server-side apply; a Tenant's status goes
// through its status subresource, as Capsule would write it.
func load(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	obj := u.DeepCopy()
	status, hasStatus := obj.Object["status"]
	delete(obj.Object, "status")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("demo"), client.ForceOwnership); err != nil {
		return err
	}
	if hasStatus && obj.GetKind() == "Tenant" {
		s := &unstructured.Unstructured{Object: map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "status": testenv.TenantStatus(status.(map[string]any))}}
		s.SetName(obj.GetName())
		return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(s), client.FieldOwner("demo"), client.ForceOwnership)
	}
	return nil
}

func waitReady(ctx context.Context, c client.Client, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var waiting []string
		for _, n := range names {
			g := &v1alpha1.GlobalTenantResource{}
			if err := c.Get(ctx, client.ObjectKey{Name: n}, g); err != nil {
				return err
			}
			cond := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ConditionReady)
			if cond == nil || cond.Status != metav1.ConditionTrue || g.Status.ObservedGeneration != g.Generation {
				msg := "no status yet"
				if cond != nil {
					msg = cond.Reason + ": " + cond.Message
				}
				waiting = append(waiting, n+" ("+msg+")")
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not Ready after %s: %s", timeout, strings.Join(waiting, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printGenerated prints every object in the GlobalTenantResources' inventories.
func printGenerated(ctx context.Context, c client.Client, names []string) error {
	type item struct {
		tenant string
		ref    inventory.Ref
	}
	var items []item
	for _, n := range names {
		list := &v1alpha1.TenantInventoryList{}
		if err := c.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: n}); err != nil {
			return err
		}
		for _, inv := range list.Items {
			for _, e := range inv.Status.Entries {
				ref, err := inventory.Parse(e)
				if err != nil {
					return err
				}
				items = append(items, item{tenant: inv.Spec.Tenant, ref: ref})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].tenant < items[j].tenant })
	if len(items) == 0 {
		return errors.New("the controller generated nothing")
	}
	for _, it := range items {
		u := it.ref.Object()
		if err := c.Get(ctx, client.ObjectKey{Namespace: it.ref.Namespace, Name: it.ref.Name}, u); err != nil {
			return fmt.Errorf("%s is in the inventory but: %w", it.ref, err)
		}
		// Print what a person wants to read: no managedFields or server noise.
		u.SetManagedFields(nil)
		unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(u.Object, "metadata", "generation")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return err
		}
		fmt.Printf("---\n# tenant %s\n%s", it.tenant, b)
	}
	return nil
}
