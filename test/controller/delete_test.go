package controller_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

var _ = Describe("deleting a GlobalTenantResource", func() {
	It("prunes what it created when pruningOnDelete is true (the default)", func(ctx SpecContext) {
		id := uniq("prune")
		t := uniq("tp")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		createGTR(ctx, settingsGTR(id, ""))
		eventuallyObj(ctx, configMapGVK, t+"-prod", "settings")
		g := eventuallyReady(ctx, id)
		Expect(g.Finalizers).To(ContainElement(v1alpha1.Group + "/finalizer"))

		deleteGTR(ctx, id)
		Expect(getObj(ctx, configMapGVK, t+"-prod", "settings")).To(BeNil(), "deleted before the finalizer was removed")
	})

	It("leaves the objects without our marks when pruningOnDelete is false", func(ctx SpecContext) {
		id := uniq("keep")
		t := uniq("tk")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		createGTR(ctx, settingsGTR(id, "  pruningOnDelete: false"))
		cm := eventuallyObj(ctx, configMapGVK, t+"-prod", "settings")
		Expect(cm.GetLabels()).To(HaveKeyWithValue(v1alpha1.LabelGlobalTenantResource, id))
		eventuallyReady(ctx, id)

		deleteGTR(ctx, id)
		left := getObj(ctx, configMapGVK, t+"-prod", "settings")
		Expect(left).NotTo(BeNil())
		Expect(left.GetUID()).To(Equal(cm.GetUID()))
		Expect(left.GetLabels()).NotTo(HaveKey(v1alpha1.LabelGlobalTenantResource))
		Expect(left.GetLabels()).NotTo(HaveKey(v1alpha1.LabelTenant))
		Expect(left.GetAnnotations()).NotTo(HaveKey(v1alpha1.Group + "/applied-hash"))
		hasData("color", "blue")(Default, left)
	})
})
