package inventory

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
