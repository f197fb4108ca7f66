package controller_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// settingsGTR renders, in Tenant scope, a ConfigMap "settings" with data
// color: blue into the tenant's namespace <tenant>-prod.
func settingsGTR(id string, extra string) *v1alpha1.GlobalTenantResource {
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
    - rawItems:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: settings, namespace: "{{tenant.name}}-prod"}
          data: {color: blue, tenant: "{{tenant.name}}"}
`, id, specLabel, id, extra))
}

var _ = Describe("drift", func() {
	It("undoes edits by other field managers and recreates deleted objects", func(ctx SpecContext) {
		id := uniq("drift")
		t := uniq("td")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		createGTR(ctx, settingsGTR(id, ""))
		cm := eventuallyObj(ctx, configMapGVK, t+"-prod", "settings", hasData("color", "blue"))
		uid := cm.GetUID()
		eventuallyReady(ctx, id)

		By("an edit as another field manager (kubectl edit) is undone")
		mergePatch(ctx, cm, map[string]any{"data": map[string]any{"color": "red"}}, "kubectl-edit")
		eventuallyObj(ctx, configMapGVK, t+"-prod", "settings", hasData("color", "blue"))

		By("removing our ownership label is undone")
		mergePatch(ctx, cm, map[string]any{"metadata": map[string]any{"labels": map[string]any{v1alpha1.LabelGlobalTenantResource: nil}}}, "kubectl-edit")
		eventuallyObj(ctx, configMapGVK, t+"-prod", "settings", func(g Gomega, u *unstructured.Unstructured) {
			g.Expect(u.GetLabels()).To(HaveKeyWithValue(v1alpha1.LabelGlobalTenantResource, id))
		})
		Expect(getObj(ctx, configMapGVK, t+"-prod", "settings").GetUID()).To(Equal(uid))

		By("a deleted object is recreated and the inventory follows its new UID")
		Expect(k8s.Delete(ctx, cm)).To(Succeed())
		var recreated *unstructured.Unstructured
		Eventually(func(g Gomega) {
			recreated = getObj(ctx, configMapGVK, t+"-prod", "settings")
			g.Expect(recreated).NotTo(BeNil())
			g.Expect(recreated.GetUID()).NotTo(Equal(uid))
		}).Should(Succeed())
		hasData("color", "blue")(Default, recreated)
		Eventually(func(g Gomega) {
			it := findItem(ctx, id, "ConfigMap", t+"-prod", "settings")
			g.Expect(it).NotTo(BeNil())
			g.Expect(it.UID).To(Equal(recreated.GetUID()))
			g.Expect(it.Ownership).To(Equal(v1alpha1.OwnershipCreated))
		}).Should(Succeed())
		eventuallyReady(ctx, id)
	})
})
