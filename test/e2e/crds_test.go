package e2e

import (
	"context"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	tenantgenv1alpha1 "github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

const fieldOwner = client.FieldOwner("tenantgen-e2e")

// obj parses one YAML manifest into an unstructured object.
func obj(manifest string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	return u
}

// apply server-side applies manifest as fieldOwner.
func apply(ctx context.Context, manifest string) error {
	return env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj(manifest)), fieldOwner)
}

// get reads the object named by manifest back from the apiserver.
func get(ctx context.Context, manifest string) *unstructured.Unstructured {
	GinkgoHelper()
	want := obj(manifest)
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(want.GroupVersionKind())
	Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(want), got)).To(Succeed())
	return got
}

func expectInvalid(err error, substr string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got: %v", err)
	Expect(err.Error()).To(ContainSubstring(substr))
}

var _ = Describe("installed CRDs", func() {
	It("installs exactly the expected 41 CRDs: Capsule's 12, the experimental Gateway API routes, ...", func() {
		Expect(env.CRDs).To(HaveLen(41))
		for _, gk := range []schema.GroupKind{
			{Group: "gateway.networking.k8s.io", Kind: "TLSRoute"},
			{Group: "gateway.networking.k8s.io", Kind: "TCPRoute"},
			{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy"},
			{Group: "cert-manager.io", Kind: "Issuer"},
			{Group: "capsule.clastix.io", Kind: "Tenant"},
			{Group: "capsule.clastix.io", Kind: "GlobalTenantResource"},
			{Group: "capsule.clastix.io", Kind: "CapsuleConfiguration"},
			{Group: tenantgenv1alpha1.Group, Kind: "GlobalTenantResource"},
			{Group: tenantgenv1alpha1.Group, Kind: "TenantInventory"},
		} {
			_, err := env.Client.RESTMapper().RESTMapping(gk)
			Expect(err).NotTo(HaveOccurred(), "%s is not served", gk)
		}
	})

	It("writes a working kubeconfig", func(ctx SpecContext) {
		path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(env.WriteKubeconfig(path)).To(Succeed())
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Get(ctx, client.ObjectKey{Name: "default"}, &corev1.Namespace{})).To(Succeed())
	})
})

var _ = Describe("Capsule Tenant", func() {
	const tenant = `
apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata:
  name: solar
spec:
  owners:
  - kind: User
    name: alice
  namespaceOptions:
    quota: 3
    additionalMetadata:
      labels: {team: solar}
  data:
    networking:
      ingress:
        bandwidth: 100M
`

	It("stores spec.data and updates the status subresource", func(ctx SpecContext) {
		Expect(apply(ctx, tenant)).To(Succeed())
		got := get(ctx, tenant)
		bw, _, _ := unstructured.NestedString(got.Object, "spec", "data", "networking", "ingress", "bandwidth")
		Expect(bw).To(Equal("100M"))
		owners, _, _ := unstructured.NestedSlice(got.Object, "spec", "owners")
		Expect(owners).To(HaveLen(1))
		Expect(owners[0]).To(HaveKeyWithValue("clusterRoles", ConsistOf("admin", "capsule-namespace-deleter"))) // CRD default
		cordoned, found, _ := unstructured.NestedBool(got.Object, "spec", "cordoned")
		Expect(found).To(BeTrue())
		Expect(cordoned).To(BeFalse())

		status := obj(`
apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata:
  name: solar
status:
  size: 2
  namespaces: [solar-dev, solar-prod]
  conditions:
  - {type: Ready, status: "True", reason: Succeeded, message: ok, lastTransitionTime: "2026-01-01T00:00:00Z"}
`)
		Expect(env.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(status), fieldOwner)).To(Succeed())
		got = get(ctx, tenant)
		nss, _, _ := unstructured.NestedStringSlice(got.Object, "status", "namespaces")
		Expect(nss).To(Equal([]string{"solar-dev", "solar-prod"}))
		state, _, _ := unstructured.NestedString(got.Object, "status", "state")
		Expect(state).To(Equal("Active")) // CRD default
	})

	It("requires the status fields Capsule's CRD requires (conditions)", func(ctx SpecContext) {
		Expect(apply(ctx, `
apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata:
  name: no-conditions
`)).To(Succeed())
		status := obj(`
apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata:
  name: no-conditions
status:
  size: 1
  namespaces: [a]
`)
		expectInvalid(env.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(status), fieldOwner), "status.conditions")
	})

	It("rejects an unknown owner kind", func(ctx SpecContext) {
		expectInvalid(apply(ctx, `
apiVersion: capsule.clastix.io/v1beta2
kind: Tenant
metadata:
  name: bad-owner
spec:
  owners:
  - kind: Robot
    name: r2d2
`), "spec.owners[0].kind")
	})
})

