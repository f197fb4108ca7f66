package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TenantInventory is the inventory of record and the state of one
// GlobalTenantResource for one tenant (one per GlobalTenantResource in scope
// None). The controller writes it, with an ownerReference to its
// GlobalTenantResource, once per reconcile, after the applies. An object
// applied before a crash and not yet listed here carries the pair's labels,
// and its kind is in the GlobalTenantResource's status.generatedKinds before
// it is applied: the next controller finds it and lists it. Its size is
// bounded by spec.limits.maxObjectsPerTenant, not by the number of tenants. A
// finalizer keeps it until its objects are pruned or released.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=tinv,categories=tenantgen
// +kubebuilder:printcolumn:name="GTR",type=string,JSONPath=`.spec.globalTenantResource`
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenant`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Objects",type=integer,JSONPath=`.status.size`
// +kubebuilder:printcolumn:name="Healthy",type=string,JSONPath=`.status.conditions[?(@.type=="Healthy")].status`
// +kubebuilder:printcolumn:name="Unhealthy",type=integer,JSONPath=`.status.unhealthy`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.conditions[?(@.type=="Healthy")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TenantInventory struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TenantInventorySpec `json:"spec"`
	// +optional
	Status TenantInventoryStatus `json:"status,omitempty"`
}

// TenantInventorySpec names the pair the inventory belongs to.
type TenantInventorySpec struct {
	// GlobalTenantResource is the name of the owning GlobalTenantResource.
	// +kubebuilder:validation:MinLength=1
	GlobalTenantResource string `json:"globalTenantResource"`
	// Tenant is the tenant's name; empty in scope None.
	// +optional
	Tenant string `json:"tenant,omitempty"`
}

// TenantInventoryStatus is the tenant's part of the inventory and its state.
type TenantInventoryStatus struct {
	// Conditions: Ready (every object applied; reason and message say why
	// not) and Healthy (every applied object healthy; the message names the
	// first unhealthy ones).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Size is len(entries), for the printer column.
	// +optional
	Size int `json:"size,omitempty"`

	// Unhealthy is the number of listed objects that are not healthy (in
	// progress or failed).
	// +optional
	Unhealthy int `json:"unhealthy,omitempty"`

	// PendingDeletions is the number of entries no longer rendered whose
	// deletion the deletion brake holds.
	// +optional
	PendingDeletions int `json:"pendingDeletions,omitempty"`

	// Entries are the objects tenantgen manages for this tenant, sorted by id.
	// An entry without uid is an object that may exist but whose apply was
	// never confirmed: a write that failed after it was sent, or an object a
	// restarted controller found by its labels (see
	// GlobalTenantResource status.generatedKinds). It counts as created only
	// when tenantgen's field manager alone wrote it.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Entries []InventoryEntry `json:"entries,omitempty"`
}

// InventoryEntry is one object, in about 100 bytes.
type InventoryEntry struct {
	// ID is <namespace>_<name>_<group>_<kind> (namespace and group may be empty).
	// +kubebuilder:validation:MinLength=3
	ID string `json:"id"`
	// Version is the API version the object was applied with.
	// +kubebuilder:validation:MinLength=1
	Version string `json:"v"`
	// UID of the live object; empty while the apply is unconfirmed.
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// Adopted marks an object that existed before tenantgen took it over:
	// pruning only drops tenantgen's fields from it.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
}

// TenantInventoryList is a list of TenantInventories.
//
// +kubebuilder:object:root=true
type TenantInventoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TenantInventory `json:"items"`
}
