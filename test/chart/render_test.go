package chart_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

var (
	defaults    []string // no values file
	allOptions  = []string{"ci/all-options.yaml"}
	broadAccess = []string{"ci/broad-access.yaml"}
)

// The CRDs the chart renders (crds.install).
var crdNames = []string{
	"CustomResourceDefinition/globaltenantresources.addons.projectcapsule.dev",
	"CustomResourceDefinition/tenantinventories.addons.projectcapsule.dev",
}

var selectorLabels = map[string]string{"app.kubernetes.io/name": "tenantgen", "app.kubernetes.io/instance": release}

var _ = Describe("the chart's copies", func() {
	isYAML := func(n string) bool { return strings.HasSuffix(n, ".yaml") }
	isGTRFile := func(n string) bool { return isYAML(n) && !strings.HasSuffix(n, ".test.yaml") }

	It("files/crds holds exactly the generated CRDs of config/crd, and crds/ is gone (make manifests)", func() {
		want := readDirFiles(filepath.Join(root, "config", "crd"), isYAML)
		Expect(want).NotTo(BeEmpty())
		Expect(readDirFiles(filepath.Join(chartDir, "files", "crds"), isYAML)).To(Equal(want),
			"charts/tenantgen/files/crds differs from config/crd: run `make manifests`")
		_, err := os.Stat(filepath.Join(chartDir, "crds"))
		Expect(os.IsNotExist(err)).To(BeTrue(), "charts/tenantgen/crds: Helm would install those CRDs itself, never upgrade them, and conflict with templates/crds.yaml")
	})

	It("files/samples holds exactly the GlobalTenantResources of samples/ (make manifests)", func() {
		want := readDirFiles(filepath.Join(root, "samples"), isGTRFile)
		Expect(want).To(HaveKey("capsule-envoy-gateway.yaml"))
		Expect(readDirFiles(filepath.Join(chartDir, "files", "samples"), isYAML)).To(Equal(want),
			"charts/tenantgen/files/samples differs from samples/: run `make manifests`")
	})

	It("files/generators holds the catalog's generators/<name>/globaltenantresource[-<variant>].yaml (make manifests)", func() {
		want := map[string]string{}
		files, err := filepath.Glob(filepath.Join(root, "generators", "*", "globaltenantresource*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		for _, p := range files {
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			variant := strings.TrimPrefix(filepath.Base(p), "globaltenantresource") // "", or "-<variant>.yaml"
			want[filepath.Base(filepath.Dir(p))+strings.TrimSuffix(variant, ".yaml")+".yaml"] = string(b)
		}
		Expect(readDirFiles(filepath.Join(chartDir, "files", "generators"), isYAML)).To(Equal(want),
			"charts/tenantgen/files/generators differs from generators/: run `make manifests`")
	})
})

var _ = Describe("helm lint --strict", func() {
	DescribeTable("passes", func(valuesFiles []string) {
		args := append([]string{"lint", "--strict", chartDir}, valuesArgs(valuesFiles)...)
		out, err := helm.run(args...)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("0 chart(s) failed"))
	},
		Entry("with the default values", defaults),
		Entry("with every option on", allOptions),
		Entry("with rbac.broadAccess", broadAccess),
	)
})

