// Command demo runs tenantgen's main job on this machine: it starts a local
// kube-apiserver + etcd with the real Gateway API, Envoy Gateway, cert-manager
// and Capsule CRDs, loads the fixture tenants, namespaces and routes of
// contexts/ and the GlobalTenantResources of samples/, runs the tenantgen
// controller binary against it and prints what the controller generated and the
// kubeconfig to use with kubectl. It then runs until interrupted, or exits
// right after printing when TENANTGEN_DEMO_EXIT=1 (the smoke test of make test).
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

func run() error {
	var files paths
	binary := flag.String("tenantgen", "bin/tenantgen", "the tenantgen binary to run as the controller")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for every GlobalTenantResource to be Ready")
	flag.Var(&files, "f", "file or directory of objects to load (repeatable)")
	flag.Parse()
	if len(files) == 0 {
		files = paths{"contexts/envoy-gateway", "samples/capsule-envoy-gateway.yaml"}
	}
	exitAfterPrint := os.Getenv("TENANTGEN_DEMO_EXIT") == "1"

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
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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

	started := time.Now()
	if err := waitReady(ctx, env.Client, gtrs, *timeout); err != nil {
		return fmt.Errorf("%w (controller log: %s)", err, logPath)
	}
	fmt.Printf("   all GlobalTenantResources Ready after %s\n", time.Since(started).Round(time.Millisecond))

	step("generated objects")
	if err := printGenerated(ctx, env.Client, gtrs); err != nil {
		return err
	}
	step("use the cluster")
	fmt.Printf("   export KUBECONFIG=%s\n   kubectl get globaltenantresources\n   controller log: %s\n", kubeconfig, logPath)
	if exitAfterPrint {
		_ = os.RemoveAll(dir) // kept on failure, where the log path was printed
		return nil
	}
	fmt.Println("   running until interrupted (Ctrl-C)")
	<-ctx.Done()
	return nil
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
