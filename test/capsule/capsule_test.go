package capsule_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var _ = Describe("Capsule's Tenant controller and tenantgen", func() {
	It("Capsule fills status.namespaces from the namespaces' ownerReferences, and tenantgen renders from it", func(ctx SpecContext) {
		name := uniq("solar")
		sel := uniq("sel")
		t0 := time.Now()
		createTenant(ctx, name, map[string]string{"e2e": sel}, name+"-dev", name+"-prod")
		Eventually(func() []string { return tenantNamespaces(ctx, name) }).Should(ConsistOf(name+"-dev", name+"-prod"))
		tStatus := time.Since(t0)

		Expect(k8s.Create(ctx, obj(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: %[1]s
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {e2e: %[2]s}}
  resources:
  - generators:
    - template: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: tenant-info
          namespace: {{ index $.tenant.status.namespaces 0 }}
        data:
          namespaces: {{ join "," $.tenant.status.namespaces | quote }}
          size: {{ $.tenant.status.size | quote }}
          zone: {{ $.tenant.spec.data.zone }}
`, name, sel)))).To(Succeed())
		t1 := time.Now()
		Eventually(func(g Gomega) {
			cm := get(ctx, configMapGVK, name+"-dev", "tenant-info")
			g.Expect(cm).NotTo(BeNil())
			data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
			g.Expect(data).To(Equal(map[string]string{"namespaces": name + "-dev," + name + "-prod", "size": "2", "zone": "eu-" + name}))
		}).Should(Succeed())
		tRender := time.Since(t1)

		// A third namespace, known to tenantgen only through Capsule's status: both follow.
		t2 := time.Now()
		tnt := tenantObject(ctx, name)
		createOwnedNamespace(ctx, tnt, name+"-qa")
		Eventually(func() []string { return tenantNamespaces(ctx, name) }).Should(ContainElement(name + "-qa"))
		tStatus2 := time.Since(t2)
		Eventually(func() string {
			cm := get(ctx, configMapGVK, name+"-dev", "tenant-info")
			v, _, _ := unstructured.NestedString(cm.Object, "data", "namespaces")
			return v
		}).Should(Equal(name + "-dev," + name + "-prod," + name + "-qa"))
		tFollow := time.Since(t2)
		timeline.add("Capsule filled Tenant %s status.namespaces (2 namespaces, from ownerReferences) in %s; tenantgen rendered its ConfigMap from that status %s after the GlobalTenantResource was created",
			name, tStatus.Round(time.Millisecond), tRender.Round(time.Millisecond))
		timeline.add("a 3rd namespace: Capsule listed it after %s, tenantgen's ConfigMap showed it %s after the namespace was created",
			tStatus2.Round(time.Millisecond), tFollow.Round(time.Millisecond))
	})
})

var _ = Describe("Capsule's and tenantgen's GlobalTenantResources side by side", func() {
	It("both render for the same tenants, neither touches the other's objects, and nothing is rewritten while quiet", func(ctx SpecContext) {
		sel := uniq("side")
		a, b := uniq("wind"), uniq("oil")
		createTenant(ctx, a, map[string]string{"e2e": sel}, a+"-prod")
		createTenant(ctx, b, map[string]string{"e2e": sel}, b+"-prod")
		Eventually(func() []string { return tenantNamespaces(ctx, b) }).Should(ConsistOf(b + "-prod"))

		capsuleName, ourName := uniq("capsule-side"), uniq("tenantgen-side")
		// A short resync so that Capsule resyncs several times in the quiet window.
		Expect(k8s.Create(ctx, obj(fmt.Sprintf(`
apiVersion: capsule.clastix.io/v1beta2
kind: GlobalTenantResource
metadata:
  name: %[1]s
spec:
  resyncPeriod: 2s
  tenantSelector: {matchLabels: {e2e: %[2]s}}
  resources:
  - generators:
    - template: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: from-capsule
        data:
          tenant: {{ $.tenant.metadata.name }}
`, capsuleName, sel)))).To(Succeed())
		Expect(k8s.Create(ctx, obj(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: %[1]s
spec:
  resyncPeriod: 2s
  tenantSelector: {matchLabels: {e2e: %[2]s}}
  resources:
  - generators:
    - template: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: from-tenantgen
        data:
          tenant: {{ $.tenant.metadata.name }}
`, ourName, sel)))).To(Succeed())

		var objs []*unstructured.Unstructured
		Eventually(func(g Gomega) {
			objs = nil
			for _, t := range []string{a, b} {
				for _, n := range []string{"from-capsule", "from-tenantgen"} {
					cm := get(ctx, configMapGVK, t+"-prod", n)
					g.Expect(cm).NotTo(BeNil(), "%s/%s", t+"-prod", n)
					if n == "from-capsule" {
						// Capsule creates the object, then labels it in a second write.
						g.Expect(cm.GetLabels()).To(HaveKey("projectcapsule.dev/created-by"), "%s/%s", t+"-prod", n)
					}
					objs = append(objs, cm)
				}
			}
		}).Should(Succeed())
		for _, cm := range objs {
			l := cm.GetLabels()
			if cm.GetName() == "from-capsule" {
				Expect(l).To(HaveKeyWithValue("projectcapsule.dev/created-by", "replications"))
				Expect(ownerRefTo(cm, capsuleName)).To(BeTrue())
				Expect(l).NotTo(HaveKey("addons.projectcapsule.dev/globaltenantresource"))
			} else {
				Expect(l).To(HaveKeyWithValue("addons.projectcapsule.dev/globaltenantresource", ourName))
				Expect(l).NotTo(HaveKey("projectcapsule.dev/created-by"))
				Expect(cm.GetOwnerReferences()).To(BeEmpty())
			}
			for _, m := range managers(cm) {
				if cm.GetName() == "from-capsule" {
					Expect(m).NotTo(HavePrefix("tenantgen/"), "%s/%s", cm.GetNamespace(), cm.GetName())
				} else {
					Expect(m).To(HavePrefix("tenantgen/"+ourName+"/"), "%s/%s", cm.GetNamespace(), cm.GetName())
				}
			}
			GinkgoWriter.Printf("%s/%s managers %v labels %v\n", cm.GetNamespace(), cm.GetName(), managers(cm), l)
		}

		// Quiet window: both GlobalTenantResources resync every 2 s; no object may change.
		rv := map[string]string{}
		for _, cm := range objs {
			rv[cm.GetNamespace()+"/"+cm.GetName()] = cm.GetResourceVersion()
		}
		n := writes.count()
		reconciles, ourReconciles := capsuleReconciles("globaltenantresource"), tenantgenReconciles("tenantpair")
		const quiet = 10 * time.Second
		Consistently(func(g Gomega) {
			for key, want := range rv {
				ns, nm, _ := strings.Cut(key, "/")
				cm := get(ctx, configMapGVK, ns, nm)
				g.Expect(cm).NotTo(BeNil())
				g.Expect(cm.GetResourceVersion()).To(Equal(want), "%s was rewritten", key)
			}
		}, quiet, 250*time.Millisecond).Should(Succeed())
		ours := 0
		for _, w := range writes.since(n) {
			if strings.Contains(w, "/configmaps") {
				ours++
			}
		}
		Expect(ours).To(BeZero(), "tenantgen wrote ConfigMaps during the quiet window: %v", writes.since(n))
		resynced := capsuleReconciles("globaltenantresource") - reconciles
		Expect(resynced).To(BeNumerically(">=", 2), "Capsule resynced its GlobalTenantResource during the window")
		ourResynced := tenantgenReconciles("tenantpair") - ourReconciles
		Expect(ourResynced).To(BeNumerically(">=", 2), "tenantgen resynced its (GlobalTenantResource, tenant) pairs during the window")
		timeline.add("side by side: Capsule's GTR %s and tenantgen's GTR %s rendered 2 ConfigMaps each for 2 tenants; over a %s quiet window with both resyncing every 2s (Capsule ran %d GlobalTenantResource reconciles, tenantgen %d pair reconciles), 0 of the 4 objects changed resourceVersion and tenantgen sent %d ConfigMap writes",
			capsuleName, ourName, quiet, resynced, ourResynced, ours)

		Expect(k8s.Delete(ctx, obj(fmt.Sprintf("{apiVersion: capsule.clastix.io/v1beta2, kind: GlobalTenantResource, metadata: {name: %s}}", capsuleName)))).To(Succeed())
		Expect(k8s.Delete(ctx, obj(fmt.Sprintf("{apiVersion: addons.projectcapsule.dev/v1alpha1, kind: GlobalTenantResource, metadata: {name: %s}}", ourName)))).To(Succeed())
		Eventually(func() bool {
			return get(ctx, configMapGVK, a+"-prod", "from-capsule") == nil && get(ctx, configMapGVK, a+"-prod", "from-tenantgen") == nil
		}).Should(BeTrue(), "each controller prunes its own objects when its GlobalTenantResource is deleted")
	})
})
