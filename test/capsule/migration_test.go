package capsule_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	capsulev1beta2 "github.com/projectcapsule/capsule/api/v1beta2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/apply"
	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/pkg/convert"
)

var _ = Describe("migrating a Capsule GlobalTenantResource to tenantgen", func() {
	It("Capsule creates the objects, lets go with pruningOnDelete: false, tenantgen takes them over in place and later prunes them", func(ctx SpecContext) {
		sel := uniq("mig")
		sun, moon := uniq("sun"), uniq("moon")
		createTenant(ctx, sun, map[string]string{"e2e": sel}, sun+"-prod", sun+"-dev")
		createTenant(ctx, moon, map[string]string{"e2e": sel}, moon+"-prod")
		Eventually(func() []string { return tenantNamespaces(ctx, sun) }).Should(HaveLen(2))
		Eventually(func() []string { return tenantNamespaces(ctx, moon) }).Should(HaveLen(1))

		name := uniq("tenant-info")
		// A Capsule manifest as users write them: scope and missingKey omitted (Capsule's
		// defaults Namespace and zero), and a key that the tenants' data does not have.
		manifest := fmt.Sprintf(`
apiVersion: capsule.clastix.io/v1beta2
kind: GlobalTenantResource
metadata:
  name: %[1]s
spec:
  tenantSelector: {matchLabels: {e2e: %[2]s}}
  resources:
  - rawItems:
    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: "owner-{{tenant.name}}"}
      data: {namespace: "{{namespace}}"}
    generators:
    - template: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: info
        data:
          tenant: {{ $.tenant.metadata.name }}
          zone: {{ $.tenant.spec.data.zone }}
          note: "{{ $.tenant.spec.data.note }}"
`, name, sel)
		t0 := time.Now()
		Expect(k8s.Create(ctx, obj(manifest))).To(Succeed())

		type ref struct{ ns, name string }
		var objs []ref
		for _, ns := range []string{sun + "-prod", sun + "-dev", moon + "-prod"} {
			tnt := sun
			if ns == moon+"-prod" {
				tnt = moon
			}
			objs = append(objs, ref{ns, "info"}, ref{ns, "owner-" + tnt})
		}
		uids := map[ref]types.UID{}
		Eventually(func(g Gomega) {
			for _, r := range objs {
				cm := get(ctx, configMapGVK, r.ns, r.name)
				g.Expect(cm).NotTo(BeNil(), "%v", r)
				g.Expect(cm.GetLabels()).To(HaveKeyWithValue("projectcapsule.dev/created-by", "replications"))
				g.Expect(ownerRefTo(cm, name)).To(BeTrue())
				uids[r] = cm.GetUID()
			}
		}).Should(Succeed())
		tCapsule := time.Since(t0)
		info := get(ctx, configMapGVK, sun+"-prod", "info")
		note, _, _ := unstructured.NestedString(info.Object, "data", "note")
		Expect(note).To(Equal("<no value>"), "Capsule's missingKey zero prints Go's <no value>")
		capsuleManagers := managers(info)
		Expect(capsuleManagers).To(ContainElement(HavePrefix(apply.CapsuleFieldOwnerID(name)+"/")),
			"Capsule's field manager is named after the GlobalTenantResource")

		// Capsule lets go: pruningOnDelete false, then delete; its finalizer disowns the
		// objects it lists in status.processedItems (it carries the finalizer only then).
		capsuleGTR := obj(fmt.Sprintf("{apiVersion: capsule.clastix.io/v1beta2, kind: GlobalTenantResource, metadata: {name: %s}}", name))
		waitCapsuleRecorded(ctx, name, len(objs))
		mergePatch(ctx, capsuleGTR, map[string]any{"spec": map[string]any{"pruningOnDelete": false}})
		t1 := time.Now()
		Expect(k8s.Delete(ctx, capsuleGTR)).To(Succeed())
		Eventually(func() bool {
			return get(ctx, capsuleGTR.GroupVersionKind(), "", name) == nil
		}).Should(BeTrue(), "Capsule's GlobalTenantResource is finalized")
		tDelete := time.Since(t1)
		for _, r := range objs {
			cm := get(ctx, configMapGVK, r.ns, r.name)
			Expect(cm).NotTo(BeNil(), "pruningOnDelete: false leaves %v", r)
			Expect(cm.GetUID()).To(Equal(uids[r]))
			Expect(ownerRefTo(cm, name)).To(BeFalse(), "Capsule removed its ownerReference from %v", r)
			Expect(cm.GetLabels()).To(HaveKeyWithValue("projectcapsule.dev/created-by", "replications"), "Capsule keeps its created-by mark on %v", r)
		}

		// The converted GlobalTenantResource takes the objects over.
		res, err := convert.Convert(obj(manifest))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Defaults).NotTo(BeEmpty())
		t2 := time.Now()
		Expect(k8s.Create(ctx, res.Object)).To(Succeed())
		Eventually(func(g Gomega) {
			for _, r := range objs {
				cm := get(ctx, configMapGVK, r.ns, r.name)
				g.Expect(cm).NotTo(BeNil(), "%v", r)
				g.Expect(cm.GetLabels()).To(HaveKeyWithValue("addons.projectcapsule.dev/globaltenantresource", name), "%v", r)
				g.Expect(cm.GetLabels()).NotTo(HaveKey("projectcapsule.dev/created-by"), "%v", r)
				g.Expect(cm.GetLabels()).NotTo(HaveKey("projectcapsule.dev/managed-by"), "%v", r)
				g.Expect(cm.GetOwnerReferences()).To(BeEmpty(), "%v", r)
				for _, m := range managers(cm) {
					g.Expect(m).To(HavePrefix("tenantgen/"+name+"/"), "%v is managed by tenantgen alone", r)
				}
			}
		}).Should(Succeed())
		tTakeOver := time.Since(t2)
		same := 0
		for _, r := range objs {
			cm := get(ctx, configMapGVK, r.ns, r.name)
			Expect(cm.GetUID()).To(Equal(uids[r]), "%v was recreated", r)
			same++
		}
		info = get(ctx, configMapGVK, sun+"-prod", "info")
		data, _, _ := unstructured.NestedStringMap(info.Object, "data")
		Expect(data).To(Equal(map[string]string{"tenant": sun, "zone": "eu-" + sun, "note": ""}),
			"tenantgen's missingKey zero renders a missing key empty")
		owner := get(ctx, configMapGVK, sun+"-dev", "owner-"+sun)
		Expect(owner.Object["data"]).To(Equal(map[string]any{"namespace": sun + "-dev"}))

		// A tenant leaves the selector: tenantgen prunes its objects, which it now counts as created.
		mergePatch(ctx, tenantObject(ctx, moon), map[string]any{"metadata": map[string]any{"labels": map[string]any{"e2e": "elsewhere"}}})
		t3 := time.Now()
		Eventually(func() bool {
			return get(ctx, configMapGVK, moon+"-prod", "info") == nil && get(ctx, configMapGVK, moon+"-prod", "owner-"+moon) == nil
		}).Should(BeTrue())
		tPrune := time.Since(t3)
		for _, r := range objs[:4] {
			Expect(get(ctx, configMapGVK, r.ns, r.name).GetUID()).To(Equal(uids[r]), "%v of the remaining tenant is untouched", r)
		}

		// Deleting the GlobalTenantResource (pruningOnDelete defaults to true) prunes the rest.
		Expect(k8s.Delete(ctx, res.Object)).To(Succeed())
		Eventually(func() int {
			n := 0
			for _, r := range objs[:4] {
				if get(ctx, configMapGVK, r.ns, r.name) != nil {
					n++
				}
			}
			return n
		}).Should(BeZero())

		timeline.add("migration: Capsule's GTR %s created %d ConfigMaps for 2 tenants / 3 namespaces in %s (field manager %v; data.note %q from missingKey zero)",
			name, len(objs), tCapsule.Round(time.Millisecond), capsuleManagers, "<no value>")
		timeline.add("migration: Capsule's GTR deleted with pruningOnDelete: false, finalized in %s: %d objects kept, ownerReference removed, created-by label kept",
			tDelete.Round(time.Millisecond), len(objs))
		timeline.add("migration: the converted tenantgen GTR (%d defaults made explicit) took all %d over in %s: %d/%d UIDs unchanged, Capsule's labels, ownerReferences and field managers gone, data.note rewritten to \"\"",
			len(res.Defaults), len(objs), tTakeOver.Round(time.Millisecond), same, len(objs))
		timeline.add("migration: tenant %s left the selector: tenantgen pruned its 2 taken-over objects in %s; deleting the tenantgen GTR pruned the other 4",
			moon, tPrune.Round(time.Millisecond))
	})
})

