package controller

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/projectcapsule/tenantgen/pkg/render"
)

// countingMapper counts the RESTMapper's answers.
type countingMapper struct {
	meta.RESTMapper
	calls int
}

func (m *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m.calls++
	return m.RESTMapper.RESTMapping(gk, versions...)
}

// A kind's scope is asked of the RESTMapper once; an unknown kind every
// time, so that a CustomResourceDefinition installed later is found.
func TestWorldNamespacedRemembersScopes(t *testing.T) {
	route := schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
	ns := schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	missing := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Missing"}
	rm := meta.NewDefaultRESTMapper(nil)
	rm.Add(route, meta.RESTScopeNamespace)
	rm.Add(ns, meta.RESTScopeRoot)
	m := &countingMapper{RESTMapper: rm}
	sc := &scopes{}
	for i := 0; i < 3; i++ {
		w := &world{mapper: m, scopes: sc} // a new world per render, as in reconcilePair
		if got, err := w.Namespaced(route); err != nil || !got {
			t.Fatalf("HTTPRoute: namespaced=%v err=%v", got, err)
		}
		if got, err := w.Namespaced(ns); err != nil || got {
			t.Fatalf("Namespace: namespaced=%v err=%v", got, err)
		}
		if _, err := w.Namespaced(missing); !errors.Is(err, render.ErrUnknownKind) {
			t.Fatalf("unknown kind: err=%v, want ErrUnknownKind", err)
		}
	}
	if m.calls != 2+3 {
		t.Errorf("RESTMapping called %d times, want 5 (each known kind once, the unknown one each time)", m.calls)
	}
}
