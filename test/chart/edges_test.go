package chart_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// HelmDocsEnv names the helm-docs binary that regenerates the chart README.
const HelmDocsEnv = "HELM_DOCS"

// ciValuesFiles are the chart's ci/*.yaml, found when the spec tree is built (the package
// directory is test/chart); the first spec below fails when there are none.
var ciValuesFiles = func() []string {
	files, _ := filepath.Glob(filepath.Join("..", "..", "charts", "tenantgen", "ci", "*.yaml"))
	var out []string
	for _, f := range files {
		out = append(out, "ci/"+filepath.Base(f))
	}
	return out
}()

var _ = Describe("the chart's ci/*.yaml values files", func() {
	It("exist", func() {
		Expect(ciValuesFiles).To(ContainElements("ci/all-options.yaml", "ci/broad-access.yaml", "ci/every-sample.yaml", "ci/external-crds.yaml"))
	})
	for _, f := range ciValuesFiles {
		It("pass helm lint --strict, render, and are accepted by the apiserver (dry run): "+f, func(ctx SpecContext) {
			out, err := helm.run(append([]string{"lint", "--strict", chartDir}, valuesArgs([]string{f})...)...)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("0 chart(s) failed"))
			for _, api := range []string{"", gtrAPIVersions} { // first install, and with the CRD installed
				var set []string
				if api != "" {
					set = append(set, api)
				}
				objs := template([]string{f}, set...)
				Expect(objs).NotTo(BeEmpty())
				Expect(applyAll(ctx, objs, client.DryRunAll)).To(BeEmpty(), "%s %s", f, api)
			}
		})
	}
})

// gtrNames lists the GlobalTenantResources helm install creates (hooks that run on install
// included, pre-delete hooks not).
func gtrNames(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range ofKind(installed(objs), "GlobalTenantResource") {
		out = append(out, o.GetName())
	}
	return out
}

var _ = Describe("samples.include and generators.include", func() {
	It("install nothing when empty", func() {
		objs := template(defaults, "samples.enabled=true", "--set-json=samples.include=[]", "generators.enabled=true", "--set-json=generators.include=[]")
		Expect(ofKind(objs, "GlobalTenantResource")).To(BeEmpty())
		// --set x={} makes [""]: nothing either.
		objs = template(defaults, "samples.enabled=true", "samples.include={}", "generators.enabled=true", "generators.include={}")
		Expect(ofKind(objs, "GlobalTenantResource")).To(BeEmpty())
	})

	It(`install every file with "*", each GlobalTenantResource once however many samples define it`, func() {
		objs := template([]string{"ci/every-sample.yaml"}, gtrAPIVersions)
		Expect(gtrNames(objs)).To(ConsistOf("managed-envoy-gateway", "tenant-acme-issuer", "cozystack-gateways",
			"tls-passthrough", "namespace-gateway", "tenant-gateway-proxy-protocol", "tenant-gateway-xff", "tenant-merged-gateways"))
		Expect(find(objs, "GlobalTenantResource", "managed-envoy-gateway").GetAnnotations()).To(
			HaveKeyWithValue("addons.projectcapsule.dev/chart-file", "files/samples/capsule-envoy-gateway.yaml"), "the first file that defines it")
	})

	It("install the default samples and generators together, the ones they share once", func(ctx SpecContext) {
		objs := template(defaults, "samples.enabled=true", "generators.enabled=true", gtrAPIVersions)
		Expect(gtrNames(objs)).To(ConsistOf("managed-envoy-gateway", "tenant-acme-issuer"))
		Expect(applyAll(ctx, objs, client.DryRunAll)).To(BeEmpty())
	})
})

