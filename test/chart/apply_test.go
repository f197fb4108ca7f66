package chart_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

const fieldOwner = client.FieldOwner("tenantgen-chart-test")

// applyAll server-side applies objs in the order Helm installs them (CRDs, then cluster
// objects and namespaced ones, GlobalTenantResources last; pre-delete hooks, which Helm
// creates only on uninstall, are left out) and returns every failure.
func applyAll(ctx context.Context, objs []*unstructured.Unstructured, opts ...client.ApplyOption) []string {
	// In a dry run they are checked too.
	if withPreDelete := slices.ContainsFunc(opts, func(o client.ApplyOption) bool { return o == client.DryRunAll }); !withPreDelete {
		objs = installed(objs)
	}
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			return 0
		case "GlobalTenantResource":
			return 2
		}
		return 1
	}
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	var failures []string
	for _, o := range sorted {
		opts := append([]client.ApplyOption{fieldOwner, client.ForceOwnership}, opts...)
		if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...); err != nil {
			failures = append(failures, fmt.Sprintf("%s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err))
		}
	}
	return failures
}

// applyFixtures applies the Envoy Gateway fixture: tenants solar, wind and oil (with the status
// Capsule would write), their namespaces and routes. Applying it again changes nothing.
func applyFixtures(ctx context.Context) {
	GinkgoHelper()
	// The Envoy Gateway fixture: tenants solar, wind and oil, their namespaces and routes.
	var fixtures []*unstructured.Unstructured
	for _, f := range []string{"namespaces.yaml", "tenants.yaml", "httproutes.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "contexts", "envoy-gateway", f))
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(string(b))
		Expect(err).NotTo(HaveOccurred())
		fixtures = append(fixtures, objs...)
	}
	for _, o := range fixtures {
		status, hasStatus := o.Object["status"]
		delete(o.Object, "status")
		Expect(env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), fieldOwner, client.ForceOwnership)).To(Succeed())
		if hasStatus && o.GetKind() == "Tenant" { // as Capsule would write it
			s := &unstructured.Unstructured{Object: map[string]any{"apiVersion": o.GetAPIVersion(), "kind": o.GetKind(), "status": testenv.TenantStatus(status.(map[string]any))}}
			s.SetName(o.GetName())
			Expect(env.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(s), fieldOwner, client.ForceOwnership)).To(Succeed())
		}
	}
}

var _ = Describe("the rendered chart on the test control plane", func() {
	DescribeTable("is accepted by the apiserver (server-side apply, dry run), CRDs included",
		func(ctx SpecContext, valuesFiles []string, set []string, wantKinds []string) {
			objs := template(valuesFiles, set...)
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind())
			}
			Expect(kinds).To(ContainElements(wantKinds))
			Expect(applyAll(ctx, objs, client.DryRunAll)).To(BeEmpty())
		},
		Entry("default values", defaults, nil,
			[]string{"CustomResourceDefinition", "Deployment", "ClusterRole", "PodDisruptionBudget", "Service"}),
		Entry("every option on", allOptions, nil,
			[]string{"CustomResourceDefinition", "ServiceMonitor", "PrometheusRule", "ConfigMap", "GlobalTenantResource", "Deployment"}),
		Entry("rbac.broadAccess", broadAccess, nil, []string{"ClusterRole", "GlobalTenantResource"}),
		Entry("the default samples and generators", defaults, []string{"samples.enabled=true", "generators.enabled=true",
			"generators.include={envoy-gateway,acme-issuer,client-traffic-policy}"}, []string{"GlobalTenantResource"}),
	)

	It("accepts every GlobalTenantResource the chart ships, one sample or catalog entry at a time", func(ctx SpecContext) {
		n := 0
		for _, folder := range []string{"samples", "generators"} {
			files, err := filepath.Glob(filepath.Join(chartDir, "files", folder, "*.yaml"))
			Expect(err).NotTo(HaveOccurred())
			Expect(files).NotTo(BeEmpty())
			for _, f := range files {
				name := strings.TrimSuffix(filepath.Base(f), ".yaml")
				objs := template(defaults, folder+".enabled=true", folder+".include={"+name+"}")
				var gtrs []*unstructured.Unstructured
				for _, o := range objs {
					if o.GetKind() == "GlobalTenantResource" {
						gtrs = append(gtrs, o)
					}
				}
				Expect(gtrs).NotTo(BeEmpty(), "%s/%s renders no GlobalTenantResource", folder, name)
				Expect(applyAll(ctx, gtrs, client.DryRunAll)).To(BeEmpty(), "%s/%s", folder, name)
				n += len(gtrs)
			}
		}
		GinkgoWriter.Printf("%d GlobalTenantResources from the chart's samples and generators accepted\n", n)
	})
})

