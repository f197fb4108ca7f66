package controller_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// createRoute creates an HTTPRoute labelled projectcapsule.dev/tenant=<label> in namespace.
func createRoute(ctx context.Context, namespace, name, label string, hostnames ...string) *unstructured.Unstructured {
	GinkgoHelper()
	quoted := make([]string, len(hostnames))
	for i, h := range hostnames {
		quoted[i] = fmt.Sprintf("%q", h)
	}
	return create(ctx, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: %s
  namespace: %s
  labels: {%s: %s}
spec:
  parentRefs: [{name: tenant-%s-gateway, namespace: tenant-%s-system}]
  hostnames: [%s]
  rules: [{backendRefs: [{name: app, port: 8080}]}]
`, name, namespace, routeLabel, label, label, label, strings.Join(quoted, ", "))
}

// gatewayOf returns the name and namespace of the seed example's Gateway of a tenant.
func gatewayOf(tenantName string) (namespace, name string) {
	return "tenant-" + tenantName + "-system", "tenant-" + tenantName + "-gateway"
}

// waitListeners polls the tenant's Gateway every 5 ms until its HTTPS listener
// hostnames are exactly want, and returns how long that took from start.
func waitListeners(ctx context.Context, tenantName string, start time.Time, want ...string) time.Duration {
	GinkgoHelper()
	sort.Strings(want)
	ns, name := gatewayOf(tenantName)
	var got []string
	Eventually(func(g Gomega) {
		gw := getObj(ctx, gatewayGVK, ns, name)
		g.Expect(gw).NotTo(BeNil())
		got = listenerHostnames(gw)
		g.Expect(got).To(Equal(want))
	}).WithPolling(5 * time.Millisecond).Should(Succeed())
	return time.Since(start)
}

func durationsSummary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("n=%d min=%s median=%s max=%s", len(s), s[0].Round(time.Millisecond),
		s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

var _ = Describe("the seed example (samples/capsule-envoy-gateway.yaml)", func() {
	It("renders, applies and follows HTTPRoutes end to end", func(ctx SpecContext) {
		solar, wind := uniq("solar"), uniq("wind")
		createTenant(ctx, tenantFixture{
			name: solar, namespaces: []string{solar + "-prod", solar + "-dev"}, system: true,
			data: map[string]any{"networking": map[string]any{"ingress": map[string]any{"bandwidth": "100M"}}},
		})
		createTenant(ctx, tenantFixture{name: wind, namespaces: []string{wind + "-prod"}, system: true})
		createRoute(ctx, solar+"-prod", "shop", solar, "shop."+solar+".example.com", "www."+solar+".example.com")
		createRoute(ctx, solar+"-dev", "api", solar, "api.dev."+solar+".example.com")

		gtrs := sampleGTRs("capsule-envoy-gateway.yaml")
		Expect(gtrs).To(HaveLen(2))
		for _, g := range gtrs {
			// Resync far away: everything below must come from watch events.
			g.Spec.ResyncPeriod = metav1.Duration{Duration: time.Hour}
			createGTR(ctx, g)
		}
		gateway, issuer := gtrs[0].Name, gtrs[1].Name

		By("one HTTPS listener per route hostname; EnvoyProxy and Issuer accepted by their real CRD schemas")
		waitListeners(ctx, solar, time.Now(), "api.dev."+solar+".example.com", "shop."+solar+".example.com", "www."+solar+".example.com")
		waitListeners(ctx, wind, time.Now())
		ns, name := gatewayOf(solar)
		gw := getObj(ctx, gatewayGVK, ns, name)
		ls, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
		Expect(ls[0].(map[string]any)["name"]).To(Equal("http-challenge"))
		Expect(gw.GetLabels()).To(HaveKeyWithValue(v1alpha1.LabelGlobalTenantResource, gateway))
		Expect(gw.GetLabels()).To(HaveKeyWithValue(v1alpha1.LabelTenant, solar))
		ep := eventuallyObj(ctx, envoyGVK, ns, name)
		ann, _, _ := unstructured.NestedStringMap(ep.Object, "spec", "provider", "kubernetes", "envoyDeployment", "pod", "annotations")
		Expect(ann).To(HaveKeyWithValue("kubernetes.io/ingress-bandwidth", "100M"))
		eventuallyObj(ctx, envoyGVK, "tenant-"+wind+"-system", "tenant-"+wind+"-gateway")
		eventuallyObj(ctx, issuerGVK, ns, solar+"-acme-http")
		eventuallyObj(ctx, issuerGVK, "tenant-"+wind+"-system", wind+"-acme-http")

		By("status: Ready, selected tenants, size and an inventory with the live UIDs")
		for _, n := range []string{gateway, issuer} {
			g := eventuallyReady(ctx, n)
			Expect(inventoriedTenants(ctx, g.Name)).To(Equal(sorted(solar, wind)))
			Expect(g.Status.TenantCount).To(Equal(2))
			Expect(g.Status.Size).To(Equal(len(items(ctx, g.Name))))
			for _, it := range items(ctx, g.Name) {
				Expect(it.UID).NotTo(BeEmpty())
				Expect(it.Ready).To(BeTrue(), it.Message)
				Expect(it.Ownership).To(Equal(v1alpha1.OwnershipCreated))
				live := getObj(ctx, it.GroupVersionKind, it.Namespace, it.Name)
				Expect(live).NotTo(BeNil(), "%s %s/%s", it.Kind, it.Namespace, it.Name)
				Expect(live.GetUID()).To(Equal(it.UID))
			}
		}
		Expect(getGTR(ctx, gateway).Status.Size).To(Equal(4)) // EnvoyProxy + Gateway per tenant
		Expect(getGTR(ctx, issuer).Status.Size).To(Equal(2))  // Issuer per tenant

		By("a new HTTPRoute gets its listener (latency measured from Create)")
		hosts := []string{"api.dev." + solar + ".example.com", "shop." + solar + ".example.com", "www." + solar + ".example.com"}
		var samples []time.Duration
		for i := range 10 {
			h := fmt.Sprintf("new%d.%s.example.com", i, solar)
			hosts = append(hosts, h)
			start := time.Now()
			createRoute(ctx, solar+"-prod", fmt.Sprintf("new%d", i), solar, h)
			d := waitListeners(ctx, solar, start, hosts...)
			samples = append(samples, d)
			GinkgoWriter.Printf("HTTPRoute create -> listener visible: %s\n", d)
		}
		AddReportEntry("HTTPRoute create -> Gateway listener latency", durationsSummary(samples))

		By("changing the route's hostnames moves its listener")
		route := getObj(ctx, httpRouteGVK, solar+"-prod", "new0")
		Expect(unstructured.SetNestedStringSlice(route.Object, []string{"moved." + solar + ".example.com"}, "spec", "hostnames")).To(Succeed())
		start := time.Now()
		Expect(k8s.Update(ctx, route)).To(Succeed())
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return strings.HasPrefix(h, "new0.") })
		hosts = append(hosts, "moved."+solar+".example.com")
		d := waitListeners(ctx, solar, start, hosts...)
		AddReportEntry("HTTPRoute hostname change -> listener moved", d.Round(time.Millisecond).String())

		By("deleting the route removes its listener")
		start = time.Now()
		Expect(k8s.Delete(ctx, route)).To(Succeed())
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return strings.HasPrefix(h, "moved.") })
		d = waitListeners(ctx, solar, start, hosts...)
		AddReportEntry("HTTPRoute delete -> listener removed", d.Round(time.Millisecond).String())

		By("the other tenant's Gateway never saw any of it")
		waitListeners(ctx, wind, time.Now())
		g := eventuallyReady(ctx, gateway)
		Expect(g.Status.Size).To(Equal(4))
	})
})

var _ = Describe("cross-tenant isolation in the cluster", func() {
	It("keeps a route labelled for tenant A in tenant B's namespace out of A's Gateway", func(ctx SpecContext) {
		id := uniq("iso")
		a, b := uniq("ta"), uniq("tb")
		createTenant(ctx, tenantFixture{name: a, labels: map[string]string{specLabel: id}, namespaces: []string{a + "-prod"}, system: true})
		createTenant(ctx, tenantFixture{name: b, labels: map[string]string{specLabel: id}, namespaces: []string{b + "-prod"}, system: true})
		g := sampleGTRs("capsule-envoy-gateway.yaml")[0]
		g.Name = id
		g.Spec.ResyncPeriod = metav1.Duration{Duration: time.Hour}
		g.Spec.TenantSelector = metav1.LabelSelector{MatchLabels: map[string]string{specLabel: id}}
		createGTR(ctx, g)
		eventuallyReady(ctx, id)

		// Tenant B labels a route of its own with tenant A's name.
		createRoute(ctx, b+"-prod", "sneaky", a, "login."+a+".example.com")
		// A's own route, created afterwards: once its listener is there, A's
		// render has seen the sneaky route too.
		createRoute(ctx, a+"-prod", "legit", a, "legit."+a+".example.com")
		waitListeners(ctx, a, time.Now(), "legit."+a+".example.com")
		Consistently(func() []string {
			ns, name := gatewayOf(a)
			return listenerHostnames(getObj(ctx, gatewayGVK, ns, name))
		}).Should(Equal([]string{"legit." + a + ".example.com"}))
		waitListeners(ctx, b, time.Now())
	})
})

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}