var _ = Describe("helm template with the default values", Ordered, func() {
	var objs []*unstructured.Unstructured
	BeforeAll(func() { objs = template(defaults) })

	It("renders the controller, its RBAC, metrics Service and PDB, and no ServiceMonitor or GlobalTenantResource", func() {
		Expect(names(objs)).To(ConsistOf(
			crdNames[0], crdNames[1],
			"ServiceAccount/tenantgen",
			"ClusterRole/tenantgen-manager", "ClusterRole/tenantgen-core",
			"ClusterRole/tenantgen-context", "ClusterRole/tenantgen-generated",
			"ClusterRoleBinding/tenantgen-manager",
			"Role/tenantgen-leader-election", "RoleBinding/tenantgen-leader-election",
			"Service/tenantgen-metrics", "Deployment/tenantgen", "PodDisruptionBudget/tenantgen",
		))
		for _, o := range objs {
			if o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" && o.GetKind() != "CustomResourceDefinition" {
				Expect(o.GetNamespace()).To(Equal(releaseNamespace), "%s/%s", o.GetKind(), o.GetName())
			}
		}
	})

	It("runs 2 replicas with leader election, probes, requests and a restricted security context", func() {
		d := into[appsv1.Deployment](find(objs, "Deployment", fullname))
		Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
		Expect(d.Spec.Selector.MatchLabels).To(Equal(selectorLabels))
		pod := d.Spec.Template.Spec
		Expect(pod.ServiceAccountName).To(Equal(fullname))
		Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
		Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))

		Expect(pod.Containers).To(HaveLen(1))
		c := pod.Containers[0]
		Expect(c.Image).To(Equal("ghcr.io/projectcapsule/tenantgen:0.1.0"), "image tag defaults to the chart's appVersion")
		Expect(c.Args).To(Equal([]string{"controller", "--leader-elect=true",
			"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--workers=4"}))
		Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
		Expect(c.LivenessProbe.HTTPGet.Port).To(Equal(intstr.FromString("health")))
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
		Expect(c.Ports).To(ConsistOf(
			corev1.ContainerPort{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
		))
		Expect(c.Resources.Requests.Cpu().IsZero()).To(BeFalse())
		Expect(c.Resources.Requests.Memory().IsZero()).To(BeFalse())

		sc := c.SecurityContext
		Expect(*sc.RunAsNonRoot).To(BeTrue())
		Expect(*sc.ReadOnlyRootFilesystem).To(BeTrue())
		Expect(*sc.AllowPrivilegeEscalation).To(BeFalse())
		Expect(*sc.Privileged).To(BeFalse())
		Expect(sc.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}))
		Expect(sc.Capabilities.Add).To(BeEmpty())

		Expect(pod.TopologySpreadConstraints).To(HaveLen(2))
		for _, t := range pod.TopologySpreadConstraints {
			Expect(t.LabelSelector.MatchLabels).To(Equal(selectorLabels), "spread over %s", t.TopologyKey)
		}
	})

	It("exposes metrics through a Service and keeps a replica through disruptions", func() {
		svc := into[corev1.Service](find(objs, "Service", fullname+"-metrics"))
		Expect(svc.Spec.Selector).To(Equal(selectorLabels))
		Expect(svc.Spec.Ports).To(HaveLen(1))
		Expect(svc.Spec.Ports[0].Name).To(Equal("metrics"))
		Expect(svc.Spec.Ports[0].TargetPort).To(Equal(intstr.FromString("metrics")))

		pdb := into[policyv1.PodDisruptionBudget](find(objs, "PodDisruptionBudget", fullname))
		Expect(pdb.Spec.Selector.MatchLabels).To(Equal(selectorLabels))
		Expect(pdb.Spec.MaxUnavailable).To(Equal(new(intstr.FromInt32(1))))
	})

	It("binds an aggregated manager ClusterRole and a leader-election Role to the ServiceAccount", func() {
		manager := into[rbacv1.ClusterRole](find(objs, "ClusterRole", fullname+"-manager"))
		Expect(manager.Rules).To(BeEmpty(), "rules of an aggregated ClusterRole are filled in by Kubernetes")
		Expect(manager.AggregationRule.ClusterRoleSelectors).To(HaveLen(1))
		Expect(manager.AggregationRule.ClusterRoleSelectors[0].MatchLabels).To(Equal(map[string]string{aggregationLabel: "true"}))

		sa := rbacv1.Subject{Kind: "ServiceAccount", Name: fullname, Namespace: releaseNamespace}
		crb := into[rbacv1.ClusterRoleBinding](find(objs, "ClusterRoleBinding", fullname+"-manager"))
		Expect(crb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: fullname + "-manager"}))
		Expect(crb.Subjects).To(Equal([]rbacv1.Subject{sa}))

		role := into[rbacv1.Role](find(objs, "Role", fullname+"-leader-election"))
		Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{
			APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}}))
		rb := into[rbacv1.RoleBinding](find(objs, "RoleBinding", fullname+"-leader-election"))
		Expect(rb.RoleRef.Name).To(Equal(role.Name))
		Expect(rb.Subjects).To(Equal([]rbacv1.Subject{sa}))
	})

	It("grants least privilege: what the controller needs, writes only the declared kinds, never '*'", func() {
		rules := aggregatedRules(objs)
		for _, r := range rules {
			for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
				Expect(list).NotTo(ContainElement("*"), "rule %+v", r)
			}
			Expect(r.Verbs).NotTo(ContainElements("impersonate", "escalate", "bind"))
		}
		type access struct{ group, resource, verb string }
		for _, a := range []access{
			{v1alpha1.Group, "globaltenantresources", "watch"}, {v1alpha1.Group, "globaltenantresources", "update"},
			{v1alpha1.Group, "globaltenantresources/status", "update"}, {v1alpha1.Group, "globaltenantresources/finalizers", "update"},
			{"capsule.clastix.io", "tenants", "list"}, {"capsule.clastix.io", "tenants", "watch"},
			{"", "namespaces", "watch"}, {"", "events", "create"}, {"events.k8s.io", "events", "patch"},
			{"gateway.networking.k8s.io", "httproutes", "watch"},
			{"gateway.networking.k8s.io", "gateways", "create"}, {"gateway.networking.k8s.io", "gateways", "delete"},
			{"gateway.envoyproxy.io", "envoyproxies", "patch"}, {"cert-manager.io", "issuers", "delete"},
		} {
			Expect(allows(rules, a.group, a.resource, a.verb)).To(BeTrue(), "%s %s.%s should be granted", a.verb, a.resource, a.group)
		}
		for _, a := range []access{
			{v1alpha1.Group, "globaltenantresources", "create"}, {v1alpha1.Group, "globaltenantresources", "delete"},
			{"capsule.clastix.io", "tenants", "update"}, {"", "namespaces", "create"}, {"", "namespaces", "delete"},
			{"", "secrets", "get"}, {"", "configmaps", "list"}, {"gateway.networking.k8s.io", "httproutes", "create"},
			{"cert-manager.io", "clusterissuers", "create"}, {"coordination.k8s.io", "leases", "create"},
			{"rbac.authorization.k8s.io", "rolebindings", "create"}, {"", "serviceaccounts", "impersonate"},
		} {
			Expect(allows(rules, a.group, a.resource, a.verb)).To(BeFalse(), "%s %s.%s should not be granted", a.verb, a.resource, a.group)
		}
	})
})

