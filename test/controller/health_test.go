package controller_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
)

// manualLabel marks generated objects whose status the specs set themselves,
// as the Gateway and cert-manager controllers would: the suite's stand-in
// for those controllers leaves them alone.
const manualLabel = "tenantgen-test/status"

// healthGTR generates, for every tenant of the spec, a Gateway and an Issuer
// (whose statuses the spec sets) and a ConfigMap (healthy as soon as it exists).
func healthGTR(id string) *v1alpha1.GlobalTenantResource {
	return tenantGTR(id, fmt.Sprintf(`
  resources:
  - additionalMetadata: {labels: {%s: manual}}
    rawItems:
    - apiVersion: gateway.networking.k8s.io/v1
      kind: Gateway
      metadata: {name: gw, namespace: "tenant-{{tenant.name}}-system"}
      spec:
        gatewayClassName: eg
        listeners: [{name: http, protocol: HTTP, port: 80}]
    - apiVersion: cert-manager.io/v1
      kind: Issuer
      metadata: {name: selfsigned, namespace: "tenant-{{tenant.name}}-system"}
      spec: {selfSigned: {}}
    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: settings, namespace: "tenant-{{tenant.name}}-system"}
      data: {a: b}
`, manualLabel))
}

// tenantGTR is a GlobalTenantResource of scope Tenant, resync 1h, for the
// tenants labelled with the spec's id; spec is the rest of its spec, indented.
func tenantGTR(id, spec string) *v1alpha1.GlobalTenantResource {
	return gtrFrom(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %[1]s}
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%[2]s: %[1]s}}
%[3]s`, id, specLabel, spec))
}

// setConditions writes status.conditions of an object through its status
// subresource, for its current generation, as its controller would.
func setConditions(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, conds ...[3]string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		u := getObj(ctx, gvk, namespace, name)
		g.Expect(u).NotTo(BeNil())
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = map[string]any{"type": c[0], "status": c[1], "reason": c[2], "message": c[0] + " is " + c[1],
				"observedGeneration": u.GetGeneration(), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
		}
		g.Expect(unstructured.SetNestedSlice(u.Object, list, "status", "conditions")).To(Succeed())
		g.Expect(k8s.Status().Update(ctx, u)).To(Succeed())
	}).Should(Succeed())
}

// gtrConditions waits until the GlobalTenantResource's conditions (for its
// current generation) satisfy check and returns how long that took from start.
func gtrConditions(ctx context.Context, name string, start time.Time, timeout time.Duration, check func(Gomega, *v1alpha1.GlobalTenantResource)) time.Duration {
	GinkgoHelper()
	Eventually(func(gm Gomega) {
		g := getGTR(ctx, name)
		gm.Expect(g.Status.ObservedGeneration).To(Equal(g.Generation))
		check(gm, g)
	}).WithTimeout(timeout).WithPolling(10 * time.Millisecond).Should(Succeed())
	return time.Since(start)
}

func hasCondition(gm Gomega, g *v1alpha1.GlobalTenantResource, typ string, status metav1.ConditionStatus, reason string, msg ...string) {
	c := meta.FindStatusCondition(g.Status.Conditions, typ)
	gm.Expect(c).NotTo(BeNil(), "no %s condition: %v", typ, g.Status.Conditions)
	gm.Expect(c.Status).To(Equal(status), "%s: %s: %s", typ, c.Reason, c.Message)
	gm.Expect(c.Reason).To(Equal(reason), "%s: %s", typ, c.Message)
	for _, m := range msg {
		gm.Expect(c.Message).To(ContainSubstring(m))
	}
}

func lacksCondition(gm Gomega, g *v1alpha1.GlobalTenantResource, typ string) {
	gm.Expect(meta.FindStatusCondition(g.Status.Conditions, typ)).To(BeNil(), "%s must be absent", typ)
}

var _ = Describe("health of generated objects", func() {
	It("is Ready only once Gateways are programmed and Issuers ready, and shows a Gateway turning Programmed=False", func(ctx SpecContext) {
		id := uniq("health")
		solar, wind := uniq("hsolar"), uniq("hwind")
		for _, t := range []string{solar, wind} {
			createTenant(ctx, tenantFixture{name: t, namespaces: []string{t + "-prod"}, system: true, labels: map[string]string{specLabel: id}})
		}
		createGTR(ctx, healthGTR(id))

		By("applied, but the Gateways wait for their controller (the CRD's default status) and the Issuers have none")
		gtrConditions(ctx, id, time.Now(), 5*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
			hasCondition(gm, g, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonHealthPending)
			hasCondition(gm, g, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonHealthPending)
			hasCondition(gm, g, v1alpha1.ConditionHealthy, metav1.ConditionUnknown, v1alpha1.ReasonHealthPending,
				"4 objects not healthy in 2 of 2 tenants; first: tenant "+solar+": 2 of 3 objects not healthy (2 in progress): ",
				"Gateway tenant-"+solar+"-system/gw: ")
			lacksCondition(gm, g, v1alpha1.ConditionStalled)
			lacksCondition(gm, g, v1alpha1.ConditionCordoned)
			gm.Expect(g.Status.UnhealthyTenants).To(Equal(2))
			gm.Expect(g.Status.UnhealthyObjects).To(Equal(4))
			gm.Expect(g.Status.ReadyTenants).To(Equal(2), "applied: the tenants are ready, their objects not healthy yet")
		})
		inv := &v1alpha1.TenantInventory{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: inventory.Name(id, solar)}, inv)).To(Succeed())
		Expect(inv.Status.Unhealthy).To(Equal(2))
		h := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionHealthy)
		Expect(h).NotTo(BeNil())
		Expect(h.Status).To(Equal(metav1.ConditionUnknown))
		Expect(h.Message).To(ContainSubstring("Programmed=Unknown (Pending): Waiting for controller"))
		Expect(h.Message).To(ContainSubstring("Issuer tenant-" + solar + "-system/selfsigned: Ready not reported yet"))
		Expect(meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "per-tenant Ready means applied")
		Expect(metricValue("tenantgen_ready", id)).To(Equal(0.0))
		Expect(metricValue("tenantgen_objects_unhealthy", id)).To(Equal(4.0))
		Expect(metricValue("tenantgen_tenants_unhealthy", id)).To(Equal(2.0))

		By("the Gateway and cert-manager controllers report: Ready")
		start := time.Now()
		for _, t := range []string{solar, wind} {
			ns := "tenant-" + t + "-system"
			setConditions(ctx, gatewayGVK, ns, "gw", [3]string{"Accepted", "True", "Accepted"}, [3]string{"Programmed", "True", "Programmed"})
			setConditions(ctx, issuerGVK, ns, "selfsigned", [3]string{"Ready", "True", "IsReady"})
		}
		d := gtrConditions(ctx, id, start, 5*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
			hasCondition(gm, g, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "2 tenants reconciled, 6 objects healthy")
			hasCondition(gm, g, v1alpha1.ConditionHealthy, metav1.ConditionTrue, v1alpha1.ReasonHealthy, "6 objects healthy")
			lacksCondition(gm, g, v1alpha1.ConditionReconciling)
			lacksCondition(gm, g, v1alpha1.ConditionStalled)
			gm.Expect(g.Status.UnhealthyObjects).To(Equal(0))
		})
		GinkgoWriter.Printf("4 statuses written -> GTR Ready: %s\n", d)
		Expect(metricValue("tenantgen_ready", id)).To(Equal(1.0))
		Expect(metricValue("tenantgen_objects_unhealthy", id)).To(Equal(0.0))
		Expect(metricValue("tenantgen_objects_managed", id)).To(Equal(6.0))
		Expect(metricValue("tenantgen_tenants_selected", id)).To(Equal(2.0))
		Expect(metricValue("tenantgen_tenants_ready", id)).To(Equal(2.0))

		By("a Gateway turns Programmed=False: on the GlobalTenantResource within 2 s")
		var down, up []time.Duration
		// Status writes are at least 1 s apart; each flip follows a quiet
		// spell, as a real Gateway's would, so what is measured is the path
		// from the Gateway's status to the GlobalTenantResource's.
		quiet := func() { time.Sleep(1200 * time.Millisecond) }
		for round := range 3 {
			quiet()
			start = time.Now()
			setConditions(ctx, gatewayGVK, "tenant-"+wind+"-system", "gw", [3]string{"Accepted", "True", "Accepted"}, [3]string{"Programmed", "False", "Invalid"})
			d = gtrConditions(ctx, id, start, 2*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
				hasCondition(gm, g, v1alpha1.ConditionHealthy, metav1.ConditionFalse, v1alpha1.ReasonUnhealthy,
					"1 objects not healthy in 1 of 2 tenants; first: tenant "+wind+": 1 of 3 objects not healthy (1 failed): Gateway tenant-"+wind+"-system/gw: Programmed=False (Invalid): Programmed is False")
				hasCondition(gm, g, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonUnhealthy)
				hasCondition(gm, g, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonUnhealthy)
			})
			down = append(down, d)
			Expect(metricValue("tenantgen_objects_unhealthy", id)).To(Equal(1.0))
			Expect(metricValue("tenantgen_ready", id)).To(Equal(0.0))
			Expect(itemsOf(ctx, id, wind)).To(HaveLen(3), "nothing re-created or pruned")

			By(fmt.Sprintf("round %d: back to Programmed=True: Ready within 2 s", round))
			quiet()
			start = time.Now()
			setConditions(ctx, gatewayGVK, "tenant-"+wind+"-system", "gw", [3]string{"Accepted", "True", "Accepted"}, [3]string{"Programmed", "True", "Programmed"})
			d = gtrConditions(ctx, id, start, 2*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
				hasCondition(gm, g, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
				lacksCondition(gm, g, v1alpha1.ConditionStalled)
			})
			up = append(up, d)
		}
		AddReportEntry("Gateway Programmed=False -> GTR Healthy=False", durationsSummary(down))
		AddReportEntry("Gateway Programmed=True -> GTR Ready=True", durationsSummary(up))
		GinkgoWriter.Printf("Programmed=False -> GTR: %s; back to True -> Ready: %s\n", durationsSummary(down), durationsSummary(up))
		Expect(metricValue("tenantgen_render_duration_seconds", id)).To(BeNumerically(">", 0))
	})

	It("applies spec.healthChecks (CEL) and refuses a bad expression as Stalled", func(ctx SpecContext) {
		id := uniq("cel")
		t := uniq("cel")
		createTenant(ctx, tenantFixture{name: t, namespaces: []string{t + "-prod"}, system: true, labels: map[string]string{specLabel: id}})
		g := tenantGTR(id, `
  healthChecks:
  - apiVersion: v1
    kind: ConfigMap
    current: "metadata.?annotations['example.com/verified'].orValue('') == 'true'"
    failed: "metadata.?annotations['example.com/verified'].orValue('') == 'false'"
  resources:
  - rawItems:
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: checked, namespace: "tenant-{{tenant.name}}-system"}, data: {a: b}}
`)
		createGTR(ctx, g)
		gtrConditions(ctx, id, time.Now(), 5*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
			hasCondition(gm, g, v1alpha1.ConditionHealthy, metav1.ConditionUnknown, v1alpha1.ReasonHealthPending, "no health check expression is true yet")
		})

		By("another controller marks the ConfigMap verified=false, then true (tenantgen does not own that annotation)")
		cm := eventuallyObj(ctx, configMapGVK, "tenant-"+t+"-system", "checked")
		mergePatch(ctx, cm, map[string]any{"metadata": map[string]any{"annotations": map[string]any{"example.com/verified": "false"}}}, "verifier")
		gtrConditions(ctx, id, time.Now(), 2*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
			hasCondition(gm, g, v1alpha1.ConditionHealthy, metav1.ConditionFalse, v1alpha1.ReasonUnhealthy, "ConfigMap tenant-"+t+"-system/checked: healthChecks[0].failed is true")
		})
		mergePatch(ctx, cm, map[string]any{"metadata": map[string]any{"annotations": map[string]any{"example.com/verified": "true"}}}, "verifier")
		gtrConditions(ctx, id, time.Now(), 2*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
			hasCondition(gm, g, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
		})

		By("an expression that does not compile: Stalled, naming the field; nothing applied is touched")
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"healthChecks": []any{map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "current": "metadata.annotations[",
		}}}})
		gtrConditions(ctx, id, time.Now(), 5*time.Second, func(gm Gomega, g *v1alpha1.GlobalTenantResource) {
			hasCondition(gm, g, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec, "spec.healthChecks[0].current: ERROR: <input>:1:")
			hasCondition(gm, g, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
			lacksCondition(gm, g, v1alpha1.ConditionReconciling)
		})
		Expect(getObj(ctx, configMapGVK, "tenant-"+t+"-system", "checked")).NotTo(BeNil())
	})

	It("returns failures to the workqueue, so controller-runtime's error metrics count them", func(ctx SpecContext) {
		id := uniq("errs")
		t := uniq("errs")
		createTenant(ctx, tenantFixture{name: t, namespaces: []string{t + "-prod"}, system: true, labels: map[string]string{specLabel: id}})
		pairErrors := map[string]string{"controller": "tenantpair"}
		before := metricSum("controller_runtime_reconcile_errors_total", pairErrors)
		createGTR(ctx, tenantGTR(id, `
  resources:
  - generators:
    - template: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: x, namespace: tenant-{{ .tenant.metadata.name }}-system}
        data: {email: {{ required "spec.data.email is required" (dig "spec" "data" "email" "" .tenant) | quote }}}
      missingKey: zero
`))
		eventuallyNotReady(ctx, id, v1alpha1.ReasonTenantsFailed, "spec.data.email is required")
		Eventually(func() float64 { return metricSum("controller_runtime_reconcile_errors_total", pairErrors) }).
			Should(BeNumerically(">", before))
		Expect(metricValue("tenantgen_tenants_failing", id)).To(Equal(1.0))
		g := getGTR(ctx, id)
		Expect(meta.IsStatusConditionTrue(g.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
	})
})
