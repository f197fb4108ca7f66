package render

import (
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrUnknownKind is returned by a World for a kind the cluster does not serve.
var ErrUnknownKind = errors.New("kind is not served by the cluster")

// World is the read-only view of a cluster that a render draws from. The
// controller implements it over its informer caches, the CLI over the files it
// was given; the render core itself does no I/O.
type World interface {
	// List returns the objects of a kind whose labels match sel, in one
	// namespace, or in all namespaces when namespace is "" (always "" for a
	// cluster-scoped kind). The render core never modifies what it gets.
	List(gvk schema.GroupVersionKind, namespace string, sel labels.Selector) ([]*unstructured.Unstructured, error)
	// Namespaced reports whether a kind is namespaced, or ErrUnknownKind.
	Namespaced(gvk schema.GroupVersionKind) (bool, error)
	// NamespaceOwner returns the tenant a namespace belongs to, "" for none.
	NamespaceOwner(namespace string) string
}

// ScopeHinter is implemented by a World that assumes the scope of kinds it
// cannot look up (offline, without discovery). ScopeHint says, for such a
// kind, how to tell the World its real scope ("" for a kind whose scope it
// knows), so that "metadata.namespace is required" for a kind that is in
// fact cluster-scoped comes with its remedy.
type ScopeHinter interface {
	ScopeHint(gvk schema.GroupVersionKind) string
}
