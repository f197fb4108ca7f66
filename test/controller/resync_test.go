package controller_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

var _ = Describe("a resync where nothing changed", func() {
	It("sends no writes", func(ctx SpecContext) {
		id := uniq("quiet")
		var tenants []string
		for range 2 {
			t := uniq("tq")
			tenants = append(tenants, t)
			createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}, system: true})
			createRoute(ctx, t+"-prod", "shop", t, "shop."+t+".example.com", "*.apps."+t+".example.com")
		}
		// The seed example's Gateway + EnvoyProxy (kinds whose CRDs default many
		// fields) plus a ConfigMap from a rawItem.
		g := sampleGTRs("capsule-envoy-gateway.yaml")[0]
		g.Name = id
		g.Spec.TenantSelector = metav1.LabelSelector{MatchLabels: map[string]string{specLabel: id}}
		g.Spec.ResyncPeriod = metav1.Duration{Duration: 2 * time.Second}
		g.Spec.Resources = append(g.Spec.Resources, gtrFrom(`
metadata: {name: x}
spec:
  resources:
    - rawItems:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: tenant-info
            namespace: "tenant-{{tenant.name}}-system"
          data: {tenant: "{{tenant.name}}"}
        # Quantities the apiserver writes back in canonical form (0.5 -> 500m, 1024Mi -> 1Gi).
        - apiVersion: v1
          kind: ResourceQuota
          metadata:
            name: gateway-quota
            namespace: "tenant-{{tenant.name}}-system"
          spec:
            hard: {requests.cpu: "0.5", requests.memory: 1024Mi, pods: 10}
        # Unquoted numbers where the API stores quantity strings.
        - apiVersion: v1
          kind: LimitRange
          metadata:
            name: defaults
            namespace: "tenant-{{tenant.name}}-system"
          spec:
            limits:
              - type: Container
                default: {cpu: 1, memory: 512Mi}
                defaultRequest: {cpu: 0.25, memory: 128Mi}
        # An empty list the API drops (omitempty): deny all ingress.
        - apiVersion: networking.k8s.io/v1
          kind: NetworkPolicy
          metadata:
            name: deny-ingress
            namespace: "tenant-{{tenant.name}}-system"
          spec:
            podSelector: {}
            policyTypes: [Ingress]
            ingress: []
`).Spec.Resources...)
		// The sample's write policy fits its own objects: allow the added kinds.
		g.Spec.Policy.AllowedKinds = append(g.Spec.Policy.AllowedKinds,
			v1alpha1.GroupKind{Kind: "ConfigMap"}, v1alpha1.GroupKind{Kind: "ResourceQuota"},
			v1alpha1.GroupKind{Kind: "LimitRange"}, v1alpha1.GroupKind{Group: "networking.k8s.io", Kind: "NetworkPolicy"})
		createGTR(ctx, g)
		got := eventuallyReady(ctx, id)
		Expect(got.Status.Size).To(Equal(12))
		for _, t := range tenants {
			waitListeners(ctx, t, time.Now(), "shop."+t+".example.com", "*.apps."+t+".example.com")
		}

		By("waiting until the controller is quiet (no write for 1 s)")
		Eventually(func() []string {
			n := writes.count()
			time.Sleep(time.Second)
			return writes.since(n)
		}).WithTimeout(10 * time.Second).Should(BeEmpty())

		By("counting writes over about 3 resync periods")
		n := writes.count()
		renders := metricValue("tenantgen_renders_total", id, "result", "ok")
		skipped := metricValue("tenantgen_skipped_writes_total", id)
		time.Sleep(7 * time.Second)
		// client-go's event broadcaster writes the final count of an Event
		// series 6 minutes after its last occurrence, on its own timer: a
		// series of an earlier spec's GlobalTenantResource can land in this
		// window. That is bookkeeping of events that happened then, not a
		// write of this resync; anything about this GlobalTenantResource counts.
		var sent []string
		for _, w := range writes.since(n) {
			if strings.Contains(w, "/events/") && !strings.Contains(w, "/events/"+id+".") {
				continue
			}
			sent = append(sent, w)
		}
		resyncRenders := metricValue("tenantgen_renders_total", id, "result", "ok") - renders
		skippedWrites := metricValue("tenantgen_skipped_writes_total", id) - skipped
		GinkgoWriter.Printf("quiet resyncs: %v renders, %v skipped writes, %d writes sent: %v\n", resyncRenders, skippedWrites, len(sent), sent)
		AddReportEntry("writes during quiet resyncs (7 s, resyncPeriod 2 s, 2 tenants)",
			map[string]any{"writes": len(sent), "renders": resyncRenders, "skippedWrites": skippedWrites})
		// The resync did run: every tenant rendered at least twice, and every
		// object was found unchanged.
		Expect(resyncRenders).To(BeNumerically(">=", 4))
		Expect(skippedWrites).To(BeNumerically(">=", 4*6))
		Expect(sent).To(BeEmpty())

		// Ready did not flap and the inventory still names every object.
		Expect(condition(getGTR(ctx, id), v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	})
})