var _ = Describe("helm template with every option on", Ordered, func() {
	var objs []*unstructured.Unstructured
	BeforeAll(func() { objs = template(allOptions, gtrAPIVersions) })
	const full = "tenantgen-all" // fullnameOverride

	It("renders the optional objects: ServiceMonitor, PrometheusRule, dashboard, impersonation and the sample GlobalTenantResources", func() {
		Expect(names(installed(objs))).To(ConsistOf(
			crdNames[0], crdNames[1],
			"ServiceAccount/tenantgen-controller",
			"ClusterRole/"+full+"-manager", "ClusterRole/"+full+"-core",
			"ClusterRole/"+full+"-context", "ClusterRole/"+full+"-generated", "ClusterRole/"+full+"-impersonation",
			"ClusterRoleBinding/"+full+"-manager",
			"Role/"+full+"-leader-election", "RoleBinding/"+full+"-leader-election",
			"Service/"+full+"-metrics", "Deployment/"+full, "PodDisruptionBudget/"+full,
			"ServiceMonitor/"+full, "PrometheusRule/"+full, "ConfigMap/"+full+"-dashboard",
			"GlobalTenantResource/managed-envoy-gateway", "GlobalTenantResource/tenant-acme-issuer", // sample
			"GlobalTenantResource/tenant-acme-issuer-dns01", "GlobalTenantResource/tenant-gateway-proxy-protocol", // generators
			"GlobalTenantResource/namespace-gateway",
		))
		Expect(names(withHook(objs, "pre-delete"))).To(ConsistOf(
			"GlobalTenantResource/managed-envoy-gateway", "GlobalTenantResource/tenant-acme-issuer",
			"GlobalTenantResource/tenant-acme-issuer-dns01", "GlobalTenantResource/tenant-gateway-proxy-protocol",
			"GlobalTenantResource/namespace-gateway",
		), "one pre-delete hook per GlobalTenantResource (uninstall.deleteGlobalTenantResources)")
	})

	It("puts the ServiceMonitor and the PrometheusRule in their namespaces, with their labels and annotations", func() {
		for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
			o := find(objs, kind, full)
			Expect(o.GetNamespace()).To(Equal(monitoringNamespace), kind)
			Expect(o.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"), kind)
			Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", release), kind)
			Expect(o.GetAnnotations()).To(HaveKeyWithValue("example.com/owner", "platform"), kind)
		}
		sm := find(objs, "ServiceMonitor", full)
		nsSel, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
		Expect(nsSel).To(Equal([]string{releaseNamespace}), "the ServiceMonitor scrapes the metrics Service in the release namespace")
	})

	It("uses the image digest, the extra args and the custom ports", func() {
		d := into[appsv1.Deployment](find(objs, "Deployment", full))
		c := d.Spec.Template.Spec.Containers[0]
		Expect(c.Image).To(Equal("registry.example.com/platform/tenantgen@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
		Expect(c.Args).To(Equal([]string{"controller", "--leader-elect=true", "--metrics-bind-address=:9090",
			"--health-probe-bind-address=:9091", "--workers=8", "--dev-logs", "--leader-election-namespace=tenantgen-system"}))
		Expect(*d.Spec.Replicas).To(BeEquivalentTo(3))
		Expect(d.Spec.Template.Spec.ServiceAccountName).To(Equal("tenantgen-controller"))
		Expect(d.Spec.Template.Spec.TopologySpreadConstraints[1].LabelSelector.MatchLabels).To(
			Equal(map[string]string{"app.kubernetes.io/name": "tg"}), "a constraint's own labelSelector is kept")
		pdb := into[policyv1.PodDisruptionBudget](find(objs, "PodDisruptionBudget", full))
		Expect(pdb.Spec.MinAvailable).To(Equal(new(intstr.FromInt32(1))))
		Expect(pdb.Spec.MaxUnavailable).To(BeNil())
	})

	It("points the ServiceMonitor at the metrics Service's port", func() {
		sm := find(objs, "ServiceMonitor", full)
		svc := into[corev1.Service](find(objs, "Service", full+"-metrics"))
		sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		for k, v := range sel {
			Expect(svc.Labels).To(HaveKeyWithValue(k, v))
		}
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		Expect(endpoints).To(HaveLen(1))
		Expect(endpoints[0]).To(HaveKeyWithValue("port", svc.Spec.Ports[0].Name))
		Expect(sm.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"))
	})

	It("grants the declared kinds and impersonation of the named ServiceAccounts only", func() {
		rules := aggregatedRules(objs)
		Expect(allows(rules, "", "configmaps", "list")).To(BeTrue())
		Expect(allows(rules, "", "configmaps", "create")).To(BeFalse())
		Expect(allows(rules, "", "secrets", "create")).To(BeTrue())
		Expect(allows(rules, "cert-manager.io", "certificates", "delete")).To(BeTrue())
		imp := into[rbacv1.ClusterRole](find(objs, "ClusterRole", full+"-impersonation"))
		Expect(imp.Rules).To(Equal([]rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"impersonate"},
			ResourceNames: []string{"tenantgen-writer"},
		}}))
	})

	It("installs the samples and generators unchanged, with the release's labels", func() {
		var want []*unstructured.Unstructured
		for _, f := range []string{
			"samples/capsule-envoy-gateway.yaml", "generators/acme-issuer/globaltenantresource-dns01.yaml",
			"generators/client-traffic-policy/globaltenantresource.yaml", "generators/namespace-gateway/globaltenantresource.yaml",
		} {
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
			Expect(err).NotTo(HaveOccurred())
			objs, err := parseObjects(string(src))
			Expect(err).NotTo(HaveOccurred())
			want = append(want, objs...)
		}
		Expect(want).To(HaveLen(5))
		for _, w := range want {
			got := find(installed(objs), "GlobalTenantResource", w.GetName())
			Expect(hook(got)).To(BeEmpty(), "the CRD is known: an ordinary object of the release")
			Expect(got.GetAPIVersion()).To(Equal(v1alpha1.GroupVersion.String()))
			Expect(got.Object["spec"]).To(Equal(w.Object["spec"]), "spec of %s", w.GetName())
			Expect(got.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", release))
			Expect(got.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "Helm"))
			Expect(got.GetNamespace()).To(BeEmpty(), "GlobalTenantResources are cluster-scoped")
		}
	})
})

