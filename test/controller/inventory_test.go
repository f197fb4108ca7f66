package controller_test

import (
	"encoding/json"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
)

// brakeGTR renders, in Tenant scope, `per` ConfigMaps into each tenant's
// namespace <tenant>-prod, for the tenants labelled specLabel=id.
func brakeGTR(id string, per int, limits string) *v1alpha1.GlobalTenantResource {
	items := ""
	for i := range per {
		items += fmt.Sprintf(`
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm%d, namespace: "{{tenant.name}}-prod"}, data: {n: "%d"}}`, i, i)
	}
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
    - rawItems:%s
`, id, specLabel, id, limits, items))
}

// brakeTenants creates n tenants labelled for the spec, each with <t>-prod.
func brakeTenants(ctx SpecContext, id string, n int) []string {
	var out []string
	for range n {
		t := uniq("bt")
		createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		out = append(out, t)
	}
	return out
}

// uids returns the uids of the ConfigMaps cm0..cm<per-1> of every tenant, failing if one is missing.
func uids(ctx SpecContext, tenants []string, per int) map[string]types.UID {
	GinkgoHelper()
	out := map[string]types.UID{}
	for _, t := range tenants {
		for i := range per {
			cm := getObj(ctx, configMapGVK, t+"-prod", fmt.Sprintf("cm%d", i))
			Expect(cm).NotTo(BeNil(), "%s-prod/cm%d", t, i)
			out[t+"/"+cm.GetName()] = cm.GetUID()
		}
	}
	return out
}

var _ = Describe("the inventory: one TenantInventory per tenant", func() {
	It("lists each tenant's objects with uids, shows per-tenant state and keeps the GlobalTenantResource's status small", func(ctx SpecContext) {
		id := uniq("inv")
		tenants := brakeTenants(ctx, id, 3)
		createGTR(ctx, brakeGTR(id, 2, ""))
		g := eventuallyReady(ctx, id)
		Expect(g.Status.TenantCount).To(Equal(3))
		Expect(g.Status.ReadyTenants).To(Equal(3))
		Expect(g.Status.Size).To(Equal(6))
		Expect(g.Status.InventorySelector).To(Equal(v1alpha1.LabelGlobalTenantResource + "=" + id))
		// Where a restarted controller looks for objects a crash left unrecorded.
		Expect(g.Status.GeneratedKinds).To(Equal([]string{"ConfigMap"}))
		live := uids(ctx, tenants, 2)
		invs := inventories(ctx, id)
		Expect(invs).To(HaveLen(3))
		for _, inv := range invs {
			Expect(inv.Name).To(Equal(id + "." + inv.Spec.Tenant))
			Expect(inv.OwnerReferences).To(HaveLen(1))
			Expect(inv.OwnerReferences[0].UID).To(Equal(g.UID))
			Expect(inv.Finalizers).To(ContainElement(inventory.Finalizer))
			Expect(meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
			Expect(inv.Status.Size).To(Equal(2))
			for _, e := range inv.Status.Entries {
				ref, err := inventory.Parse(e)
				Expect(err).NotTo(HaveOccurred())
				Expect(e.UID).To(Equal(live[inv.Spec.Tenant+"/"+ref.Name]), e.ID)
			}
			b, err := json.Marshal(inv.Status.Entries)
			Expect(err).NotTo(HaveOccurred())
			Expect(len(b)/len(inv.Status.Entries)).To(BeNumerically("<", 150), "compact entries: %s", b)
		}

		By("a spec change that changes no object: Ready again for the new generation, no inventory rewritten")
		versions := map[string]string{}
		for _, inv := range invs {
			versions[inv.Name] = inv.ResourceVersion
		}
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"resyncPeriod": "2h"}})
		Eventually(func(gm Gomega) {
			g := getGTR(ctx, id)
			gm.Expect(g.Status.ObservedGeneration).To(Equal(g.Generation))
			gm.Expect(g.Generation).To(BeNumerically(">", 1))
			c := condition(g, v1alpha1.ConditionReady)
			gm.Expect(c).NotTo(BeNil())
			gm.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
			gm.Expect(g.Status.ReadyTenants).To(Equal(3))
		}).Should(Succeed())
		for _, inv := range inventories(ctx, id) {
			Expect(inv.ResourceVersion).To(Equal(versions[inv.Name]), "%s was rewritten", inv.Name)
		}

		By("a failing tenant shows in its inventory and, bounded, in the GlobalTenantResource")
		bad := tenants[1]
		// Someone labels the inventory: the controller's next write of it
		// starts from a stale resourceVersion, and must neither fail nor drop the label.
		Expect(k8s.Patch(ctx, &v1alpha1.TenantInventory{ObjectMeta: metav1.ObjectMeta{Name: id + "." + bad}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"platform"}}}`)))).To(Succeed())
		Expect(k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bad + "-prod"}})).To(Succeed())
		// envtest has no namespace controller: the namespace stays Terminating,
		// and the ConfigMap deleted from it cannot be created again.
		Expect(k8s.Delete(ctx, getObj(ctx, configMapGVK, bad+"-prod", "cm0"))).To(Succeed())
		g = eventuallyNotReady(ctx, id, v1alpha1.ReasonTenantsFailed, bad)
		Expect(g.Status.FailedTenants).To(Equal(1))
		Expect(g.Status.Failing).To(HaveLen(1))
		Expect(g.Status.Failing[0].Tenant).To(Equal(bad))
		Expect(g.Status.Failing[0].Reason).To(Equal(v1alpha1.ReasonApplyFailed))
		Eventually(func(gm Gomega) {
			inv := &v1alpha1.TenantInventory{}
			gm.Expect(k8s.Get(ctx, types.NamespacedName{Name: id + "." + bad}, inv)).To(Succeed())
			c := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReady)
			gm.Expect(c).NotTo(BeNil())
			gm.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			gm.Expect(c.Reason).To(Equal(v1alpha1.ReasonApplyFailed))
			gm.Expect(inv.Status.Entries).To(HaveLen(2), "a failed apply keeps the entries")
			gm.Expect(inv.Labels).To(HaveKeyWithValue("team", "platform"))
		}).Should(Succeed())
	})
})