var _ = Describe("the controller with exactly the chart's RBAC", Ordered, func() {
	const sa = "system:serviceaccount:" + releaseNamespace + ":" + fullname
	var (
		gtrs   []string
		cancel context.CancelFunc
		done   chan struct{}
	)

	BeforeAll(func(ctx SpecContext) {
		// Install the release for real (no controller-manager runs in envtest, so the
		// Deployment starts nothing), then do what Kubernetes' ClusterRole aggregation
		// controller would: copy the labelled ClusterRoles' rules into the manager role.
		objs := installed(template(defaults, "samples.enabled=true", gtrAPIVersions))
		Expect(applyAll(ctx, objs)).To(BeEmpty())
		for _, o := range objs {
			if o.GetKind() == "GlobalTenantResource" {
				gtrs = append(gtrs, o.GetName())
			}
		}
		Expect(gtrs).To(ConsistOf("managed-envoy-gateway", "tenant-acme-issuer"))
		manager := &rbacv1.ClusterRole{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: fullname + "-manager"}, manager)).To(Succeed())
		manager.Rules = aggregatedRules(objs)
		Expect(env.Client.Update(ctx, manager)).To(Succeed())

		applyFixtures(ctx)

		// The controller, in-process, as the chart's ServiceAccount, with leader election in
		// the release namespace as in the Deployment.
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: sa}
		var runCtx context.Context
		runCtx, cancel = context.WithCancel(context.Background())
		mgr, _, err := controller.NewManager(runCtx, cfg, controller.ManagerOptions{
			MetricsAddr: "0", ProbeAddr: "0",
			LeaderElection: true, LeaderElectionNamespace: releaseNamespace,
			Options: controller.Options{Workers: 2, SkipNameValidation: true}, // the suite starts two managers
		})
		Expect(err).NotTo(HaveOccurred())
		done = make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			Expect(mgr.Start(runCtx)).To(Succeed())
		}()
		DeferCleanup(func() {
			cancel()
			Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
		})
		// The samples' Gateways and Issuers are healthy only once their
		// controllers say so; the stand-in plays Envoy Gateway and cert-manager.
		standIn, err := testenv.StartStandIn(runCtx, env.Config, testenv.StandInOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(standIn.Stop)
	})

	It("is enforced by the apiserver: allowed what the controller needs, refused the rest", func(ctx SpecContext) {
		can := func(ns, group, resource, verb string) bool {
			GinkgoHelper()
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   sa,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Group: group, Resource: resource, Verb: verb,
				},
			}}
			Expect(env.Client.Create(ctx, sar)).To(Succeed())
			return sar.Status.Allowed
		}
		Expect(can("", "capsule.clastix.io", "tenants", "watch")).To(BeTrue())
		Expect(can("", v1alpha1.Group, "globaltenantresources", "patch")).To(BeTrue())
		Expect(can("solar-prod", "gateway.networking.k8s.io", "httproutes", "list")).To(BeTrue())
		Expect(can("tenant-solar-system", "gateway.networking.k8s.io", "gateways", "create")).To(BeTrue())
		Expect(can(releaseNamespace, "coordination.k8s.io", "leases", "update")).To(BeTrue())

		Expect(can("default", "coordination.k8s.io", "leases", "update")).To(BeFalse())
		Expect(can("solar-prod", "", "secrets", "get")).To(BeFalse())
		Expect(can("solar-prod", "gateway.networking.k8s.io", "httproutes", "create")).To(BeFalse())
		Expect(can("", "", "namespaces", "delete")).To(BeFalse())
		Expect(can("", v1alpha1.Group, "globaltenantresources", "create")).To(BeFalse())

		// And a real request as the ServiceAccount is refused.
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: sa}
		c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		err = c.List(ctx, &corev1.SecretList{}, client.InNamespace("solar-prod"))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "listing Secrets as the ServiceAccount: %v", err)
	})

	It("is enough to converge the samples, and holds the leader Lease in the release namespace", func(ctx SpecContext) {
		Eventually(func(g Gomega) {
			for _, n := range gtrs {
				gtr := &v1alpha1.GlobalTenantResource{}
				g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: n}, gtr)).To(Succeed())
				cond := meta.FindStatusCondition(gtr.Status.Conditions, v1alpha1.ConditionReady)
				g.Expect(cond).NotTo(BeNil(), "%s has no Ready condition", n)
				g.Expect(cond.Status).To(Equal(metav1.ConditionTrue), "%s: %s: %s", n, cond.Reason, cond.Message)
			}
		}).WithTimeout(90 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())

		for _, t := range []string{"solar", "wind", "oil"} {
			ns := "tenant-" + t + "-system"
			for _, o := range []struct {
				gvk  schema.GroupVersionKind
				name string
			}{
				{schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}, "tenant-" + t + "-gateway"},
				{schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "EnvoyProxy"}, "tenant-" + t + "-gateway"},
				{schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}, t + "-acme-http"},
			} {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(o.gvk)
				Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.name}, u)).To(Succeed(), "%s %s/%s", o.gvk.Kind, ns, o.name)
			}
		}

		lease := &coordinationv1.Lease{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "tenantgen." + v1alpha1.Group}, lease)).To(Succeed())
		Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
	})

	It("writes no kind the chart does not grant, and the GlobalTenantResource is not Ready", func(ctx SpecContext) {
		gtr := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.GroupVersion.String(), "kind": "GlobalTenantResource",
			"metadata": map[string]any{"name": "chart-test-configmap"},
			"spec": map[string]any{
				"scope": "Tenant",
				"resources": []any{map[string]any{"rawItems": []any{map[string]any{
					"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": "not-granted", "namespace": "tenant-{{tenant.name}}-system"},
					"data":     map[string]any{"a": "b"},
				}}}},
			},
		}}
		Expect(env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(gtr), fieldOwner)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(env.Client.Delete(ctx, gtr)).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(gtr), gtr.DeepCopy()))
			}).WithTimeout(30*time.Second).Should(BeTrue(), "the controller removes its finalizer")
		})
		Eventually(func(g Gomega) {
			got := &v1alpha1.GlobalTenantResource{}
			g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "chart-test-configmap"}, got)).To(Succeed())
			cond := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse), "%s: %s", cond.Reason, cond.Message)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		}).WithTimeout(30 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
		Consistently(func() error {
			return env.Client.Get(ctx, client.ObjectKey{Namespace: "tenant-solar-system", Name: "not-granted"}, &corev1.ConfigMap{})
		}).WithTimeout(3 * time.Second).Should(MatchError(ContainSubstring("not found")))
	})
})

