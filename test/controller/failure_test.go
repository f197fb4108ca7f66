package controller_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

var _ = Describe("a tenant whose render fails", func() {
	It("is reported, keeps its objects, and does not hold the other tenants back", func(ctx SpecContext) {
		id := uniq("fail")
		good, bad := uniq("good"), uniq("bad")
		sel := map[string]string{specLabel: id}
		createTenant(ctx, tenantFixture{name: good, labels: sel, namespaces: []string{good + "-prod"}, data: map[string]any{"color": "blue"}})
		createTenant(ctx, tenantFixture{name: bad, labels: sel, namespaces: []string{bad + "-prod"}, data: map[string]any{"color": "blue"}})
		// missingKey defaults to error: a tenant without spec.data.color fails.
		createGTR(ctx, gtrFrom(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %s}
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%s: %s}}
  resources:
    - generators:
        - template: |
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: color
              namespace: {{ $.tenant.metadata.name }}-prod
            data:
              color: {{ $.tenant.spec.data.color | quote }}
`, id, specLabel, id)))
		eventuallyObj(ctx, configMapGVK, good+"-prod", "color", hasData("color", "blue"))
		badCM := eventuallyObj(ctx, configMapGVK, bad+"-prod", "color", hasData("color", "blue"))
		eventuallyReady(ctx, id)

		By("the bad tenant loses the key its template needs")
		patchTenant(ctx, bad, map[string]any{"spec": map[string]any{"data": map[string]any{"color": nil, "shape": "round"}}})
		g := eventuallyNotReady(ctx, id, "TenantsFailed", "1 of 2 tenants failed", bad+": render failed", "color")
		Expect(g.Status.Conditions).NotTo(BeEmpty())
		Expect(condition(g, v1alpha1.ConditionReady).Message).NotTo(ContainSubstring(good + ":"))
		eventuallyEvent(ctx, id, corev1.EventTypeWarning, "RenderFailed", bad, "color")

		By("the good tenant still converges")
		patchTenant(ctx, good, map[string]any{"spec": map[string]any{"data": map[string]any{"color": "green"}}})
		eventuallyObj(ctx, configMapGVK, good+"-prod", "color", hasData("color", "green"))

		By("the bad tenant's previous objects are neither pruned nor dropped from the inventory")
		Consistently(func(gm Gomega) {
			cm := getObj(ctx, configMapGVK, bad+"-prod", "color")
			gm.Expect(cm).NotTo(BeNil())
			gm.Expect(cm.GetUID()).To(Equal(badCM.GetUID()))
			hasData("color", "blue")(gm, cm)
		}).Should(Succeed())
		g = getGTR(ctx, id)
		it := findItem(ctx, g.Name, "ConfigMap", bad+"-prod", "color")
		Expect(it).NotTo(BeNil())
		Expect(it.UID).To(Equal(badCM.GetUID()))
		Expect(g.Status.Size).To(Equal(2))
		Expect(condition(g, v1alpha1.ConditionReady).Reason).To(Equal("TenantsFailed"))

		By("fixing the data makes it converge")
		patchTenant(ctx, bad, map[string]any{"spec": map[string]any{"data": map[string]any{"color": "red"}}})
		eventuallyObj(ctx, configMapGVK, bad+"-prod", "color", hasData("color", "red"))
		eventuallyReady(ctx, id)
	})
})

var _ = Describe("a target namespace that does not exist", func() {
	It("is an item error naming the namespace until the namespace is created", func(ctx SpecContext) {
		id := uniq("missing")
		t := uniq("tm")
		missing := uniq("nowhere")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		createGTR(ctx, gtrFrom(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %s}
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%s: %s}}
  resources:
    - rawItems:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: here, namespace: "{{tenant.name}}-prod"}
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: there, namespace: %s}
          data: {tenant: "{{tenant.name}}"}
`, id, specLabel, id, missing)))
		g := eventuallyNotReady(ctx, id, "TenantsFailed", t, missing)
		it := findItem(ctx, g.Name, "ConfigMap", missing, "there")
		Expect(it).NotTo(BeNil())
		Expect(it.Ready).To(BeFalse())
		Expect(it.Message).To(ContainSubstring(fmt.Sprintf("namespace %q does not exist", missing)))
		Expect(it.UID).To(BeEmpty())
		// The object that could be applied was applied.
		eventuallyObj(ctx, configMapGVK, t+"-prod", "here")

		By("creating the namespace retries the failing pair at once")
		createNamespace(ctx, missing)
		eventuallyObj(ctx, configMapGVK, missing, "there", hasData("tenant", t))
		g = eventuallyReady(ctx, id)
		Expect(findItem(ctx, g.Name, "ConfigMap", missing, "there").UID).NotTo(BeEmpty())
	})
})