var _ = Describe("the deletion brake", func() {
	It("holds a selector change that would delete more than maxDeletions until approved", func(ctx SpecContext) {
		id := uniq("brake")
		tenants := brakeTenants(ctx, id, 6)
		createGTR(ctx, brakeGTR(id, 2, "")) // 12 objects: the default limit is the floor of 10
		eventuallyReady(ctx, id)
		before := uids(ctx, tenants, 2)

		By("the selector now matches nothing: 12 deletions are held, none happens")
		patchGTR(ctx, id, map[string]any{"spec": map[string]any{"tenantSelector": map[string]any{"matchLabels": map[string]any{specLabel: "nobody"}}}})
		g := eventuallyNotReady(ctx, id, v1alpha1.ReasonDeletionsBlocked, "12 deletions are held", "(10)",
			fmt.Sprintf("kubectl annotate tgr %s %s=true", id, v1alpha1.AnnotationApproveDeletions))
		Expect(g.Status.PendingDeletions).To(Equal(12))
		eventuallyEvent(ctx, id, corev1.EventTypeWarning, v1alpha1.ReasonDeletionsBlocked, "12 deletions")
		Consistently(func() map[string]types.UID { return uids(ctx, tenants, 2) }, 2*time.Second).Should(Equal(before))
		Expect(items(ctx, id)).To(HaveLen(12), "the inventories still list what is held")
		Expect(metricValue("tenantgen_deletions_blocked", id)).To(Equal(12.0))

		By("approving releases them; the annotation is removed")
		patchGTR(ctx, id, map[string]any{"metadata": map[string]any{"annotations": map[string]any{v1alpha1.AnnotationApproveDeletions: "true"}}})
		for _, t := range tenants {
			eventuallyGone(ctx, configMapGVK, t+"-prod", "cm0")
			eventuallyGone(ctx, configMapGVK, t+"-prod", "cm1")
		}
		g = eventuallyReady(ctx, id)
		Expect(g.Annotations).NotTo(HaveKey(v1alpha1.AnnotationApproveDeletions))
		Expect(g.Status.PendingDeletions).To(BeZero())
		Eventually(func() []v1alpha1.TenantInventory { return inventories(ctx, id) }).Should(BeEmpty())
		eventuallyEvent(ctx, id, corev1.EventTypeNormal, "DeletionsApproved", "approved")
	})

	It("holds a template change that stops rendering objects in every tenant", func(ctx SpecContext) {
		id := uniq("brake")
		tenants := brakeTenants(ctx, id, 6)
		createGTR(ctx, brakeGTR(id, 3, "")) // 18 objects, limit 10
		eventuallyReady(ctx, id)
		before := uids(ctx, tenants, 3)

		By("dropping cm1 and cm2 from the template: 12 deletions over six tenants")
		g := getGTR(ctx, id)
		g.Spec.Resources = brakeGTR(id, 1, "").Spec.Resources
		Expect(k8s.Update(ctx, g)).To(Succeed())
		eventuallyNotReady(ctx, id, v1alpha1.ReasonDeletionsBlocked, "12 deletions are held")
		Consistently(func() map[string]types.UID { return uids(ctx, tenants, 3) }, 2*time.Second).Should(Equal(before))

		By("reverting the template withdraws the deletions")
		g = getGTR(ctx, id)
		g.Spec.Resources = brakeGTR(id, 3, "").Spec.Resources
		Expect(k8s.Update(ctx, g)).To(Succeed())
		g = eventuallyReady(ctx, id)
		Expect(g.Status.PendingDeletions).To(BeZero())
		Expect(uids(ctx, tenants, 3)).To(Equal(before), "nothing deleted or recreated")
	})

	It("never holds offboarding tenants one at a time, and follows an explicit maxDeletions", func(ctx SpecContext) {
		id := uniq("brake")
		tenants := brakeTenants(ctx, id, 5)
		createGTR(ctx, brakeGTR(id, 3, "limits: {maxDeletions: 3}"))
		eventuallyReady(ctx, id)
		for _, t := range tenants[:3] {
			patchTenant(ctx, t, map[string]any{"metadata": map[string]any{"labels": map[string]any{specLabel: nil}}})
			for i := range 3 {
				eventuallyGone(ctx, configMapGVK, t+"-prod", fmt.Sprintf("cm%d", i))
			}
		}
		eventuallyReady(ctx, id)

		By("two tenants at once are 6 deletions, more than 3")
		for _, t := range tenants[3:] {
			patchTenant(ctx, t, map[string]any{"metadata": map[string]any{"labels": map[string]any{specLabel: nil}}})
		}
		eventuallyNotReady(ctx, id, v1alpha1.ReasonDeletionsBlocked, "6 deletions are held", "(3)")
		Expect(uids(ctx, tenants[3:], 3)).To(HaveLen(6))
	})
})
