package controller_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/controller"
)

// derivedGTR renders, in Tenant scope, a ConfigMap "derived" whose color comes
// from the context ConfigMap "source" in the tenant's namespaces.
func derivedGTR(id string, extra string) *v1alpha1.GlobalTenantResource {
	return gtrFrom(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %s}
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%s: %s}}
%s
  resources:
    - context:
        resources:
          - {index: source, apiVersion: v1, kind: ConfigMap, name: source}
      generators:
        - template: |
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: derived
              namespace: {{ $.source.metadata.namespace }}
            data:
              color: {{ $.source.data.color | quote }}
`, id, specLabel, id, extra))
}

func setColor(ctx SpecContext, namespace, name, color string) {
	GinkgoHelper()
	cm := &unstructured.Unstructured{}
	cm.SetGroupVersionKind(configMapGVK)
	cm.SetNamespace(namespace)
	cm.SetName(name)
	mergePatch(ctx, cm, map[string]any{"data": map[string]any{"color": color}}, "tenantgen-test")
}

var _ = Describe("spec.cordoned", func() {
	It("pauses reconciliation until uncordoned", func(ctx SpecContext) {
		id := uniq("cordon")
		t := uniq("tco")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		create(ctx, "{apiVersion: v1, kind: ConfigMap, metadata: {name: source, namespace: %s-prod}, data: {color: blue}}", t)
		createGTR(ctx, derivedGTR(id, ""))
		eventuallyObj(ctx, configMapGVK, t+"-prod", "derived", hasData("color", "blue"))
		g := eventuallyReady(ctx, id)
		Expect(condition(g, v1alpha1.ConditionCordoned)).To(BeNil(), "Cordoned appears only while cordoned")

		By("cordoned: a context change does not reach the objects")
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"cordoned": true}})
		Eventually(func(gm Gomega) {
			g := getGTR(ctx, id)
			c := condition(g, v1alpha1.ConditionCordoned)
			gm.Expect(c).NotTo(BeNil())
			gm.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		}).Should(Succeed())
		renders := metricValue("tenantgen_renders_total", id)
		setColor(ctx, t+"-prod", "source", "red")
		Consistently(func(gm Gomega) {
			hasData("color", "blue")(gm, getObj(ctx, configMapGVK, t+"-prod", "derived"))
		}).WithTimeout(1500 * time.Millisecond).Should(Succeed())
		Expect(metricValue("tenantgen_renders_total", id)).To(Equal(renders), "rendered while cordoned")
		Expect(condition(getGTR(ctx, id), v1alpha1.ConditionReady).Reason).To(Equal("Cordoned"))

		By("uncordoned: it converges")
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"cordoned": false}})
		eventuallyObj(ctx, configMapGVK, t+"-prod", "derived", hasData("color", "red"))
		g = eventuallyReady(ctx, id)
		Expect(condition(g, v1alpha1.ConditionCordoned)).To(BeNil(), "Cordoned appears only while cordoned")
	})
})

var _ = Describe("spec.dependsOn", func() {
	It("renders nothing until the dependency is Ready, then converges", func(ctx SpecContext) {
		idA, idB := uniq("dep-a"), uniq("dep-b")
		t := uniq("tdep")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: idA}, namespaces: []string{t + "-prod"}})
		patchTenant(ctx, t, map[string]any{"metadata": map[string]any{"labels": map[string]any{specLabel + "-b": idB}}})
		// A fails: the context ConfigMap "source" does not exist yet.
		createGTR(ctx, derivedGTR(idA, ""))
		b := settingsGTR(idB, "  dependsOn: [{name: "+idA+"}]")
		b.Spec.TenantSelector = metav1.LabelSelector{MatchLabels: map[string]string{specLabel + "-b": idB}}
		createGTR(ctx, b)

		eventuallyNotReady(ctx, idA, "TenantsFailed", "source")
		g := eventuallyNotReady(ctx, idB, v1alpha1.ReasonWaitingDependency, fmt.Sprintf("waiting for globaltenantresource %q", idA))
		Expect(condition(g, v1alpha1.ConditionReconciling)).NotTo(BeNil(), "waiting is progress")
		Expect(condition(g, v1alpha1.ConditionStalled)).To(BeNil(), "waiting is not a stall")
		Expect(items(ctx, g.Name)).To(BeEmpty())
		Consistently(func() *unstructured.Unstructured {
			return getObj(ctx, configMapGVK, t+"-prod", "settings")
		}).Should(BeNil())

		By("A becomes Ready: B follows at once (not on its next retry)")
		create(ctx, "{apiVersion: v1, kind: ConfigMap, metadata: {name: source, namespace: %s-prod}, data: {color: blue}}", t)
		eventuallyReady(ctx, idA)
		start := time.Now()
		Eventually(func() *unstructured.Unstructured {
			return getObj(ctx, configMapGVK, t+"-prod", "settings")
		}).WithTimeout(2*time.Second).ShouldNot(BeNil(), "B did not converge promptly after A became Ready")
		AddReportEntry("dependsOn: dependency Ready -> dependent's object exists", time.Since(start).Round(time.Millisecond).String())
		eventuallyReady(ctx, idB)
	})
})

var _ = Describe("the requestedAt annotation", func() {
	It("triggers an immediate re-render of every tenant", func(ctx SpecContext) {
		id := uniq("req")
		t1, t2 := uniq("tr1"), uniq("tr2")
		for _, t := range []string{t1, t2} {
			createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		}
		createGTR(ctx, settingsGTR(id, ""))
		eventuallyReady(ctx, id)
		eventuallyObj(ctx, configMapGVK, t1+"-prod", "settings")
		eventuallyObj(ctx, configMapGVK, t2+"-prod", "settings")

		renders := settledRenders(id)
		Consistently(func() float64 { return metricValue("tenantgen_renders_total", id) }).Should(Equal(renders), "nothing should render without a trigger")

		patchGTR(ctx, id, map[string]any{"metadata": map[string]any{"annotations": map[string]any{
			controller.AnnotationRequestedAt: time.Now().Format(time.RFC3339Nano),
		}}})
		Eventually(func() float64 { return metricValue("tenantgen_renders_total", id) }).
			WithTimeout(2*time.Second).Should(BeNumerically(">=", renders+2), "both tenants rendered again")

		By("a metadata change that leaves requestedAt as it was does not re-render")
		renders = settledRenders(id)
		patchGTR(ctx, id, map[string]any{"metadata": map[string]any{"labels": map[string]any{"unrelated": "change"}}})
		Consistently(func() float64 { return metricValue("tenantgen_renders_total", id) }).Should(Equal(renders))
	})
})
