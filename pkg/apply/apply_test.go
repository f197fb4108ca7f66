package apply

import (
	"strings"
	"testing"

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