var _ = Describe("helm install, upgrade and uninstall against the test control plane", Ordered, func() {
	// A second release in its own namespace; nothing runs its pods (envtest has no
	// scheduler or kubelet), so only what Helm itself does is checked, NOTES.txt included.
	const (
		rel = "tg-helm"
		ns  = "tenantgen-helm"
	)
	var kubeconfig, oldChart string

	BeforeAll(func() {
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(env.WriteKubeconfig(kubeconfig)).To(Succeed())
		// An older chart: its GlobalTenantResource CRD lacks the Reason printer column.
		oldChart = filepath.Join(GinkgoT().TempDir(), "tenantgen")
		Expect(os.CopyFS(oldChart, os.DirFS(chartDir))).To(Succeed())
		f := filepath.Join(oldChart, "files", "crds", "addons.projectcapsule.dev_globaltenantresources.yaml")
		b, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		const reason = "    - jsonPath: .status.conditions[?(@.type==\"Ready\")].reason\n      name: Reason\n      priority: 1\n      type: string\n"
		Expect(string(b)).To(ContainSubstring(reason))
		Expect(os.WriteFile(f, []byte(strings.Replace(string(b), reason, "", 1)), 0o600)).To(Succeed())
	})

	// printerColumns returns the names of the GlobalTenantResource CRD's printer columns, and the CRD.
	printerColumns := func(ctx context.Context) ([]string, *unstructured.Unstructured) {
		GinkgoHelper()
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "globaltenantresources." + v1alpha1.Group}, crd)).To(Succeed())
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		Expect(versions).NotTo(BeEmpty())
		cols, _, _ := unstructured.NestedSlice(versions[0].(map[string]any), "additionalPrinterColumns")
		var names []string
		for _, c := range cols {
			names = append(names, c.(map[string]any)["name"].(string))
		}
		return names, crd
	}

	run := func(args ...string) string {
		GinkgoHelper()
		out, err := helm.run(append(args, "--kubeconfig", kubeconfig, "--namespace", ns)...)
		Expect(err).NotTo(HaveOccurred())
		return out
	}

	It("installs an older chart with the ServiceMonitor, taking over the CRDs, and prints the notes", func(ctx SpecContext) {
		// --take-ownership: the CRDs exist without Helm's metadata (envtest installed them), as
		// after chart 0.1.x, which shipped them in crds/.
		out := run("install", rel, oldChart, "--create-namespace", "--take-ownership", "--set", "serviceMonitor.enabled=true")
		cols, crd := printerColumns(ctx)
		Expect(cols).NotTo(ContainElement("Reason"), "the older chart's CRD")
		Expect(crd.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
		Expect(crd.GetAnnotations()).To(HaveKeyWithValue("meta.helm.sh/release-name", rel))
		Expect(out).To(ContainSubstring("STATUS: deployed"))
		Expect(out).To(ContainSubstring("Capsule is a prerequisite"))
		Expect(out).To(ContainSubstring("kubectl -n " + ns + " rollout status deployment/" + rel + "-tenantgen"))
		sm := &unstructured.Unstructured{}
		sm.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"})
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: rel + "-tenantgen"}, sm)).To(Succeed())
	})

	It("upgrades it to this chart, CRDs included", func(ctx SpecContext) {
		out := run("upgrade", rel, chartDir, "--reuse-values", "--set", "replicas=3", "--set", "rbac.broadAccess=true")
		Expect(out).To(ContainSubstring("REVISION: 2"))
		cols, _ := printerColumns(ctx)
		Expect(cols).To(ContainElement("Reason"), "helm upgrade updated the CRD")
		Expect(out).To(ContainSubstring("WARNING: rbac.broadAccess=true"))
		cr := &rbacv1.ClusterRole{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: rel + "-tenantgen-generated"}, cr)).
			To(MatchError(ContainSubstring("not found")), "broadAccess replaces the per-kind ClusterRoles")
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: rel + "-tenantgen-broad-access"}, cr)).To(Succeed())
	})

	It("uninstalls it, keeping the CRD", func(ctx SpecContext) {
		out := run("uninstall", rel)
		Expect(out).To(ContainSubstring("These resources were kept due to the resource policy"))
		Expect(out).To(ContainSubstring("[CustomResourceDefinition] globaltenantresources." + v1alpha1.Group))
		cr := &rbacv1.ClusterRole{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: rel + "-tenantgen-manager"}, cr)).To(MatchError(ContainSubstring("not found")))
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "globaltenantresources." + v1alpha1.Group}, crd)).To(Succeed())
	})
})

