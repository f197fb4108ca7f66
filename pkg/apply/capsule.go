package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	capsulev1beta2 "github.com/projectcapsule/capsule/api/v1beta2"
	capsulemeta "github.com/projectcapsule/capsule/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Migration from Capsule's own GlobalTenantResource (capsule.clastix.io/v1beta2):
// when a tenantgen GlobalTenantResource renders an object that Capsule's
// GlobalTenantResource of the same name created, tenantgen takes it over in place
// (same UID, nothing deleted or recreated) and from then on treats it as created
// by itself, so later prunes delete it.
//
// What Capsule v0.14.0 leaves on the objects it creates (measured in test/capsule):
//   - the labels projectcapsule.dev/created-by=replications and
//     projectcapsule.dev/managed-by=replications;
//   - an ownerReference to the GlobalTenantResource (no controller flag);
//   - an Apply field manager "<id>/<namespace>/<tenant>/<item>/...", where <id> is
//     the base-36 FNV-1a (64 bit) hash of "Cluster", a NUL byte and the
//     GlobalTenantResource's name, and an Update field manager
//     projectcapsule.dev/resource/controller for its label and ownerReference patches.
//
// When Capsule's GlobalTenantResource is deleted with pruningOnDelete: false,
// Capsule removes its ownerReference and its managed-by label and keeps the
// created-by label. An object that still has the ownerReference is therefore still
// managed by Capsule (and a garbage collector would delete it with the
// GlobalTenantResource): tenantgen refuses to take it over until Capsule let go.

// capsuleUpdateManager is the field manager of Capsule's metadata patches.
const capsuleUpdateManager = "projectcapsule.dev/resource/controller"

// CapsuleFieldOwnerID is the first path element of the field managers that Capsule's
// (cluster-scoped) GlobalTenantResource named gtr applies its objects with; test/capsule
// checks it against the real manager.
func CapsuleFieldOwnerID(gtr string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte("Cluster"))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(gtr))
	return strconv.FormatUint(h.Sum64(), 36)
}

// capsuleGTRRef reports whether an ownerReference points at a Capsule GlobalTenantResource.
func capsuleGTRRef(r metav1.OwnerReference) bool {
	return r.Kind == "GlobalTenantResource" && strings.HasPrefix(r.APIVersion, capsulev1beta2.GroupVersion.Group+"/")
}

// FromCapsule decides whether live was created by Capsule's GlobalTenantResource
// named gtr: ok when tenantgen may take it over now; a non-empty reason when a
// Capsule GlobalTenantResource still owns it. Neither for any other object
// (including one a Capsule GlobalTenantResource of another name created and let go).
func FromCapsule(live *unstructured.Unstructured, gtr string) (ok bool, reason string) {
	if live.GetLabels()[capsulemeta.CreatedByCapsuleLabel] != capsulemeta.ValueControllerReplications {
		return false, ""
	}
	prefix := CapsuleFieldOwnerID(gtr) + "/"
	applied := false
	for _, f := range live.GetManagedFields() {
		if strings.HasPrefix(f.Manager, prefix) {
			applied = true
		}
	}
	var owners []string
	for _, r := range live.GetOwnerReferences() {
		if capsuleGTRRef(r) {
			owners = append(owners, r.Name)
		}
	}
	switch {
	case len(owners) > 0 && (len(owners) > 1 || owners[0] != gtr):
		return false, fmt.Sprintf("it belongs to Capsule's GlobalTenantResource %s", strings.Join(owners, ", "))
	case len(owners) == 1:
		return false, fmt.Sprintf("Capsule's GlobalTenantResource %s still manages it (ownerReference); "+
			"delete that one with spec.pruningOnDelete: false and tenantgen takes the object over", gtr)
	case !applied:
		// Created by a Capsule GlobalTenantResource of another name: only
		// settings.adopt may take it.
		return false, ""
	}
	return true, ""
}

// takeOverPatch is the JSON patch that removes Capsule's marks from live: its
// labels, any leftover ownerReference to a Capsule GlobalTenantResource, and
// Capsule's field managers (its Apply entry is renamed to fieldManager), so that
// tenantgen owns the object alone. It fails if the object changed since live was read.
func takeOverPatch(live *unstructured.Unstructured, gtr, fieldManager string) ([]byte, error) {
	ops := []map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()}}
	labels := live.GetLabels()
	for _, k := range []string{capsulemeta.CreatedByCapsuleLabel, capsulemeta.NewManagedByCapsuleLabel, capsulemeta.ManagedByCapsuleLabel} {
		if labels[k] == capsulemeta.ValueControllerReplications {
			ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/labels/" + pointerEscape(k)})
		}
	}
	var refs []metav1.OwnerReference
	for _, r := range live.GetOwnerReferences() {
		if !capsuleGTRRef(r) {
			refs = append(refs, r)
		}
	}
	if len(refs) != len(live.GetOwnerReferences()) {
		if len(refs) == 0 {
			ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/ownerReferences"})
		} else {
			ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/ownerReferences", "value": refs})
		}
	}
	// Capsule's Apply entry becomes tenantgen's: tenantgen then owns exactly what
	// Capsule applied, so its next apply removes what it does not render itself.
	// Capsule's metadata Update entry goes (the patch removes what it owned).
	prefix := CapsuleFieldOwnerID(gtr) + "/"
	var kept []metav1.ManagedFieldsEntry
	renamed := false
	for _, f := range live.GetManagedFields() {
		switch {
		case strings.HasPrefix(f.Manager, prefix) && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" && !renamed:
			f.Manager, renamed = fieldManager, true
			kept = append(kept, f)
		case strings.HasPrefix(f.Manager, prefix) || f.Manager == capsuleUpdateManager:
		default:
			kept = append(kept, f)
		}
	}
	// An empty list would reset managedFields (the apiserver then gives every field
	// to "before-first-apply"), and entries without their field sets (a cache that
	// drops them) would wipe the ownership they record: leave them alone then.
	complete := len(kept) > 0
	for _, f := range kept {
		complete = complete && f.FieldsV1 != nil
	}
	if complete {
		ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/managedFields", "value": kept})
	}
	return json.Marshal(ops)
}

// pointerEscape escapes a map key for a JSON pointer (RFC 6901).
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// TakeOverFromCapsule removes Capsule's marks from live (see takeOverPatch) as
// fieldManager. The object keeps its UID; Apply then applies it as created.
func (a *Applier) TakeOverFromCapsule(ctx context.Context, live *unstructured.Unstructured, gtr, fieldManager string) error {
	patch, err := takeOverPatch(live, gtr, fieldManager)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(live.GroupVersionKind())
	u.SetNamespace(live.GetNamespace())
	u.SetName(live.GetName())
	if err := a.Client.Patch(ctx, u, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(fieldManager)); err != nil {
		return fmt.Errorf("taking over from Capsule's GlobalTenantResource %s: %w", gtr, err)
	}
	return nil
}
