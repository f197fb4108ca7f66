package controller_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

var _ = Describe("scope None", func() {
	It("renders once for the cluster from $.tenants, follows tenants, and keeps its object when the render fails", func(ctx SpecContext) {
		id := uniq("none")
		platform := uniq("platform")
		createNamespace(ctx, platform)
		a, b, c := uniq("na"), uniq("nb"), uniq("nc")
		for _, t := range []string{a, b} {
			createTenant(ctx, tenantFixture{name: t, labels: map[string]string{specLabel: id}, namespaces: []string{t + "-prod"}})
		}
		createGTR(ctx, gtrFrom(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %s}
spec:
  scope: None
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%s: %s}}
  resources:
    - generators:
        - template: |
            {{- $names := list }}
            {{- range $.tenants }}
              {{- if dig "spec" "data" "broken" false . }}{{ fail (printf "tenant %%s is broken" .metadata.name) }}{{ end }}
              {{- $names = append $names .metadata.name }}
            {{- end }}
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: tenants, namespace: %s}
            data:
              count: {{ len $names | quote }}
              names: {{ join "," $names | quote }}
`, id, specLabel, id, platform)))

		eventuallyObj(ctx, configMapGVK, platform, "tenants", hasData("names", a+","+b), hasData("count", "2"))
		g := eventuallyReady(ctx, id)
		Expect(g.Status.TenantCount).To(Equal(2), "both tenants selected")
		item := findItem(ctx, g.Name, "ConfigMap", platform, "tenants")
		Expect(item).NotTo(BeNil())
		Expect(item.Tenant).To(BeEmpty(), "scope None renders for no tenant")
		cm := getObj(ctx, configMapGVK, platform, "tenants")
		Expect(cm.GetLabels()).To(HaveKeyWithValue(v1alpha1.LabelGlobalTenantResource, id))
		Expect(cm.GetLabels()).NotTo(HaveKey(v1alpha1.LabelTenant))

		By("a new tenant re-renders the cluster object")
		createTenant(ctx, tenantFixture{name: c, labels: map[string]string{specLabel: id}, namespaces: []string{c + "-prod"}})
		eventuallyObj(ctx, configMapGVK, platform, "tenants", hasData("names", a+","+b+","+c), hasData("count", "3"))

		By("a render that fails is reported for the cluster and prunes nothing")
		patchTenant(ctx, c, map[string]any{"spec": map[string]any{"data": map[string]any{"broken": true}}})
		eventuallyNotReady(ctx, id, "TenantsFailed", "(cluster)", "tenant "+c+" is broken")
		Consistently(func(gm Gomega) {
			u := getObj(ctx, configMapGVK, platform, "tenants")
			gm.Expect(u).NotTo(BeNil())
			v, _, _ := unstructured.NestedString(u.Object, "data", "count")
			gm.Expect(v).To(Equal("3"))
		}).WithTimeout(time.Second).Should(Succeed())
		deleteGTR(ctx, id)
	})
})

var _ = Describe("a scope change", func() {
	It("prunes what the old scope rendered and applies what the new one renders", func(ctx SpecContext) {
		id := uniq("rescope")
		platform := uniq("platform")
		createNamespace(ctx, platform)
		a := uniq("ra")
		createTenant(ctx, tenantFixture{name: a, labels: map[string]string{specLabel: id}, namespaces: []string{a + "-prod"}})
		createGTR(ctx, settingsGTR(id, ""))
		eventuallyObj(ctx, configMapGVK, a+"-prod", "settings", hasData("color", "blue"))
		eventuallyReady(ctx, id)

		patchGTR(ctx, id, map[string]any{"spec": map[string]any{
			"scope": "None",
			"resources": []any{map[string]any{"rawItems": []any{map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "cluster-settings", "namespace": platform},
				"data":     map[string]any{"color": "green"},
			}}}},
		}})
		eventuallyObj(ctx, configMapGVK, platform, "cluster-settings", hasData("color", "green"))
		eventuallyGone(ctx, configMapGVK, a+"-prod", "settings")
		Eventually(func(gm Gomega) {
			g := getGTR(ctx, id)
			gm.Expect(items(ctx, g.Name)).To(HaveLen(1))
			gm.Expect(items(ctx, g.Name)[0].Tenant).To(BeEmpty())
		}).Should(Succeed())
		deleteGTR(ctx, id)
	})
})