var _ = Describe("upstream CRDs", func() {
	It("accepts a GatewayClass and a Gateway with an HTTPS listener", func(ctx SpecContext) {
		Expect(apply(ctx, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
`)).To(Succeed())
		Expect(apply(ctx, `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: eg
  namespace: default
spec:
  gatewayClassName: eg
  listeners:
  - name: http
    protocol: HTTP
    port: 80
  - name: https
    protocol: HTTPS
    port: 443
    hostname: "*.solar.example.com"
    tls:
      mode: Terminate
      certificateRefs:
      - kind: Secret
        name: solar-wildcard-tls
`)).To(Succeed())
	})

	It("accepts an Envoy Gateway EnvoyProxy", func(ctx SpecContext) {
		Expect(apply(ctx, `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata:
  name: solar-proxy
  namespace: default
spec:
  provider:
    type: Kubernetes
`)).To(Succeed())
	})

	It("accepts a cert-manager ACME Issuer with a gatewayHTTPRoute solver", func(ctx SpecContext) {
		Expect(apply(ctx, `
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: letsencrypt
  namespace: default
spec:
  acme:
    server: https://acme-staging-v02.api.letsencrypt.org/directory
    email: ops@solar.example.com
    privateKeySecretRef:
      name: letsencrypt-account
    solvers:
    - http01:
        gatewayHTTPRoute:
          parentRefs:
          - name: eg
            namespace: default
            kind: Gateway
`)).To(Succeed())
	})

	It("rejects an HTTPRoute path without a leading '/' (CEL rule of the real CRD)", func(ctx SpecContext) {
		expectInvalid(apply(ctx, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: no-slash
  namespace: default
spec:
  parentRefs:
  - name: eg
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: no-slash
`), "must be an absolute path")
	})

	It("rejects a Gateway with no listeners (minItems of the real CRD)", func(ctx SpecContext) {
		expectInvalid(apply(ctx, `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: empty
  namespace: default
spec:
  gatewayClassName: eg
  listeners: []
`), "spec.listeners")
	})
})

var _ = Describe("GlobalTenantResource CRD", func() {
	const valid = `
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: solar-config
spec:
  scope: Tenant
  resources:
  - rawItems:
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: tenant-info
      data:
        tenant: "{{tenant.name}}"
`

	It("serves the CRD, applies defaults and decodes into the Go type", func(ctx SpecContext) {
		Expect(apply(ctx, valid)).To(Succeed())
		gtr := &tenantgenv1alpha1.GlobalTenantResource{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "solar-config"}, gtr)).To(Succeed())
		Expect(gtr.Spec.Scope).To(Equal(tenantgenv1alpha1.ScopeTenant))
		Expect(gtr.Spec.PruneOnDelete()).To(BeTrue())
		Expect(gtr.Spec.ResyncPeriod.Duration.String()).To(Equal("1m0s"))
		Expect(gtr.Spec.Resources).To(HaveLen(1))
		Expect(gtr.Spec.Resources[0].RawItems).To(HaveLen(1))
		Expect(string(gtr.Spec.Resources[0].RawItems[0].Raw)).To(ContainSubstring(`"{{tenant.name}}"`))
	})

	It("rejects namespaceSelector with scope Tenant (CEL rule)", func(ctx SpecContext) {
		expectInvalid(apply(ctx, `
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: bad-scope
spec:
  scope: Tenant
  resources:
  - namespaceSelector:
      matchLabels: {env: prod}
    rawItems:
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: x
`), "namespaceSelector is only allowed with scope Namespace")
	})
})
