package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Scope says what one render is done for.
// +kubebuilder:validation:Enum=Tenant;Namespace;None
type Scope string

const (
	// ScopeTenant renders once per selected tenant.
	ScopeTenant Scope = "Tenant"
	// ScopeNamespace renders once per namespace of each selected tenant; namespaced
	// objects are forced into that namespace.
	ScopeNamespace Scope = "Namespace"
	// ScopeNone renders once for the whole cluster.
	ScopeNone Scope = "None"
)

// MissingKey says what a generator does when a template reads a map key that is not there.
// +kubebuilder:validation:Enum=invalid;zero;error
type MissingKey string

const (
	// MissingKeyError fails the render (the default: a typo must not ship an empty field).
	MissingKeyError MissingKey = "error"
	// MissingKeyZero renders a missing key as an empty string (never "<no value>").
	MissingKeyZero MissingKey = "zero"
	// MissingKeyInvalid is Go's text/template default: it prints "<no value>".
	MissingKeyInvalid MissingKey = "invalid"
)

// Ownership says how an object came under tenantgen's management.
// +kubebuilder:validation:Enum=Created;Adopted
type Ownership string

const (
	// OwnershipCreated marks objects tenantgen created; only these are ever deleted.
	OwnershipCreated Ownership = "Created"
	// OwnershipAdopted marks objects that existed before; pruning only drops our fields.
	OwnershipAdopted Ownership = "Adopted"
)

// Ownership marks set on every generated object (and on TenantInventories). They
// make objects findable (kubectl get -l); deletes are decided by the
// TenantInventories, never by labels.
const (
	LabelGlobalTenantResource = Group + "/globaltenantresource"
	LabelTenant               = Group + "/tenant"
)

// Condition types set on GlobalTenantResources (all of them) and
// TenantInventories (Ready and Healthy). They follow the kstatus convention:
// Ready is True when everything is applied and healthy; Reconciling and
// Stalled are present only while True (work under way; a problem the
// controller cannot resolve by retrying); Cordoned only while cordoned.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
	ConditionHealthy     = "Healthy"
	ConditionCordoned    = "Cordoned"
)

// AnnotationApproveDeletions on a GlobalTenantResource releases the deletions
// that the deletion brake holds at that moment; the controller removes it.
const AnnotationApproveDeletions = Group + "/approve-deletions"

// GlobalTenantResourceSpec is the desired state: what to render for which tenants.
//
// +kubebuilder:validation:XValidation:rule="self.scope == 'Namespace' || !has(self.resources) || self.resources.all(r, !has(r.namespaceSelector))",message="resources[].namespaceSelector is only allowed with scope Namespace"
// +kubebuilder:validation:XValidation:rule="self.scope == 'Namespace' || !has(self.resources) || self.resources.all(r, !has(r.namespacedItems) || size(r.namespacedItems) == 0)",message="resources[].namespacedItems is only allowed with scope Namespace"
type GlobalTenantResourceSpec struct {
	// Scope: Tenant renders once per tenant, Namespace once per tenant namespace
	// (objects forced into it), None once for the cluster.
	// +kubebuilder:default=Namespace
	// +optional
	Scope Scope `json:"scope,omitempty"`

	// TenantSelector selects Capsule Tenants by label; empty selects all tenants.
	// +optional
	TenantSelector metav1.LabelSelector `json:"tenantSelector,omitempty"`

	// ResyncPeriod is how often every tenant is rendered again even when nothing
	// changed; the period is jittered so that tenants do not resync in lockstep.
	// +kubebuilder:default="60s"
	// +optional
	ResyncPeriod metav1.Duration `json:"resyncPeriod,omitempty"`

	// PruningOnDelete deletes the objects tenantgen created when the
	// GlobalTenantResource is deleted; false leaves them and removes only our marks.
	// +kubebuilder:default=true
	// +optional
	PruningOnDelete *bool `json:"pruningOnDelete,omitempty"`

	// Cordoned pauses reconciliation: nothing is applied or pruned while true.
	// +optional
	Cordoned bool `json:"cordoned,omitempty"`

	// Settings tune how conflicts with existing objects are handled.
	// +optional
	Settings Settings `json:"settings,omitempty"`

	// ServiceAccount is impersonated for every read of context and every write.
	// +optional
	ServiceAccount *ServiceAccountReference `json:"serviceAccount,omitempty"`

	// DependsOn lists other GlobalTenantResources that must be Ready first.
	// +optional
	// +listType=map
	// +listMapKey=name
	DependsOn []Dependency `json:"dependsOn,omitempty"`

	// Limits bound what one render may produce.
	// +optional
	Limits Limits `json:"limits,omitempty"`

	// Policy bounds what this GlobalTenantResource may write: which kinds and
	// in which namespaces. Without it, in Tenant and Namespace scope
	// cluster-scoped kinds are refused and namespaced objects may land in the
	// tenant's own namespaces and in namespaces no tenant owns (except kube-*).
	// +optional
	Policy *Policy `json:"policy,omitempty"`

	// HealthChecks decide the health of generated objects of the given
	// apiVersion and kind with CEL expressions, overriding the built-in rules
	// (Gateway API, cert-manager) and kstatus. A GlobalTenantResource is Ready
	// only when every object it generated is healthy.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	HealthChecks []HealthCheck `json:"healthChecks,omitempty"`

	// Resources are the blocks of objects rendered for every selected tenant.
	// (The bounds keep the CEL rules within the apiserver's cost budget.)
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Resources []ResourceSpec `json:"resources"`
}

