package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
)

func TestStatusSpacing(t *testing.T) {
	for _, c := range []struct{ cost, want time.Duration }{
		{0, statusDelay},                          // never reconciled yet
		{20 * time.Millisecond, statusDelay},      // a thousand tenants
		{300 * time.Millisecond, 6 * time.Second}, // ten thousand, under load
	} {
		if got := statusSpacing(c.cost); got != c.want {
			t.Errorf("statusSpacing(%s) = %s, want %s", c.cost, got, c.want)
		}
	}
}

func TestNotOwnStatus(t *testing.T) {
	base := func() *v1alpha1.GlobalTenantResource {
		g := &v1alpha1.GlobalTenantResource{}
		g.Name, g.Generation = "g", 1
		g.Annotations = map[string]string{"a": "1"}
		g.Finalizers = []string{inventory.Finalizer}
		return g
	}
	for _, c := range []struct {
		name   string
		change func(*v1alpha1.GlobalTenantResource)
		want   bool
	}{
		{"status only", func(g *v1alpha1.GlobalTenantResource) { g.Status.ReadyTenants = 3; g.ResourceVersion = "9" }, false},
		{"spec", func(g *v1alpha1.GlobalTenantResource) { g.Generation = 2 }, true},
		{"approve-deletions", func(g *v1alpha1.GlobalTenantResource) { g.Annotations[v1alpha1.AnnotationApproveDeletions] = "true" }, true},
		{"label", func(g *v1alpha1.GlobalTenantResource) { g.Labels = map[string]string{"x": "y"} }, true},
		{"finalizer removed", func(g *v1alpha1.GlobalTenantResource) { g.Finalizers = nil }, true},
		{"deleted", func(g *v1alpha1.GlobalTenantResource) { now := metav1.Now(); g.DeletionTimestamp = &now }, true},
	} {
		n := base()
		c.change(n)
		if got := notOwnStatus.Update(event.TypedUpdateEvent[client.Object]{ObjectOld: base(), ObjectNew: n}); got != c.want {
			t.Errorf("%s: passed %v, want %v", c.name, got, c.want)
		}
	}
}
