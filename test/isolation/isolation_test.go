// Package isolation_test runs the controller with a single worker against a
// real kube-apiserver + etcd (envtest) and a GlobalTenantResource whose
// template never ends, and checks that the other GlobalTenantResources still
// react within its renderTimeout and that the looping one is reported as
// failed, naming the tenant and the limit. It is a suite of its own because
// it needs a controller with one worker, and the controller suite's runs
// with four.
package isolation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
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
)

func TestIsolation(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tenantgen worker isolation (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error())
	}
	k8s = env.Client
	ctx, cancel := context.WithCancel(context.Background())
	mgr, _, err := controller.NewManager(ctx, env.Config, controller.ManagerOptions{
		MetricsAddr: "0", ProbeAddr: "0", LeaderElection: false,
		Options: controller.Options{Workers: 1}, // what `tenantgen controller --workers=1` runs
	})
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
	DeferCleanup(func() {
		cancel()
		Eventually(done, 30*time.Second).Should(BeClosed())
		Expect(env.Stop()).To(Succeed())
	})
})

var (
	tenantGVK    = schema.GroupVersionKind{Group: "capsule.clastix.io", Version: "v1beta2", Kind: "Tenant"}
	configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
)

const renderTimeout = 2 * time.Second

// tenantWith creates a namespace and a Tenant owning it, with spec.data.
func tenantWith(ctx context.Context, name string, data map[string]any) {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name + "-prod", Labels: map[string]string{"capsule.clastix.io/tenant": name}}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	t := &unstructured.Unstructured{}
	t.SetGroupVersionKind(tenantGVK)
	t.SetName(name)
	t.SetLabels(map[string]string{"spec": "isolation"})
	t.Object["spec"] = map[string]any{"data": data}
	Expect(k8s.Create(ctx, t)).To(Succeed())
	t.Object["status"] = testenv.TenantStatus(map[string]any{"namespaces": []any{name + "-prod"}})
	Expect(k8s.Status().Update(ctx, t)).To(Succeed())
}

func gtr(ctx context.Context, manifest string) {
	GinkgoHelper()
	g := &v1alpha1.GlobalTenantResource{}
	Expect(yaml.UnmarshalStrict([]byte(manifest), g)).To(Succeed())
	Expect(k8s.Create(ctx, g)).To(Succeed())
}

func ready(ctx context.Context, name string) *metav1.Condition {
	g := &v1alpha1.GlobalTenantResource{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, g); err != nil {
		return nil
	}
	for i := range g.Status.Conditions {
		if g.Status.Conditions[i].Type == v1alpha1.ConditionReady {
			return &g.Status.Conditions[i]
		}
	}
	return nil
}

func colorOf(ctx context.Context, ns string) string {
	cm := &unstructured.Unstructured{}
	cm.SetGroupVersionKind(configMapGVK)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "color"}, cm); err != nil {
		return ""
	}
	v, _, _ := unstructured.NestedString(cm.Object, "data", "color")
	return v
}

var _ = Describe("with one worker, a GlobalTenantResource whose template never ends", func() {
	It("delays the others by at most its renderTimeout and is reported as failed with the limit", func(ctx SpecContext) {
		tenantWith(ctx, "loop", map[string]any{})
		tenantWith(ctx, "good", map[string]any{"color": "blue"})
		gtr(ctx, fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: endless}
spec:
  scope: Tenant
  resyncPeriod: 1h
  limits: {renderTimeout: %s}
  tenantSelector: {matchLabels: {spec: isolation}}
  resources:
    - generators:
        - template: |
            {{- if eq $.tenant.metadata.name "loop" }}{{ range 1000000000000 }}{{ end }}{{ end }}
`, renderTimeout))
		gtr(ctx, `
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: colors}
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {spec: isolation}}
  policy: {allowedKinds: [{group: "", kind: ConfigMap}], allowedNamespaces: ["{{tenant.name}}-prod"]}
  resources:
    - generators:
        - missingKey: zero
          template: |
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: color, namespace: "{{ $.tenant.metadata.name }}-prod"}
            data: {color: {{ $.tenant.spec.data.color | default "none" | quote }}}
`)

		By("the looping GlobalTenantResource is reported failed, naming the tenant and the limit")
		Eventually(func(gm Gomega) {
			c := ready(ctx, "endless")
			gm.Expect(c).NotTo(BeNil())
			gm.Expect(c.Reason).To(Equal("TenantsFailed"), c.Message)
			gm.Expect(c.Message).To(ContainSubstring(`loop: render failed`))
			gm.Expect(c.Message).To(ContainSubstring(`tenant "loop"`))
			gm.Expect(c.Message).To(ContainSubstring("render exceeded limits.renderTimeout"))
		}, 3*renderTimeout+5*time.Second, 50*time.Millisecond).Should(Succeed())
		Eventually(func(gm Gomega) {
			var list eventsv1.EventList
			gm.Expect(k8s.List(ctx, &list)).To(Succeed())
			found := false
			for _, e := range list.Items {
				found = found || (e.Regarding.Name == "endless" && e.Reason == "RenderBudgetExceeded" && e.Type == corev1.EventTypeWarning)
			}
			gm.Expect(found).To(BeTrue(), "a RenderBudgetExceeded Event on endless")
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
		Eventually(func() string { return colorOf(ctx, "good-prod") }, 3*renderTimeout+5*time.Second, 20*time.Millisecond).Should(Equal("blue"))

		By("while it keeps failing and being retried, a change of the good tenant reaches its object within renderTimeout")
		var slowest time.Duration
		for i, color := range []string{"red", "green", "yellow", "purple", "orange"} {
			t := &unstructured.Unstructured{}
			t.SetGroupVersionKind(tenantGVK)
			Expect(k8s.Get(ctx, client.ObjectKey{Name: "good"}, t)).To(Succeed())
			Expect(unstructured.SetNestedField(t.Object, color, "spec", "data", "color")).To(Succeed())
			start := time.Now()
			Expect(k8s.Update(ctx, t)).To(Succeed())
			// One render of the looping pair may be running when the change
			// arrives: the worker is free again after renderTimeout, plus the
			// good pair's own reconcile.
			Eventually(func() string { return colorOf(ctx, "good-prod") }, renderTimeout+time.Second, 10*time.Millisecond).Should(Equal(color), "change %d", i)
			slowest = max(slowest, time.Since(start))
			// Spread the changes over the looping pair's retries (5 s, then 10 s).
			time.Sleep(1500 * time.Millisecond)
		}
		GinkgoWriter.Printf("slowest reaction with the looping GlobalTenantResource on the only worker: %v (renderTimeout %v)\n", slowest, renderTimeout)
		if c := ready(ctx, "endless"); c == nil || c.Reason != "TenantsFailed" {
			Fail(fmt.Sprintf("the looping GlobalTenantResource is not reported failed: %+v", c))
		}
	})
})