// Settings tune how conflicts with existing objects are handled.
type Settings struct {
	// Adopt takes over objects that already exist and were not created by this
	// GlobalTenantResource; false refuses them with an item error.
	// +optional
	Adopt bool `json:"adopt,omitempty"`

	// Force applies with forced ownership on conflicts with other field managers
	// for adopted or shared objects; false reports the conflict as an item error.
	// Objects tenantgen created are always applied with forced ownership, so
	// manual edits are undone (drift correction).
	// +optional
	Force bool `json:"force,omitempty"`
}

// ServiceAccountReference names a ServiceAccount to impersonate.
type ServiceAccountReference struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`
}

// Dependency names another GlobalTenantResource.
type Dependency struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Limits bound a render so that one template cannot exhaust the controller.
type Limits struct {
	// MaxObjectsPerTenant is the most objects one tenant may render (default
	// and maximum 1000): the bound keeps one TenantInventory under 256 KiB.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxObjectsPerTenant *int32 `json:"maxObjectsPerTenant,omitempty"`

	// RenderTimeout bounds the template execution of one tenant (default 5s).
	// +optional
	RenderTimeout *metav1.Duration `json:"renderTimeout,omitempty"`

	// MaxDeletions is the most objects one change may delete without approval:
	// an integer, or a percentage of the objects in the inventory (default 10%,
	// never fewer than 10 objects). A change that would delete more deletes none
	// of them until the GlobalTenantResource is annotated with
	// addons.projectcapsule.dev/approve-deletions=true.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^(100|[1-9]?[0-9])%$|^[0-9]+$`
	// +optional
	MaxDeletions *intstr.IntOrString `json:"maxDeletions,omitempty"`
}

// Policy bounds what a GlobalTenantResource may write. A violation fails the
// tenant's whole render: nothing of it is applied and nothing pruned.
type Policy struct {
	// AllowedKinds lists the kinds that may be written; kind "*" allows a
	// whole group. When set, every rendered object's kind must be listed;
	// when unset, namespaced kinds are allowed and cluster-scoped kinds only
	// in scope None.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	AllowedKinds []GroupKind `json:"allowedKinds,omitempty"`

	// AllowedNamespaces lists where namespaced objects (and Namespaces, by
	// name) may land: patterns with * globs and the {{tenant.name}} and
	// {{namespace}} placeholders, e.g. tenant-{{tenant.name}}-system. It
	// narrows the defaults; it never opens another tenant's namespaces.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`
}

// GroupKind names a kind by API group ("" for the core group) and kind.
type GroupKind struct {
	// Group is the API group, "" for the core group.
	// +optional
	Group string `json:"group"`
	// Kind, or "*" for every kind of the group.
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
}