var _ = Describe("the CRDs (crds.install, crds.keep)", func() {
	It("are rendered from config/crd unchanged, with the release's labels and helm.sh/resource-policy: keep", func() {
		objs := template(defaults, "crds.labels.example\\.com/team=platform", "crds.annotations.example\\.com/owner=platform")
		crds := ofKind(objs, "CustomResourceDefinition")
		Expect(names(crds)).To(ConsistOf(crdNames))
		for _, c := range crds {
			b, err := os.ReadFile(filepath.Join(root, "config", "crd", "addons.projectcapsule.dev_"+strings.SplitN(c.GetName(), ".", 2)[0]+".yaml"))
			Expect(err).NotTo(HaveOccurred())
			src := map[string]any{}
			Expect(yaml.Unmarshal(b, &src)).To(Succeed())
			Expect(c.Object["spec"]).To(Equal(src["spec"]), c.GetName())
			Expect(hook(c)).To(BeEmpty(), "an ordinary object of the release: helm upgrade updates it")
			Expect(c.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
			Expect(c.GetAnnotations()).To(HaveKeyWithValue("controller-gen.kubebuilder.io/version", Not(BeEmpty())))
			Expect(c.GetAnnotations()).To(HaveKeyWithValue("example.com/owner", "platform"))
			Expect(c.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", release))
			Expect(c.GetLabels()).To(HaveKeyWithValue("example.com/team", "platform"))
		}
	})

	It("are not kept with crds.keep=false, and not rendered with crds.install=false", func() {
		for _, c := range ofKind(template(defaults, "crds.keep=false"), "CustomResourceDefinition") {
			Expect(c.GetAnnotations()).NotTo(HaveKey("helm.sh/resource-policy"))
		}
		Expect(ofKind(template(defaults, "crds.install=false"), "CustomResourceDefinition")).To(BeEmpty())
	})
})

var _ = Describe("the release's GlobalTenantResources on install and uninstall", func() {
	It("are post-install hooks, adoptable by the next upgrade, while the cluster does not know the CRD yet (first install)", func() {
		objs := template(defaults, "samples.enabled=true")
		gtrs := withHook(objs, "post-install")
		Expect(names(gtrs)).To(ConsistOf("GlobalTenantResource/managed-envoy-gateway", "GlobalTenantResource/tenant-acme-issuer"))
		for _, g := range gtrs {
			Expect(g.GetAnnotations()).To(HaveKeyWithValue("helm.sh/hook-delete-policy", "hook-failed"), "never before-hook-creation")
			Expect(g.GetAnnotations()).To(HaveKeyWithValue("meta.helm.sh/release-name", release))
			Expect(g.GetAnnotations()).To(HaveKeyWithValue("meta.helm.sh/release-namespace", releaseNamespace))
			Expect(g.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "Helm"))
		}
	})

	It("are ordinary objects once the CRD is known, each with a pre-delete hook of its name that selects no tenant", func(ctx SpecContext) {
		objs := template(defaults, "samples.enabled=true", gtrAPIVersions)
		Expect(withHook(objs, "post-install")).To(BeEmpty())
		hooks := withHook(objs, "pre-delete")
		Expect(names(hooks)).To(ConsistOf("GlobalTenantResource/managed-envoy-gateway", "GlobalTenantResource/tenant-acme-issuer"))
		for _, h := range hooks {
			Expect(h.GetAnnotations()).To(HaveKeyWithValue("helm.sh/hook-delete-policy", "before-hook-creation,hook-succeeded"))
			sel, _, _ := unstructured.NestedStringMap(h.Object, "spec", "tenantSelector", "matchLabels")
			Expect(sel).To(Equal(map[string]string{"addons.projectcapsule.dev/helm-uninstall-placeholder": "true"}))
			items, _, _ := unstructured.NestedSlice(h.Object, "spec", "resources")
			Expect(items).To(Equal([]any{map[string]any{"rawItems": []any{}}}), "generates nothing")
		}
		Expect(applyAll(ctx, hooks, client.DryRunAll)).To(BeEmpty(), "the placeholders are valid GlobalTenantResources")
	})

	It("are kept, without hooks, with uninstall.deleteGlobalTenantResources=false", func() {
		objs := template(defaults, "samples.enabled=true", "uninstall.deleteGlobalTenantResources=false", gtrAPIVersions)
		Expect(withHook(objs, "pre-delete")).To(BeEmpty())
		gtrs := ofKind(objs, "GlobalTenantResource")
		Expect(gtrs).To(HaveLen(2))
		for _, g := range gtrs {
			Expect(g.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
		}
	})
})

var _ = Describe("the chart README", func() {
	It("is what helm-docs generates from README.md.gotmpl and values.yaml (make chart-docs)", func() {
		bin := os.Getenv(HelmDocsEnv)
		if bin == "" {
			Fail(HelmDocsEnv + " is not set: run `make chart-test` (or `make test`), or " +
				"`export HELM_DOCS=\"$(test/scripts/install-helm-docs.sh | tail -n1)\"`, to build helm-docs from the Go module proxy")
		}
		cmd := exec.Command(bin, "--dry-run", "--chart-search-root", chartDir, "--template-files", "README.md.gotmpl")
		cmd.Stderr = GinkgoWriter
		want, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(want)).To(ContainSubstring("| uninstall.deleteGlobalTenantResources | bool | `true` |"))
		got, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(got)).To(Equal(string(want)), "charts/tenantgen/README.md is stale: run `make chart-docs`")
	})
})
