package controller_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// preexisting server-side applies a ConfigMap "settings" as another tool.
func preexisting(ctx SpecContext, namespace string, data map[string]any) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(configMapGVK)
	u.SetNamespace(namespace)
	u.SetName("settings")
	u.Object["data"] = data
	Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("other-tool"))).To(Succeed())
	return getObj(ctx, configMapGVK, namespace, "settings")
}

var _ = Describe("objects that already exist", func() {
	It("reports a conflict with another field manager unless settings.force is set", func(ctx SpecContext) {
		id := uniq("conflict")
		t := uniq("tc")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		before := preexisting(ctx, t+"-prod", map[string]any{"color": "green"})
		createGTR(ctx, settingsGTR(id, "  settings: {adopt: true}"))

		g := eventuallyNotReady(ctx, id, "TenantsFailed", "conflict", "settings.force")
		GinkgoWriter.Printf("Ready message: %s\n", condition(g, v1alpha1.ConditionReady).Message)
		it := findItem(ctx, g.Name, "ConfigMap", t+"-prod", "settings")
		Expect(it).NotTo(BeNil())
		Expect(it.Ready).To(BeFalse())
		Expect(it.Message).To(ContainSubstring("conflict"))
		Consistently(func(gm Gomega) {
			cm := getObj(ctx, configMapGVK, t+"-prod", "settings")
			hasData("color", "green")(gm, cm)
			gm.Expect(cm.GetResourceVersion()).To(Equal(before.GetResourceVersion()), "the object was written")
		}).Should(Succeed())

		By("with settings.force the fields are taken over")
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"settings": map[string]any{"force": true}}})
		eventuallyObj(ctx, configMapGVK, t+"-prod", "settings", hasData("color", "blue"))
		g = eventuallyReady(ctx, id)
		it = findItem(ctx, g.Name, "ConfigMap", t+"-prod", "settings")
		Expect(it.Ownership).To(Equal(v1alpha1.OwnershipAdopted))
		Expect(it.UID).To(Equal(before.GetUID()))
	})

	It("refuses them without settings.adopt, adopts them with it, and never deletes what it adopted", func(ctx SpecContext) {
		id := uniq("adopt")
		t := uniq("ta")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		// No field in common with what the GlobalTenantResource renders.
		before := preexisting(ctx, t+"-prod", map[string]any{"owner": "someone-else"})
		createGTR(ctx, settingsGTR(id, ""))

		g := eventuallyNotReady(ctx, id, "TenantsFailed", "already exists")
		GinkgoWriter.Printf("Ready message: %s\n", condition(g, v1alpha1.ConditionReady).Message)
		Expect(findItem(ctx, g.Name, "ConfigMap", t+"-prod", "settings")).To(BeNil(), "a refused object is not in the inventory")
		Eventually(func(gm Gomega) {
			invs := inventories(ctx, g.Name)
			gm.Expect(invs).To(HaveLen(1), "the failing tenant has its inventory, with its state")
			c := meta.FindStatusCondition(invs[0].Status.Conditions, v1alpha1.ConditionReady)
			gm.Expect(c).NotTo(BeNil())
			gm.Expect(c.Reason).To(Equal(v1alpha1.ReasonApplyFailed))
			gm.Expect(c.Message).To(ContainSubstring("already exists"))
		}).Should(Succeed())
		Consistently(func() string {
			return getObj(ctx, configMapGVK, t+"-prod", "settings").GetResourceVersion()
		}).Should(Equal(before.GetResourceVersion()))

		By("with settings.adopt it is adopted")
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"settings": map[string]any{"adopt": true}}})
		eventuallyObj(ctx, configMapGVK, t+"-prod", "settings", hasData("color", "blue"), hasData("owner", "someone-else"))
		g = eventuallyReady(ctx, id)
		it := findItem(ctx, g.Name, "ConfigMap", t+"-prod", "settings")
		Expect(it.Ownership).To(Equal(v1alpha1.OwnershipAdopted))
		Expect(it.UID).To(Equal(before.GetUID()))

		By("deleting the GlobalTenantResource releases the adopted object instead of deleting it")
		deleteGTR(ctx, id)
		left := getObj(ctx, configMapGVK, t+"-prod", "settings")
		Expect(left).NotTo(BeNil())
		Expect(left.GetUID()).To(Equal(before.GetUID()))
		hasData("owner", "someone-else")(Default, left)
		Expect(left.GetLabels()).NotTo(HaveKey(v1alpha1.LabelGlobalTenantResource))
		Expect(left.Object["data"]).NotTo(HaveKey("color"), "tenantgen's fields are dropped")
	})
})