// HealthCheck holds CEL expressions over one kind of generated object. The
// object's top-level fields are variables (apiVersion, kind, metadata, spec,
// status, data; a missing one is an empty map), optional field access
// (status.?observedGeneration) is available. The expressions are evaluated in
// the order inProgress, failed, current; the first that is true decides. When
// none is true, or one cannot be evaluated (e.g. a field the controller has
// not written yet), the object is in progress.
type HealthCheck struct {
	// APIVersion of the objects this check applies to, e.g. example.com/v1.
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`
	// Kind of the objects this check applies to.
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Current is true when the object is healthy.
	// +kubebuilder:validation:MinLength=1
	Current string `json:"current"`
	// InProgress is true while the object is still being set up.
	// +optional
	InProgress string `json:"inProgress,omitempty"`
	// Failed is true when the object is broken.
	// +optional
	Failed string `json:"failed,omitempty"`
}

// ResourceSpec is one block of objects: existing objects to copy, inline objects,
// and templates fed with context.
type ResourceSpec struct {
	// NamespaceSelector narrows, in Namespace scope, the tenant namespaces rendered into.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// AdditionalMetadata is merged into every object of this block; placeholders allowed.
	// +optional
	AdditionalMetadata *AdditionalMetadata `json:"additionalMetadata,omitempty"`

	// NamespacedItems are existing objects copied into each target namespace.
	// +optional
	NamespacedItems []ObjectReference `json:"namespacedItems,omitempty"`

	// RawItems are inline objects; string values may hold the {{tenant.name}} and
	// {{namespace}} placeholders.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	RawItems []runtime.RawExtension `json:"rawItems,omitempty"`

	// Context lists the objects exposed to the generators.
	// +optional
	Context *Context `json:"context,omitempty"`

	// Generators are Go text/template (+sprig) templates emitting YAML documents.
	// +optional
	Generators []Generator `json:"generators,omitempty"`
}

// AdditionalMetadata holds labels and annotations added to generated objects.
type AdditionalMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ObjectReference selects existing objects by kind and by name or labels.
type ObjectReference struct {
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Name selects one object; placeholders allowed.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace to read from; placeholders allowed.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Selector filters by labels; placeholders allowed in keys and values.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Optional makes a missing object or an unknown kind yield nothing instead of an error.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// Context lists the objects exposed to generators.
type Context struct {
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=index
	Resources []ContextResource `json:"resources,omitempty"`
}

// ContextResource exposes objects to templates as $.<index>: a list sorted by
// namespace/name, or a single object when name is set.
type ContextResource struct {
	// Index is the key under which the objects appear in template data.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['tenant', 'namespace', 'tenants'])",message="index must not be one of the reserved keys tenant, namespace, tenants"
	Index string `json:"index"`

	ObjectReference `json:",inline"`
}

// Generator is one template.
type Generator struct {
	// Template is a Go text/template with sprig functions; it may emit zero or more
	// YAML documents separated by '---'.
	// +kubebuilder:validation:MinLength=1
	Template string `json:"template"`

	// MissingKey: error (default) fails on a missing map key, zero renders it empty,
	// invalid prints Go's "<no value>".
	// +kubebuilder:default=error
	// +optional
	MissingKey MissingKey `json:"missingKey,omitempty"`
}

// GlobalTenantResourceStatus is a bounded summary of what the controller did:
// counts, conditions and the first few failing tenants. The per-tenant state and
// the inventory of record live in one TenantInventory per tenant, so this
// object does not grow with the number of tenants.
type GlobalTenantResourceStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions, by the kstatus convention: Ready (everything applied and
	// healthy; reason and message name failing tenants, unhealthy objects or
	// pending deletions), Healthy, Reconciling and Stalled (present only while
	// True) and Cordoned (present only while cordoned).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// TenantCount is the number of tenants the selector matched.
	// +optional
	TenantCount int `json:"tenantCount,omitempty"`

	// ReadyTenants is the number of selected tenants whose objects are all applied.
	// +optional
	ReadyTenants int `json:"readyTenants,omitempty"`

	// FailedTenants is the number of tenants whose last reconcile failed.
	// +optional
	FailedTenants int `json:"failedTenants,omitempty"`

	// UnhealthyTenants is the number of tenants with at least one generated
	// object that is not healthy (in progress or failed).
	// +optional
	UnhealthyTenants int `json:"unhealthyTenants,omitempty"`

	// UnhealthyObjects is the number of generated objects that are not healthy.
	// +optional
	UnhealthyObjects int `json:"unhealthyObjects,omitempty"`

	// Size is the number of objects in the inventories of this GlobalTenantResource.
	// +optional
	Size int `json:"size,omitempty"`

	// PendingDeletions is the number of objects whose deletion waits for
	// approval (see spec.limits.maxDeletions).
	// +optional
	PendingDeletions int `json:"pendingDeletions,omitempty"`

	// Failing lists the first few failing tenants, sorted by name; the rest are
	// found with `kubectl get tenantinventories -l <inventorySelector>`.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Failing []TenantProblem `json:"failing,omitempty"`

	// InventorySelector is the label selector of this GlobalTenantResource's
	// TenantInventories.
	// +optional
	InventorySelector string `json:"inventorySelector,omitempty"`

	// ServiceAccount is the identity actually used for reads and writes.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`

	// GeneratedKinds lists every kind (Kind.group) this GlobalTenantResource
	// may have written, each recorded before its first apply. With the labels
	// every generated object carries, it lets a restarted controller find
	// objects it applied but had not yet listed in an inventory (the ApplySet
	// pattern of KEP-3659). It only grows while the GlobalTenantResource exists.
	// +optional
	// +listType=set
	GeneratedKinds []string `json:"generatedKinds,omitempty"`
}

