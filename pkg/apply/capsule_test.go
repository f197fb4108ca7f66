package apply

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// capsuleObject is an object as Capsule's GlobalTenantResource gtr leaves it.
func capsuleObject(gtr string, ownerRef bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("solar-prod")
	u.SetName("cm")
	u.SetResourceVersion("42")
	u.SetLabels(map[string]string{
		"projectcapsule.dev/created-by": "replications", "projectcapsule.dev/managed-by": "replications", "team": "solar",
	})
	refs := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "keep", UID: "d1"}}
	if ownerRef {
		refs = append(refs, metav1.OwnerReference{APIVersion: "capsule.clastix.io/v1beta2", Kind: "GlobalTenantResource", Name: gtr, UID: "g1"})
	}
	u.SetOwnerReferences(refs)
	fields := &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}
	u.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: CapsuleFieldOwnerID(gtr) + "/solar-prod/solar/0/generator-0-0/", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: fields},
		{Manager: "projectcapsule.dev/resource/controller", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: fields},
		{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: fields},
	})
	return u
}

func TestCapsuleFieldOwnerIDIsStableAndPerName(t *testing.T) {
	a, b := CapsuleFieldOwnerID("managed-envoy-gateway"), CapsuleFieldOwnerID("managed-envoy-gatewaz")
	if a == b || a != CapsuleFieldOwnerID("managed-envoy-gateway") {
		t.Fatalf("ids %q and %q", a, b)
	}
	// base 36 of a 64-bit hash: at most 13 characters of [0-9a-z].
	if len(a) == 0 || len(a) > 13 || strings.Trim(a, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
		t.Fatalf("id %q is not base 36", a)
	}
}

func TestFromCapsule(t *testing.T) {
	if ok, reason := FromCapsule(capsuleObject("gw", false), "gw"); !ok || reason != "" {
		t.Fatalf("released by Capsule's GTR of the same name: ok=%v reason=%q, want a take-over", ok, reason)
	}
	if ok, reason := FromCapsule(capsuleObject("gw", true), "gw"); ok || !strings.Contains(reason, "pruningOnDelete: false") {
		t.Fatalf("still owned by Capsule's GTR: ok=%v reason=%q, want a refusal that says what to do", ok, reason)
	}
	if ok, reason := FromCapsule(capsuleObject("other", true), "gw"); ok || !strings.Contains(reason, "belongs to Capsule's GlobalTenantResource other") {
		t.Fatalf("owned by another Capsule GTR: ok=%v reason=%q", ok, reason)
	}
	if ok, reason := FromCapsule(capsuleObject("other", false), "gw"); ok || reason != "" {
		t.Fatalf("created by a Capsule GTR of another name: ok=%v reason=%q, want neither (adopt decides)", ok, reason)
	}
	plain := capsuleObject("gw", false)
	plain.SetLabels(map[string]string{"team": "solar"})
	if ok, reason := FromCapsule(plain, "gw"); ok || reason != "" {
		t.Fatalf("an object without Capsule's created-by label: ok=%v reason=%q", ok, reason)
	}
}

func TestTakeOverPatchRemovesCapsulesMarksOnly(t *testing.T) {
	live := capsuleObject("gw", false)
	live.SetOwnerReferences(append(live.GetOwnerReferences(), metav1.OwnerReference{
		APIVersion: "capsule.clastix.io/v1beta2", Kind: "GlobalTenantResource", Name: "gw", UID: "g1"}))
	b, err := takeOverPatch(live, "gw", "tenantgen/gw/solar")
	if err != nil {
		t.Fatal(err)
	}
	var ops []map[string]any
	if err := json.Unmarshal(b, &ops); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, op := range ops {
		got[op["op"].(string)+" "+op["path"].(string)] = op["value"]
	}
	want := map[string]any{
		"test /metadata/resourceVersion":                         "42",
		"remove /metadata/labels/projectcapsule.dev~1created-by": nil,
		"remove /metadata/labels/projectcapsule.dev~1managed-by": nil,
		"replace /metadata/ownerReferences":                      []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "keep", "uid": "d1"}},
		"replace /metadata/managedFields": []any{
			map[string]any{"manager": "tenantgen/gw/solar", "operation": "Apply", "fieldsV1": map[string]any{"f:data": map[string]any{}}},
			map[string]any{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": map[string]any{"f:data": map[string]any{}}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("patch (-want +got):\n%s", d)
	}
}

func TestTakeOverPatchKeepsManagedFieldsItCannotRewriteWhole(t *testing.T) {
	live := capsuleObject("gw", false)
	mf := live.GetManagedFields()
	for i := range mf {
		mf[i].FieldsV1 = nil // as a cache that drops field sets holds it
	}
	live.SetManagedFields(mf)
	b, err := takeOverPatch(live, "gw", "tenantgen/gw/solar")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "managedFields") {
		t.Fatalf("patch %s rewrites managedFields without their field sets", b)
	}
}

func TestTakeOverPatchNeverResetsManagedFields(t *testing.T) {
	live := capsuleObject("gw", false)
	live.SetOwnerReferences(nil)
	live.SetManagedFields(live.GetManagedFields()[1:2]) // only Capsule's metadata Update
	b, err := takeOverPatch(live, "gw", "tenantgen/gw/solar")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "managedFields") {
		t.Fatalf("patch %s would reset managedFields", b)
	}
	if strings.Contains(string(b), "ownerReferences") {
		t.Fatalf("patch %s touches ownerReferences the object does not have", b)
	}
}