var _ = Describe("a converted GlobalTenantResource applied while Capsule's still runs", func() {
	It("leaves Capsule's objects alone until Capsule lets go, then takes them over", func(ctx SpecContext) {
		sel := uniq("early")
		tnt := uniq("rain")
		createTenant(ctx, tnt, map[string]string{"e2e": sel}, tnt+"-prod")
		Eventually(func() []string { return tenantNamespaces(ctx, tnt) }).Should(HaveLen(1))
		name := uniq("early-cm")
		manifest := fmt.Sprintf(`
apiVersion: capsule.clastix.io/v1beta2
kind: GlobalTenantResource
metadata:
  name: %[1]s
spec:
  tenantSelector: {matchLabels: {e2e: %[2]s}}
  resources:
  - rawItems:
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: early}, data: {tenant: "{{tenant.name}}"}}
`, name, sel)
		Expect(k8s.Create(ctx, obj(manifest))).To(Succeed())
		var uid types.UID
		Eventually(func(g Gomega) {
			cm := get(ctx, configMapGVK, tnt+"-prod", "early")
			g.Expect(cm).NotTo(BeNil())
			g.Expect(ownerRefTo(cm, name)).To(BeTrue())
			uid = cm.GetUID()
		}).Should(Succeed())

		res, err := convert.Convert(obj(manifest))
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, res.Object)).To(Succeed())
		ours := &v1alpha1.GlobalTenantResource{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, ours)).To(Succeed())
			c := meta.FindStatusCondition(ours.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(ours.Status.ObservedGeneration).To(Equal(ours.Generation))
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "Ready while Capsule still owns the object: %s", c.Message)
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			cm := get(ctx, configMapGVK, tnt+"-prod", "early")
			g.Expect(cm.GetUID()).To(Equal(uid))
			g.Expect(ownerRefTo(cm, name)).To(BeTrue())
			g.Expect(cm.GetLabels()).NotTo(HaveKey("addons.projectcapsule.dev/globaltenantresource"))
		}, 3*time.Second, 200*time.Millisecond).Should(Succeed(), "tenantgen does not touch an object Capsule still owns")

		capsuleGTR := obj(fmt.Sprintf("{apiVersion: capsule.clastix.io/v1beta2, kind: GlobalTenantResource, metadata: {name: %s}}", name))
		waitCapsuleRecorded(ctx, name, 1)
		mergePatch(ctx, capsuleGTR, map[string]any{"spec": map[string]any{"pruningOnDelete": false}})
		Expect(k8s.Delete(ctx, capsuleGTR)).To(Succeed())
		Eventually(func() bool { return get(ctx, capsuleGTR.GroupVersionKind(), "", name) == nil }).Should(BeTrue())
		t0 := time.Now()
		mergePatch(ctx, ours, map[string]any{"metadata": map[string]any{"annotations": map[string]any{
			controller.AnnotationRequestedAt: time.Now().UTC().Format(time.RFC3339Nano)}}})
		Eventually(func(g Gomega) {
			cm := get(ctx, configMapGVK, tnt+"-prod", "early")
			g.Expect(cm.GetUID()).To(Equal(uid))
			g.Expect(cm.GetLabels()).To(HaveKeyWithValue("addons.projectcapsule.dev/globaltenantresource", name))
			g.Expect(cm.GetLabels()).NotTo(HaveKey("projectcapsule.dev/created-by"))
		}).Should(Succeed())
		timeline.add("applied too early: tenantgen's GTR %s stayed Ready=False and left Capsule's object alone (UID and ownerReference unchanged for 3s); after Capsule let go, a requestedAt annotation made it take the object over in %s, UID unchanged",
			name, time.Since(t0).Round(time.Millisecond))
		Expect(k8s.Delete(ctx, ours)).To(Succeed())
		Eventually(func() bool { return get(ctx, configMapGVK, tnt+"-prod", "early") == nil }).Should(BeTrue())
	})
})

// waitCapsuleRecorded waits until Capsule's GlobalTenantResource lists n objects in
// status.processedItems and carries its finalizer: deleted earlier, it goes without
// disowning anything.
func waitCapsuleRecorded(ctx context.Context, name string, n int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		gtr := &capsulev1beta2.GlobalTenantResource{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, gtr)).To(Succeed())
		g.Expect(gtr.Status.ProcessedItems).To(HaveLen(n))
		g.Expect(gtr.Finalizers).To(ContainElement("controller.projectcapsule.dev/finalize"))
	}).Should(Succeed())
}