// TenantProblem names a failing tenant.
type TenantProblem struct {
	// Tenant is the tenant's name; empty in scope None.
	// +optional
	Tenant string `json:"tenant,omitempty"`
	// Reason is a CamelCase word, as in the tenant's Ready condition.
	Reason string `json:"reason"`
	// Message is the start of the tenant's Ready message.
	// +optional
	Message string `json:"message,omitempty"`
}

// GlobalTenantResource renders, applies and prunes objects for every selected Capsule tenant.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tgr,categories=tenantgen
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Tenants",type=integer,JSONPath=`.status.tenantCount`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.failedTenants`
// +kubebuilder:printcolumn:name="Unhealthy",type=integer,JSONPath=`.status.unhealthyTenants`
// +kubebuilder:printcolumn:name="Items",type=integer,JSONPath=`.status.size`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="the name is used as a label value on generated objects and must be at most 63 characters"
type GlobalTenantResource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec GlobalTenantResourceSpec `json:"spec"`
	// +optional
	Status GlobalTenantResourceStatus `json:"status,omitempty"`
}

// GlobalTenantResourceList is a list of GlobalTenantResources.
//
// +kubebuilder:object:root=true
type GlobalTenantResourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GlobalTenantResource `json:"items"`
}

// ScopeOrDefault returns the scope, Namespace when unset (as the CRD default does).
func (s *GlobalTenantResourceSpec) ScopeOrDefault() Scope {
	if s.Scope == "" {
		return ScopeNamespace
	}
	return s.Scope
}

// PruneOnDelete reports pruningOnDelete, true when unset.
func (s *GlobalTenantResourceSpec) PruneOnDelete() bool {
	return s.PruningOnDelete == nil || *s.PruningOnDelete
}

// Reasons of the Ready conditions of GlobalTenantResources and TenantInventories.
const (
	ReasonReconciled        = "Reconciled"
	ReasonProgressing       = "Progressing"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonCordoned          = "Cordoned"
	ReasonTenantsFailed     = "TenantsFailed"
	ReasonDeletionsBlocked  = "DeletionsBlocked"
	ReasonWaitingDependency = "WaitingForDependency"
	ReasonRenderFailed      = "RenderFailed"
	// ReasonRenderBudgetExceeded: a template hit spec.limits (time, memory, objects).
	ReasonRenderBudgetExceeded = "RenderBudgetExceeded"
	ReasonApplyFailed          = "ApplyFailed"
	ReasonPruneFailed          = "PruneFailed"
	ReasonInventoryFailed      = "InventoryFailed"
	ReasonLeaving              = "Leaving"
	// ReasonUnhealthy: a generated object failed its health check (Ready,
	// Healthy and Stalled of a GlobalTenantResource; Healthy of a tenant).
	ReasonUnhealthy = "Unhealthy"
	// ReasonHealthPending: generated objects are applied but not healthy yet
	// (their controllers have not reported, or report progress).
	ReasonHealthPending = "HealthPending"
	// ReasonHealthy: every generated object is healthy.
	ReasonHealthy = "Healthy"
	// ReasonNotApplied: health is unknown because nothing was applied yet.
	ReasonNotApplied = "NotApplied"
)
