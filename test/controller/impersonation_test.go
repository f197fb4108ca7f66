package controller_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/controller"
)

var _ = Describe("spec.serviceAccount", func() {
	It("reads and writes as the ServiceAccount, so missing RBAC is reported as forbidden", func(ctx SpecContext) {
		id := uniq("sa")
		t := uniq("tsa")
		saNS := uniq("sa-home")
		createNamespace(ctx, saNS)
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		create(ctx, "{apiVersion: v1, kind: ConfigMap, metadata: {name: source, namespace: %s-prod}, data: {color: blue}}", t)
		createGTR(ctx, derivedGTR(id, fmt.Sprintf("  serviceAccount: {name: deployer, namespace: %s}", saNS)))
		user := "system:serviceaccount:" + saNS + ":deployer"

		g := eventuallyNotReady(ctx, id, "TenantsFailed", "forbidden", user)
		GinkgoWriter.Printf("Ready message: %s\n", condition(g, v1alpha1.ConditionReady).Message)
		Expect(g.Status.ServiceAccount).To(Equal(user))
		Expect(getObj(ctx, configMapGVK, t+"-prod", "derived")).To(BeNil())

		By("granting the ServiceAccount what it needs (RBAC is not watched: requestedAt asks for the retry)")
		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: id},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"configmaps"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
			}},
		}
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: id},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: id},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "deployer", Namespace: saNS}},
		}
		for _, o := range []client.Object{role, binding} {
			Expect(k8s.Create(ctx, o)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed()) })
		}
		// The authorizer's RBAC cache follows the binding within moments; retry until it does.
		Eventually(func(gm Gomega) {
			patchGTR(ctx, id, map[string]any{"metadata": map[string]any{"annotations": map[string]any{
				controller.AnnotationRequestedAt: time.Now().Format(time.RFC3339Nano),
			}}})
			gm.Eventually(func() bool {
				return getObj(ctx, configMapGVK, t+"-prod", "derived") != nil
			}).WithTimeout(time.Second).Should(BeTrue())
		}).Should(Succeed())
		eventuallyObj(ctx, configMapGVK, t+"-prod", "derived", hasData("color", "blue"))
		g = eventuallyReady(ctx, id)
		Expect(g.Status.ServiceAccount).To(Equal(user))
		it := findItem(ctx, g.Name, "ConfigMap", t+"-prod", "derived")
		Expect(it).NotTo(BeNil())
		Expect(it.Ready).To(BeTrue())

		By("the object was written by the ServiceAccount's field manager, as the ServiceAccount")
		cm := getObj(ctx, configMapGVK, t+"-prod", "derived")
		Expect(cm.GetManagedFields()).NotTo(BeEmpty())
		Expect(cm.GetManagedFields()[0].Manager).To(Equal("tenantgen/" + id + "/" + t))

		By("context is read as the ServiceAccount too: a change converges")
		setColor(ctx, t+"-prod", "source", "red")
		eventuallyObj(ctx, configMapGVK, t+"-prod", "derived", hasData("color", "red"))

		By("the finalizer prunes as the ServiceAccount (while its RBAC still exists)")
		deleteGTR(ctx, id)
		Expect(getObj(ctx, configMapGVK, t+"-prod", "derived")).To(BeNil())
	})
})
