package apply

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestFieldManagerFitsTheApiserverLimit(t *testing.T) {
	if got := FieldManager("gw", "solar"); got != "tenantgen/gw/solar" {
		t.Fatalf("FieldManager = %q", got)
	}
	if got := FieldManager("cluster-wide", ""); got != "tenantgen/cluster-wide" {
		t.Fatalf("scope None FieldManager = %q", got)
	}
	long := strings.Repeat("g", 63)
	a, b := FieldManager(long, strings.Repeat("a", 63)), FieldManager(long, strings.Repeat("a", 62)+"b")
	if len(a) > maxFieldManager || len(b) > maxFieldManager {
		t.Fatalf("field managers of %d and %d bytes exceed %d", len(a), len(b), maxFieldManager)
	}
	if a == b {
		t.Fatalf("two pairs share the field manager %q", a)
	}
}

func TestContains(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"name": "gw", "uid": "u1", "labels": map[string]any{"a": "1", "b": "2"}},
		"spec": map[string]any{
			"replicas":  int64(2),
			"ratio":     float64(0.5),
			"listeners": []any{map[string]any{"name": "http", "port": int64(80), "defaulted": true}},
		},
		"status": map[string]any{"ready": true},
	}
	for _, tc := range []struct {
		name string
		want any
		ok   bool
	}{
		{"server-added fields are ignored", map[string]any{"metadata": map[string]any{"name": "gw", "labels": map[string]any{"a": "1"}}}, true},
		{"list items may carry defaults", map[string]any{"spec": map[string]any{"listeners": []any{map[string]any{"name": "http", "port": int64(80)}}}}, true},
		{"a number decoded as float matches its int", map[string]any{"spec": map[string]any{"replicas": float64(2)}}, true},
		{"a null matches an absent field", map[string]any{"spec": map[string]any{"gone": nil}}, true},
		{"a changed value is drift", map[string]any{"spec": map[string]any{"replicas": int64(3)}}, false},
		{"a removed label is drift", map[string]any{"metadata": map[string]any{"labels": map[string]any{"c": "3"}}}, false},
		{"a longer list is a change", map[string]any{"spec": map[string]any{"listeners": []any{map[string]any{"name": "http"}, map[string]any{"name": "https"}}}}, false},
		{"a type change is a change", map[string]any{"spec": map[string]any{"ratio": "0.5"}}, false},
	} {
		if got := Contains(live, tc.want); got != tc.ok {
			t.Errorf("%s: Contains = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestHashIsStableAndSensitive(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"kind": "ConfigMap", "data": map[string]any{"a": "1", "b": "2"}}}
	h1, err := Hash(u)
	if err != nil {
		t.Fatal(err)
	}
	// Same content built in another order hashes the same (map keys are sorted).
	v := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"b": "2", "a": "1"}, "kind": "ConfigMap"}}
	if h2, _ := Hash(v); h2 != h1 {
		t.Fatalf("equal objects hash differently: %s vs %s", h1, h2)
	}
	// Dropping a field (which desired ⊆ live cannot see) changes the hash.
	delete(v.Object["data"].(map[string]any), "b")
	if h3, _ := Hash(v); h3 == h1 {
		t.Fatal("removing a field did not change the hash")
	}
}

func TestLastWrittenBy(t *testing.T) {
	at := func(s int) *metav1.Time { tm := metav1.NewTime(time.Unix(int64(1_800_000_000+s), 0)); return &tm }
	const us = "tenantgen/g/t"
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub string, tm *metav1.Time) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, Time: tm}
	}
	for _, tc := range []struct {
		name string
		mf   []metav1.ManagedFieldsEntry
		want bool
	}{
		{"only our apply", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationApply, "", at(0))}, true},
		{"our apply after a status write", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationApply, "", at(5)), entry("envoy-gateway", metav1.ManagedFieldsOperationUpdate, "status", at(3))}, true},
		{"a status write after our apply", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationApply, "", at(3)), entry("envoy-gateway", metav1.ManagedFieldsOperationUpdate, "status", at(5))}, false},
		{"a tie within the second", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationApply, "", at(3)), entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", at(3))}, false},
		{"an edit after our apply", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationApply, "", at(3)), entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", at(4))}, false},
		{"another pair's apply", []metav1.ManagedFieldsEntry{entry("tenantgen/g/other", metav1.ManagedFieldsOperationApply, "", at(3))}, false},
		{"our manager with an update only", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationUpdate, "", at(3))}, false},
		{"an entry without time", []metav1.ManagedFieldsEntry{entry(us, metav1.ManagedFieldsOperationApply, "", at(3)), entry("x", metav1.ManagedFieldsOperationUpdate, "", nil)}, false},
		{"no managed fields", nil, false},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{}}
		u.SetManagedFields(tc.mf)
		if got := LastWrittenBy(u, us); got != tc.want {
			t.Errorf("%s: LastWrittenBy = %v, want %v", tc.name, got, tc.want)
		}
	}
}