var _ = Describe("helm uninstall with the controller running until Helm deletes its Deployment", Ordered, func() {
	// The chart's pre-delete hooks delete the release's GlobalTenantResources while the
	// controller still runs, so their finalizer prunes what they generated. Here the controller
	// runs in-process and stops as soon as Helm deletes the release's Deployment, as its pods
	// would: without the hooks, Helm would delete the GlobalTenantResource afterwards and its
	// finalizer would never run.
	const (
		rel = "tg-uninstall"
		ns  = "tenantgen-uninstall"
		gtr = "tenant-acme-issuer" // generators/acme-issuer: an Issuer per tenant
	)
	var (
		kubeconfig string
		stopped    chan struct{}
	)
	issuer := func(t string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"})
		u.SetNamespace("tenant-" + t + "-system")
		u.SetName(t + "-acme-http")
		return u
	}
	run := func(args ...string) string {
		GinkgoHelper()
		out, err := helm.run(append(args, "--kubeconfig", kubeconfig, "--namespace", ns)...)
		Expect(err).NotTo(HaveOccurred())
		return out
	}

	BeforeAll(func(ctx SpecContext) {
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(env.WriteKubeconfig(kubeconfig)).To(Succeed())
		applyFixtures(ctx)
		runCtx, cancel := context.WithCancel(context.Background())
		mgr, _, err := controller.NewManager(runCtx, env.Config, controller.ManagerOptions{
			MetricsAddr: "0", ProbeAddr: "0", Options: controller.Options{Workers: 2, SkipNameValidation: true}, // the suite starts two managers
		})
		Expect(err).NotTo(HaveOccurred())
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			Expect(mgr.Start(runCtx)).To(Succeed())
		}()
		// The controller's "pods": stop once the release's Deployment is deleted.
		stopped = make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(stopped)
			seen := false
			for runCtx.Err() == nil {
				d := &unstructured.Unstructured{}
				d.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
				err := env.Client.Get(runCtx, client.ObjectKey{Namespace: ns, Name: rel + "-tenantgen"}, d)
				if err == nil && d.GetDeletionTimestamp() == nil {
					seen = true
				} else if seen && (apierrors.IsNotFound(err) || err == nil) {
					cancel()
					<-done
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		DeferCleanup(func(ctx SpecContext) {
			cancel()
			Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
			// Should the spec fail, leave no GlobalTenantResource behind with a finalizer nobody runs.
			g := &v1alpha1.GlobalTenantResource{}
			if env.Client.Get(ctx, client.ObjectKey{Name: gtr}, g) == nil {
				g.Finalizers = nil
				_ = env.Client.Update(ctx, g)
				_ = env.Client.Delete(ctx, g)
			}
		})
	})

	It("installs a catalog entry, whose objects the controller generates", func(ctx SpecContext) {
		// --take-ownership: "the controller with exactly the chart's RBAC" may have applied the
		// same GlobalTenantResource (the capsule-envoy-gateway sample) before.
		out := run("install", rel, chartDir, "--create-namespace", "--take-ownership", "--set", "crds.install=false",
			"--set", "generators.enabled=true", "--set", "generators.include={acme-issuer}")
		Expect(out).To(ContainSubstring("pre-delete hooks delete this release's GlobalTenantResources first"))
		Eventually(func(g Gomega) {
			for _, t := range []string{"solar", "wind", "oil"} {
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(issuer(t)), issuer(t))).To(Succeed())
			}
		}).WithTimeout(60 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
	})

	It("uninstalls it: the GlobalTenantResource is finalized, its objects pruned, before the controller stops", func(ctx SpecContext) {
		run("uninstall", rel, "--timeout", "60s")
		Eventually(stopped).WithTimeout(10*time.Second).Should(BeClosed(), "Helm deleted the Deployment")
		// No Eventually: all of it happened before helm uninstall returned.
		err := env.Client.Get(ctx, client.ObjectKey{Name: gtr}, &v1alpha1.GlobalTenantResource{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "GlobalTenantResource %s: %v", gtr, err)
		for _, t := range []string{"solar", "wind", "oil"} {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(issuer(t)), issuer(t))
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "Issuer of tenant %s: %v", t, err)
		}
		invs := &v1alpha1.TenantInventoryList{}
		Expect(env.Client.List(ctx, invs, client.MatchingLabels{"addons.projectcapsule.dev/globaltenantresource": gtr})).To(Succeed())
		Expect(invs.Items).To(BeEmpty())
	})
})
