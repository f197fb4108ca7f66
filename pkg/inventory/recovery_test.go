package inventory

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

func obj(apiVersion, kind, ns, name, tenant string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	l := map[string]string{v1alpha1.LabelGlobalTenantResource: "g"}
	if tenant != "" {
		l[v1alpha1.LabelTenant] = tenant
	}
	u.SetLabels(l)
	return u
}

func TestNewKinds(t *testing.T) {
	objs := []*unstructured.Unstructured{
		obj("gateway.networking.k8s.io/v1", "Gateway", "a", "gw", "a"),
		obj("v1", "ConfigMap", "a", "x", "a"),
		obj("gateway.networking.k8s.io/v1beta1", "Gateway", "a", "gw2", "a"), // another version: the same kind
		obj("v1", "ConfigMap", "a", "y", "a"),
	}
	if got, want := NewKinds(nil, objs), []string{"ConfigMap", "Gateway.gateway.networking.k8s.io"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NewKinds(nil) = %v, want %v", got, want)
	}
	if got := NewKinds([]string{"ConfigMap", "Gateway.gateway.networking.k8s.io"}, objs); len(got) != 0 {
		t.Errorf("NewKinds(all known) = %v, want none", got)
	}
	if got, want := NewKinds([]string{"ConfigMap"}, objs), []string{"Gateway.gateway.networking.k8s.io"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NewKinds(ConfigMap known) = %v, want %v", got, want)
	}
	for _, k := range NewKinds(nil, objs) {
		if ParseKind(k).String() != k {
			t.Errorf("ParseKind(%q) does not round-trip: %v", k, ParseKind(k))
		}
	}
	if got, want := MergeKinds([]string{"b", "a"}, []string{"c", "a"}), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MergeKinds = %v, want %v", got, want)
	}
}

func TestUnrecorded(t *testing.T) {
	listed := obj("v1", "ConfigMap", "a-prod", "cm0", "a")
	invs := map[string]*v1alpha1.TenantInventory{
		"a": {Status: v1alpha1.TenantInventoryStatus{Entries: []v1alpha1.InventoryEntry{Entry(RefOf(listed), "uid-0", false)}}},
	}
	deleting := obj("v1", "ConfigMap", "a-prod", "gone", "a")
	now := metav1.Now()
	deleting.SetDeletionTimestamp(&now)
	live := []*unstructured.Unstructured{
		listed,
		obj("v1", "ConfigMap", "a-prod", "cm1", "a"), // applied, not recorded yet
		obj("v1", "ConfigMap", "b-prod", "cm0", "b"), // a tenant without inventory (e.g. it left while the controller was down)
		obj("v1", "Namespace", "", "shared", ""),     // scope None
		deleting,
	}
	got := Unrecorded(invs, live)
	want := map[string][]v1alpha1.InventoryEntry{
		"a": {{ID: "a-prod_cm1__ConfigMap", Version: "v1"}},
		"b": {{ID: "b-prod_cm0__ConfigMap", Version: "v1"}},
		"":  {{ID: "_shared__Namespace", Version: "v1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unrecorded =\n%v\nwant\n%v", got, want)
	}
	if again := Unrecorded(map[string]*v1alpha1.TenantInventory{}, nil); len(again) != 0 {
		t.Errorf("Unrecorded of nothing = %v", again)
	}
}

// Labelled lists only the recorded kinds' objects with the
// GlobalTenantResource's label, skips a kind no longer served and runs
// prepare once per listed kind.
func TestLabelled(t *testing.T) {
	cm := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{cm.GroupVersion()})
	mapper.Add(cm, meta.RESTScopeNamespace)
	other := obj("v1", "ConfigMap", "a", "other", "t")
	other.SetLabels(map[string]string{v1alpha1.LabelGlobalTenantResource: "h"})
	r := fake.NewClientBuilder().WithRESTMapper(mapper).WithObjects(
		obj("v1", "ConfigMap", "a", "mine", "t"), other).Build()

	var prepared []schema.GroupVersionKind
	live, err := Labelled(context.Background(), r, mapper, "g", []string{"ConfigMap", "Gone.example.com"}, func(gvk schema.GroupVersionKind) error {
		prepared = append(prepared, gvk)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].GetName() != "mine" {
		t.Errorf("listed %v, want only a/mine", live)
	}
	if !reflect.DeepEqual(prepared, []schema.GroupVersionKind{cm}) {
		t.Errorf("prepared %v, want only %v", prepared, cm)
	}
	if _, err := Labelled(context.Background(), r, mapper, "g", []string{"ConfigMap"}, func(schema.GroupVersionKind) error {
		return errors.New("forbidden")
	}); err == nil {
		t.Error("an error of prepare was not returned")
	}
}
