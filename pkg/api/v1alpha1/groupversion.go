// Package v1alpha1 holds the addons.projectcapsule.dev/v1alpha1 API of tenantgen.
//
// The GlobalTenantResource spec mirrors Capsule's capsule.clastix.io/v1beta2 kind of
// the same name field for field, so a Capsule manifest moves over by changing its
// apiVersion only. Fields beyond Capsule's (settings, serviceAccount, dependsOn,
// cordoned, limits) are optional and default to Capsule-compatible behaviour.
//
// +kubebuilder:object:generate=true
// +groupName=addons.projectcapsule.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is the API group of tenantgen.
const Group = "addons.projectcapsule.dev"

var (
	// GroupVersion is the group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

	// SchemeBuilder adds the types of this package to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &GlobalTenantResource{}, &GlobalTenantResourceList{}, &TenantInventory{}, &TenantInventoryList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
