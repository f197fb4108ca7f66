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
