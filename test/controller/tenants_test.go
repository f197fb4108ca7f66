package controller_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// markerGTR renders, in Namespace scope, a ConfigMap "marker" into every
// namespace labelled stage=prod of the tenants labelled specLabel=id.
func markerGTR(id string) *v1alpha1.GlobalTenantResource {
	return gtrFrom(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %s}
spec:
  scope: Namespace
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%s: %s}}
  resources:
    - namespaceSelector: {matchLabels: {stage: prod}}
      rawItems:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: marker}
          data: {tenant: "{{tenant.name}}", namespace: "{{ namespace }}"}
`, id, specLabel, id))
}

var _ = Describe("tenants and namespaces coming and going", func() {
	It("creates objects for new tenants and prunes them when a tenant leaves", func(ctx SpecContext) {
		id := uniq("tenants")
		sel := map[string]string{specLabel: id}
		t1, t2 := uniq("t1"), uniq("t2")
		createTenant(ctx, tenantFixture{
			name: t1, labels: sel, namespaces: []string{t1 + "-prod", t1 + "-dev"},
			nsLabels: map[string]map[string]string{t1 + "-prod": {"stage": "prod"}, t1 + "-dev": {"stage": "dev"}},
		})
		createGTR(ctx, markerGTR(id))
		eventuallyObj(ctx, configMapGVK, t1+"-prod", "marker", hasData("tenant", t1), hasData("namespace", t1+"-prod"))
		g := eventuallyReady(ctx, id)
		Expect(inventoriedTenants(ctx, g.Name)).To(Equal([]string{t1}))
		Expect(getObj(ctx, configMapGVK, t1+"-dev", "marker")).To(BeNil(), "namespaceSelector excludes stage=dev")

		By("a tenant added gets its objects")
		t2Obj := createTenant(ctx, tenantFixture{
			name: t2, labels: sel, namespaces: []string{t2 + "-prod"},
			nsLabels: map[string]map[string]string{t2 + "-prod": {"stage": "prod"}},
		})
		eventuallyObj(ctx, configMapGVK, t2+"-prod", "marker", hasData("tenant", t2))
		Eventually(func() []string { return inventoriedTenants(ctx, id) }).Should(Equal(sorted(t1, t2)))

		By("a tenant deleted has its objects pruned")
		Expect(k8s.Delete(ctx, t2Obj)).To(Succeed())
		eventuallyGone(ctx, configMapGVK, t2+"-prod", "marker")
		eventuallyEvent(ctx, id, corev1.EventTypeNormal, "Pruned", t2, "ConfigMap "+t2+"-prod/marker")
		Eventually(func(gm Gomega) {
			g := getGTR(ctx, id)
			gm.Expect(inventoriedTenants(ctx, g.Name)).To(Equal([]string{t1}))
			gm.Expect(itemsOf(ctx, g.Name, t2)).To(BeEmpty())
			gm.Expect(g.Status.Size).To(Equal(1), "status %+v", g.Status)
		}).Should(Succeed())

		By("a namespace added to the tenant gets the object")
		createNamespace(ctx, t1+"-extra", tenantNS, t1, "stage", "prod")
		eventuallyObj(ctx, configMapGVK, t1+"-extra", "marker", hasData("namespace", t1+"-extra"))

		By("a namespace relabelled into the namespaceSelector gets the object")
		relabelNamespace(ctx, t1+"-dev", "stage", "prod")
		eventuallyObj(ctx, configMapGVK, t1+"-dev", "marker", hasData("namespace", t1+"-dev"))

		By("a namespace relabelled out of the namespaceSelector loses it")
		relabelNamespace(ctx, t1+"-prod", "stage", "dev")
		eventuallyGone(ctx, configMapGVK, t1+"-prod", "marker")
		Eventually(func(gm Gomega) {
			var nss []string
			for _, it := range items(ctx, id) {
				nss = append(nss, it.Namespace)
			}
			gm.Expect(nss).To(Equal([]string{t1 + "-dev", t1 + "-extra"}))
		}).Should(Succeed())

		By("a tenant relabelled out of the tenantSelector has its objects pruned")
		patchTenant(ctx, t1, map[string]any{"metadata": map[string]any{"labels": map[string]any{specLabel: "elsewhere"}}})
		eventuallyGone(ctx, configMapGVK, t1+"-dev", "marker")
		eventuallyGone(ctx, configMapGVK, t1+"-extra", "marker")
		Eventually(func(gm Gomega) {
			g := getGTR(ctx, id)
			gm.Expect(inventoriedTenants(ctx, g.Name)).To(BeEmpty())
			gm.Expect(items(ctx, g.Name)).To(BeEmpty())
			gm.Expect(condition(g, v1alpha1.ConditionReady)).NotTo(BeNil())
		}).Should(Succeed())

		By("relabelled back in, it converges again")
		patchTenant(ctx, t1, map[string]any{"metadata": map[string]any{"labels": map[string]any{specLabel: id}}})
		eventuallyObj(ctx, configMapGVK, t1+"-dev", "marker")
		eventuallyReady(ctx, id)
	})
})
