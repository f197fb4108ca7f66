// Package diff_test checks `tenantgen diff` and `tenantgen render --kubeconfig`
// against a real kube-apiserver + etcd (envtest, see test/testenv). The real
// controller runs in-process once, to apply two GlobalTenantResources and
// write their inventories, and is stopped before any spec: every spec then
// previews edits of those GlobalTenantResources against that frozen cluster,
// and the suite checks at the end that no object in it changed.
package diff_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	// kubeconfig is an admin kubeconfig of the test control plane.
	kubeconfig string
	// files is a directory for GlobalTenantResource files and scripts.
	files string
	// before is every object's resourceVersion once the controller stopped.
	before map[string]string
)

var (
	configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	tenantGVK    = schema.GroupVersionKind{Group: "capsule.clastix.io", Version: "v1beta2", Kind: "Tenant"}
	httpRouteGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
)

func TestDiff(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tenantgen diff (envtest)")
}

// tenants of the fixture: all three are selected by "parts"; solar alone by "adopt".
var tenants = []string{"oil", "solar", "wind"}

var _ = BeforeSuite(func(ctx SpecContext) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error())
	}
	k8s = env.Client
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
	files = GinkgoT().TempDir()
	kubeconfig = filepath.Join(files, "kubeconfig")
	Expect(env.WriteKubeconfig(kubeconfig)).To(Succeed())

	for _, t := range tenants {
		createTenant(ctx, t, map[string]string{envLabel: "prod", "diff.tenantgen.test/name": t, adoptLabel: map[bool]string{true: "yes", false: "no"}[t == "solar"]})
		if t != "oil" {
			Expect(k8s.Create(ctx, obj(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: `+t+`-dev, labels: {projectcapsule.dev/tenant: `+t+`}}
spec: {hostnames: [`+t+`.example.com, www.`+t+`.example.com]}`))).To(Succeed())
		}
	}
	// An object someone else made, which "adopt" takes over.
	Expect(k8s.Create(ctx, obj(`
apiVersion: v1
kind: ConfigMap
metadata: {name: shared, namespace: solar-dev}
data: {owner: platform}`), client.FieldOwner("platform"))).To(Succeed())
	for _, g := range []string{partsGTR(gtrOpts{}), adoptGTR("shared")} {
		Expect(k8s.Create(ctx, obj(g))).To(Succeed())
	}

	// The controller applies them and records its inventories, then stops.
	mctx, cancel := context.WithCancel(context.Background())
	mgr, _, err := controller.NewManager(mctx, env.Config, controller.ManagerOptions{
		MetricsAddr: "0", ProbeAddr: "0", LeaderElection: false,
		Options: controller.Options{Workers: 4},
	})
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	Eventually(func(g Gomega) {
		g.Expect(entries(ctx, "parts")).To(HaveLen(len(tenants) * 6))
		g.Expect(entries(ctx, "adopt")).To(ConsistOf(HaveField("Adopted", true)))
		for _, name := range []string{"parts", "adopt"} {
			gtr := &v1alpha1.GlobalTenantResource{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, gtr)).To(Succeed())
			ready := false
			for _, c := range gtr.Status.Conditions {
				ready = ready || (c.Type == v1alpha1.ConditionReady && c.Status == metav1.ConditionTrue)
			}
			g.Expect(ready).To(BeTrue(), "globaltenantresource %s is not Ready", name)
		}
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	cancel()
	Eventually(done, 30*time.Second).Should(BeClosed())

	before = versions(ctx)
	Expect(before).To(HaveKey("ConfigMap solar-dev/part-0"))
})

// Nothing a diff or a live render does may change anything: not one
// resourceVersion of the objects involved moved since the controller stopped.
var _ = AfterSuite(func(ctx SpecContext) {
	if before != nil {
		Expect(versions(ctx)).To(Equal(before))
	}
})

const (
	envLabel   = "diff.tenantgen.test/env"
	adoptLabel = "diff.tenantgen.test/adopt"
)

// createTenant creates <name>-dev, labelled as Capsule labels its namespaces,
// then the Tenant with its status as Capsule would write it.
func createTenant(ctx context.Context, name string, labels map[string]string) {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name + "-dev", Labels: map[string]string{"capsule.clastix.io/tenant": name}}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	t := &unstructured.Unstructured{}
	t.SetGroupVersionKind(tenantGVK)
	t.SetName(name)
	t.SetLabels(labels)
	t.Object["spec"] = map[string]any{}
	Expect(k8s.Create(ctx, t)).To(Succeed())
	t.Object["status"] = testenv.TenantStatus(map[string]any{"namespaces": []any{name + "-dev"}})
	Expect(k8s.Status().Update(ctx, t)).To(Succeed())
}

// gtrOpts are the edits a spec makes to "parts".
type gtrOpts struct {
	color    string // default blue
	selector string // extra tenantSelector lines
	broken   bool   // a template that fails for every tenant
}

// partsGTR renders, per tenant, five ConfigMaps and one listing the hostnames
// of the tenant's HTTPRoutes.
func partsGTR(o gtrOpts) string {
	color := o.color
	if color == "" {
		color = "blue"
	}
	if o.broken {
		color = `{{ required "spec.data.color is required" $.tenant.spec.data }}`
	}
	return strings.NewReplacer("COLOR", color, "SELECTOR", o.selector).Replace(`apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: parts
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector:
    matchLabels:
      diff.tenantgen.test/env: prod
SELECTOR
  resources:
    - context:
        resources:
          - apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            index: routes
            selector:
              matchLabels:
                projectcapsule.dev/tenant: "{{tenant.name}}"
      generators:
        - template: |
            {{- range $i := until 5 }}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: part-{{ $i }}
              namespace: {{ $.tenant.metadata.name }}-dev
            data:
              tenant: {{ $.tenant.metadata.name | quote }}
              color: COLOR
            {{- end }}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: hosts
              namespace: {{ $.tenant.metadata.name }}-dev
            data:
              {{- $hosts := list }}
              {{- range $.routes }}{{ $hosts = concat $hosts .spec.hostnames }}{{ end }}
              hosts: {{ join "," $hosts | quote }}
`)
}

// adoptGTR adopts what exists (spec.settings.adopt) and renders one ConfigMap in solar-dev.
func adoptGTR(name string) string {
	return strings.ReplaceAll(`apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: adopt
spec:
  scope: Tenant
  resyncPeriod: 1h
  settings:
    adopt: true
  tenantSelector:
    matchLabels:
      diff.tenantgen.test/adopt: "yes"
  resources:
    - rawItems:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: NAME
            namespace: solar-dev
          data:
            managed: "yes"
`, "NAME", name)
}

func obj(manifest string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	return u
}

// entries are a GlobalTenantResource's inventory entries over all its tenants.
func entries(ctx context.Context, gtr string) []v1alpha1.InventoryEntry {
	GinkgoHelper()
	list := &v1alpha1.TenantInventoryList{}
	Expect(k8s.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr})).To(Succeed())
	var out []v1alpha1.InventoryEntry
	for _, inv := range list.Items {
		out = append(out, inv.Status.Entries...)
	}
	return out
}

// versions maps every object a diff could touch to its resourceVersion.
func versions(ctx context.Context) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	for _, gvk := range []schema.GroupVersionKind{
		configMapGVK, tenantGVK, httpRouteGVK, {Version: "v1", Kind: "Namespace"},
		v1alpha1.GroupVersion.WithKind("GlobalTenantResource"), v1alpha1.GroupVersion.WithKind("TenantInventory"),
	} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		Expect(k8s.List(ctx, list)).To(Succeed())
		for _, o := range list.Items {
			out[gvk.Kind+" "+strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/")] = o.GetResourceVersion()
		}
	}
	return out
}

// write writes a file under files and returns its path.
func write(name, content string) string {
	GinkgoHelper()
	p := filepath.Join(files, name)
	Expect(os.WriteFile(p, []byte(content), 0o755)).To(Succeed())
	return p
}
