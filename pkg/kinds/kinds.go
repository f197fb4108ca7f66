// Package kinds knows, without a cluster, which kinds are cluster-scoped: those of
// Kubernetes and of the projects tenantgen works with (Gateway API, cert-manager,
// Capsule, tenantgen). Offline code (tenantgen render, test and convert) takes every
// other kind as namespaced.
package kinds

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ClusterScoped reports whether gk is a known cluster-scoped kind.
func ClusterScoped(gk schema.GroupKind) bool { return clusterScoped[gk] }

// clusterScoped are the cluster-scoped kinds of Kubernetes and of the projects
// tenantgen works with.
var clusterScoped = map[schema.GroupKind]bool{}

func init() {
	for _, gk := range []string{
		"Namespace", "Node", "PersistentVolume", "ComponentStatus",
		"ClusterRole.rbac.authorization.k8s.io", "ClusterRoleBinding.rbac.authorization.k8s.io",
		"CustomResourceDefinition.apiextensions.k8s.io", "APIService.apiregistration.k8s.io",
		"StorageClass.storage.k8s.io", "CSIDriver.storage.k8s.io", "CSINode.storage.k8s.io",
		"VolumeAttachment.storage.k8s.io", "VolumeAttributesClass.storage.k8s.io",
		"PriorityClass.scheduling.k8s.io", "RuntimeClass.node.k8s.io", "IngressClass.networking.k8s.io",
		"IPAddress.networking.k8s.io", "ServiceCIDR.networking.k8s.io",
		"ValidatingWebhookConfiguration.admissionregistration.k8s.io",
		"MutatingWebhookConfiguration.admissionregistration.k8s.io",
		"ValidatingAdmissionPolicy.admissionregistration.k8s.io",
		"ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io",
		"MutatingAdmissionPolicy.admissionregistration.k8s.io",
		"MutatingAdmissionPolicyBinding.admissionregistration.k8s.io",
		"CertificateSigningRequest.certificates.k8s.io", "ClusterTrustBundle.certificates.k8s.io",
		"FlowSchema.flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io",
		"DeviceClass.resource.k8s.io",
		"GatewayClass.gateway.networking.k8s.io",
		"ClusterIssuer.cert-manager.io",
		"Tenant.capsule.clastix.io", "GlobalTenantResource.capsule.clastix.io",
		"GlobalTenantResource.addons.projectcapsule.dev",
	} {
		clusterScoped[schema.ParseGroupKind(gk)] = true
	}
}

// Covers reports whether the table knows every cluster-scoped kind of a
// group, so that any other kind of it is surely namespaced: Kubernetes' own
// groups ("" and the ones without a dot, *.k8s.io, which includes Gateway
// API), cert-manager's and tenantgen's. Offline code takes a kind of any other group as
// namespaced without knowing, and says so when that is what fails.
func Covers(group string) bool {
	return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io") ||
		group == "cert-manager.io" || group == "acme.cert-manager.io" || group == "addons.projectcapsule.dev"
}
