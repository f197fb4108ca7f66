package kinds

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestClusterScoped(t *testing.T) {
	for gk, want := range map[string]bool{
		"Namespace": true, "ClusterRole.rbac.authorization.k8s.io": true, "Tenant.capsule.clastix.io": true,
		"GatewayClass.gateway.networking.k8s.io": true, "ClusterIssuer.cert-manager.io": true,
		"ConfigMap": false, "Role.rbac.authorization.k8s.io": false, "Gateway.gateway.networking.k8s.io": false,
		"Issuer.cert-manager.io": false, "ClusterRole": false, // the core group has no ClusterRole
	} {
		if got := ClusterScoped(schema.ParseGroupKind(gk)); got != want {
			t.Errorf("ClusterScoped(%s) = %v, want %v", gk, got, want)
		}
	}
}

func TestCovers(t *testing.T) {
	for group, want := range map[string]bool{
		"": true, "apps": true, "rbac.authorization.k8s.io": true, "gateway.networking.k8s.io": true, "cert-manager.io": true,
		"addons.projectcapsule.dev": true, "capsule.clastix.io": false, "example.com": false,
	} {
		if got := Covers(group); got != want {
			t.Errorf("Covers(%q) = %v, want %v", group, got, want)
		}
	}
}