var _ = Describe("helm template with rbac.broadAccess", func() {
	It("replaces the per-kind ClusterRoles by one granting every resource, without impersonate/bind/escalate", func() {
		objs := template(broadAccess)
		Expect(names(objs)).NotTo(ContainElements("ClusterRole/tenantgen-context", "ClusterRole/tenantgen-generated"))
		broad := into[rbacv1.ClusterRole](find(objs, "ClusterRole", fullname+"-broad-access"))
		Expect(broad.Labels).To(HaveKeyWithValue(aggregationLabel, "true"))
		Expect(broad.Rules).To(Equal([]rbacv1.PolicyRule{{
			APIGroups: []string{"*"}, Resources: []string{"*"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}}))
		rules := aggregatedRules(objs)
		Expect(allows(rules, "", "secrets", "delete")).To(BeTrue())
		Expect(allows(rules, "rbac.authorization.k8s.io", "clusterroles", "escalate")).To(BeFalse())
		Expect(allows(rules, "", "serviceaccounts", "impersonate")).To(BeTrue(), "rbac.impersonation is on in broad-access.yaml")
	})

	It("leaves RBAC to the cluster admin with rbac.create=false", func() {
		objs := template(defaults, "rbac.create=false", "serviceAccount.create=false", "serviceAccount.name=existing")
		for _, o := range objs {
			Expect(o.GetAPIVersion()).NotTo(HavePrefix(rbacv1.GroupName), "%s/%s", o.GetKind(), o.GetName())
			Expect(o.GetKind()).NotTo(Equal("ServiceAccount"))
		}
		d := into[appsv1.Deployment](find(objs, "Deployment", fullname))
		Expect(d.Spec.Template.Spec.ServiceAccountName).To(Equal("existing"))
	})
})

var _ = Describe("values.schema.json and the chart's own checks", func() {
	It("rejects the bad values file, naming every bad field", func() {
		_, err := templateErr([]string{"bad-values.yaml"})
		Expect(err).To(HaveOccurred())
		msg := err.Error()
		Expect(msg).To(ContainSubstring("values don't meet the specifications of the schema"))
		Expect(msg).To(ContainSubstring("at '/replicas': got string, want integer"))
		Expect(msg).To(ContainSubstring("at '/image/tag': got number, want string"))
		Expect(msg).To(ContainSubstring("additional properties 'unknownKey' not allowed"))
	})

	DescribeTable("rejects a bad value with a message naming it",
		func(values, want string) {
			f := filepath.Join(GinkgoT().TempDir(), "values.yaml")
			Expect(os.WriteFile(f, []byte(values), 0o600)).To(Succeed())
			_, err := templateErr([]string{f})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("a typo in a nested key", "rbac: {broadAcess: true}", "at '/rbac': additional properties 'broadAcess' not allowed"),
		Entry("an unknown alert", "prometheusRule: {rules: {notReddy: {for: 5m}}}", "additional properties 'notReddy' not allowed"),
		Entry("a for that is no duration", "prometheusRule: {rules: {notReady: {for: 15 minutes}}}", "at '/prometheusRule/rules/notReady/for'"),
		Entry("an additional rule without expr", "prometheusRule: {additionalRules: [{alert: X}]}", "missing property 'expr'"),
		Entry("a typo in the dashboard values", "grafanaDashboard: {enable: true}", "additional properties 'enable' not allowed"),
		Entry("zero replicas", "replicas: 0", "at '/replicas': minimum: got 0, want 1"),
		Entry("a wildcard resource", "rbac: {generatedKinds: [{apiGroup: apps, resources: ['*']}]}", "at '/rbac/generatedKinds/0/resources/0'"),
		Entry("a kind without resources", "rbac: {contextKinds: [{apiGroup: apps}]}", "missing property 'resources'"),
		Entry("an unknown pull policy", "image: {pullPolicy: Sometimes}", "at '/image/pullPolicy'"),
		Entry("a bad PDB value", "podDisruptionBudget: {maxUnavailable: half}", "at '/podDisruptionBudget/maxUnavailable'"),
		Entry("a bad scrape interval", "serviceMonitor: {interval: 30 seconds}", "at '/serviceMonitor/interval'"),
		Entry("samples.include as a string", "samples: {include: capsule-envoy-gateway}", "at '/samples/include': got string, want array"),
		Entry("several replicas without leader election", "leaderElection: {enabled: false}",
			"leaderElection.enabled must be true when replicas > 1"),
		Entry("a sample the chart does not ship", "samples: {enabled: true, include: [nope]}",
			`samples.include: "nope" is not in the chart; available: capsule-envoy-gateway, `),
		Entry("a generator the chart does not ship", "generators: {enabled: true, include: [nope]}",
			`generators.include: "nope" is not in the chart; available: `),
		Entry("two included files defining one GlobalTenantResource differently",
			"samples: {enabled: true, include: [managed-ingress-xff]}\ngenerators: {enabled: true, include: [client-traffic-policy-xff]}",
			`GlobalTenantResource "tenant-gateway-xff" is defined differently in files/samples/managed-ingress-xff.yaml and files/generators/client-traffic-policy-xff.yaml`),
		Entry("every sample and every catalog entry (some differ)",
			"samples: {enabled: true, include: ['*']}\ngenerators: {enabled: true, include: ['*']}", "is defined differently in files/samples/"),
		Entry("a wildcard pattern", "samples: {include: ['managed-*']}", "at '/samples/include/0'"),
		Entry("crds.install as a string", "crds: {install: 'yes'}", "at '/crds/install': got string, want boolean"),
		Entry("a typo in uninstall", "uninstall: {deleteGTRs: false}", "additional properties 'deleteGTRs' not allowed"),
		Entry("a bad ServiceMonitor namespace", "serviceMonitor: {namespace: Monitoring}", "at '/serviceMonitor/namespace'"),
		Entry("no ServiceAccount name when not creating one", "serviceAccount: {create: false}",
			"serviceAccount.name is required when serviceAccount.create is false"),
	)
})
