// Package apply writes rendered objects with server-side apply and removes the
// ones no longer rendered. It decides, per object, whether a write is needed at
// all (a resync where nothing changed must send no writes), whether tenantgen
// may take the object (adopt), and how conflicts with other field managers are
// handled (force).
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

// AnnotationHash records a hash of what tenantgen last applied. Together with
// a field-by-field comparison against the live object it lets a resync skip
// writes: the comparison catches drift, the hash catches fields tenantgen
// stopped rendering (which a comparison of desired ⊆ live cannot see).
const AnnotationHash = v1alpha1.Group + "/applied-hash"

// maxFieldManager is the apiserver's limit on a field manager's length.
const maxFieldManager = 128

// FieldManager is the SSA field manager of one GlobalTenantResource × tenant,
// so that two tenants' renders can never silently overwrite each other.
func FieldManager(gtr, tenant string) string {
	m := "tenantgen/" + gtr
	if tenant != "" {
		m += "/" + tenant
	}
	if len(m) <= maxFieldManager {
		return m
	}
	sum := sha256.Sum256([]byte(m))
	return m[:maxFieldManager-17] + "-" + hex.EncodeToString(sum[:8])
}

// Applier writes objects. Client may impersonate a ServiceAccount; Live reads
// the current state (the controller's cache of generated objects, falling back
// to the API for objects the cache cannot see yet).
type Applier struct {
	Client client.Client
	Live   func(ctx context.Context, gvkObj *unstructured.Unstructured) (*unstructured.Unstructured, error)
}

// Request is one object to apply.
type Request struct {
	Object       render.Object
	FieldManager string
	// Previous is the object's inventory entry from the last reconcile, if any
	// (possibly without uid: an apply never confirmed).
	Previous *v1alpha1.InventoryEntry
	Adopt    bool
	Force    bool
}

// Result is what happened to one object.
type Result struct {
	UID       types.UID
	Ownership v1alpha1.Ownership
	// Written is false when the live object already was as rendered.
	Written bool
	// ResourceVersion is what the write returned (empty when not written).
	ResourceVersion string
	// Sent is true when the write request was sent, whatever its outcome:
	// a failed write may still have created the object.
	Sent bool
	Err  error
	// Live is the object as the cluster has it after Apply: what the write
	// returned, or the live object that made the write unnecessary. Its
	// status is what health is computed from. Read only.
	Live *unstructured.Unstructured
}

// Apply applies one object if it differs from the live one.
func (a *Applier) Apply(ctx context.Context, req Request) Result {
	desired := req.Object.DeepCopy()
	hash, err := Hash(desired)
	if err != nil {
		return Result{Err: err}
	}
	ann := desired.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationHash] = hash
	desired.SetAnnotations(ann)

	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(desired.GroupVersionKind())
	probe.SetNamespace(desired.GetNamespace())
	probe.SetName(desired.GetName())
	live, err := a.Live(ctx, probe)
	if err != nil {
		return Result{Err: fmt.Errorf("reading live object: %w", err)}
	}

	res := Result{Ownership: v1alpha1.OwnershipCreated}
	force := true
	if live != nil {
		res.UID = live.GetUID()
		switch {
		case req.Previous != nil && req.Previous.UID != "" && req.Previous.UID == live.GetUID():
			res.Ownership = v1alpha1.OwnershipCreated
			if req.Previous.Adopted {
				res.Ownership = v1alpha1.OwnershipAdopted
			}
		case managedBy(live, req.FieldManager) && onlyManager(live, req.FieldManager):
			// Ours, but the inventory has no uid for it yet (the controller
			// stopped between the apply and the inventory write, and found the
			// object by its labels): nobody else ever wrote it.
			res.Ownership = v1alpha1.OwnershipCreated
		case a.takeOver(ctx, live, req, &res):
			// Created by Capsule's GlobalTenantResource of the same name: now ours.
			if res.Err != nil {
				return res
			}
		case req.Adopt:
			res.Ownership = v1alpha1.OwnershipAdopted
		default:
			return Result{Err: fmt.Errorf("%s already exists and was not created by this GlobalTenantResource; set spec.settings.adopt to take it over", req.Object.Ref())}
		}
		// Created objects are always forced so manual edits are undone;
		// adopted ones only when the GlobalTenantResource says so.
		force = res.Ownership == v1alpha1.OwnershipCreated || req.Force
		if live.GetAnnotations()[AnnotationHash] == hash && managedBy(live, req.FieldManager) && Contains(live.Object, desired.Object) {
			res.Live = live
			return res
		}
	}
	opts := []client.ApplyOption{client.FieldOwner(req.FieldManager)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired), opts...); err != nil {
		return Result{Err: explain(err, req), Sent: true}
	}
	res.Sent = true
	res.UID, res.ResourceVersion = desired.GetUID(), desired.GetResourceVersion()
	res.Written = true
	res.Live = desired
	return res
}

// takeOver handles an object that Capsule's GlobalTenantResource of the same name
// created (see capsule.go). It returns false for any other object. When it returns
// true, res holds either the error or the take-over (ownership Created).
func (a *Applier) takeOver(ctx context.Context, live *unstructured.Unstructured, req Request, res *Result) bool {
	gtr := req.Object.GetLabels()[v1alpha1.LabelGlobalTenantResource]
	ok, reason := FromCapsule(live, gtr)
	switch {
	case reason != "":
		res.Err = fmt.Errorf("%s was created by Capsule and cannot be taken over: %s", req.Object.Ref(), reason)
	case ok:
		// The patch is a write: if the apply after it fails, the object is already
		// tenantgen's alone (Capsule's Apply entry now carries req.FieldManager), and
		// the next reconcile finds it as created.
		res.Err = a.TakeOverFromCapsule(ctx, live, gtr, req.FieldManager)
		res.Ownership, res.Sent = v1alpha1.OwnershipCreated, true
	default:
		return false
	}
	return true
}

// explain turns apply errors into messages that say what to do.
func explain(err error, req Request) error {
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s: %v; set spec.settings.force to take the fields over", req.Object.Ref(), err)
	case apierrors.IsNotFound(err) && req.Object.GetNamespace() != "":
		return fmt.Errorf("%s: target namespace %q does not exist and is not rendered: %v", req.Object.Ref(), req.Object.GetNamespace(), err)
	}
	return fmt.Errorf("%s: %w", req.Object.Ref(), err)
}

// Delete removes an object tenantgen created. The UID precondition makes sure
// a same-named object that replaced ours is never deleted. An entry without
// uid (an apply never confirmed, or an object found by its labels after a
// restart) is deleted only when the live object was written by fieldManager
// alone, i.e. created by us.
func (a *Applier) Delete(ctx context.Context, e v1alpha1.InventoryEntry, fieldManager string) error {
	ref, err := inventory.Parse(e)
	if err != nil {
		return err
	}
	uid := e.UID
	if uid == "" {
		live, err := a.Live(ctx, ref.Object())
		if apierrors.IsForbidden(err) {
			// Every apply reads the object first through the same check, so
			// an object the controller may not read was never applied by it.
			return nil
		}
		if err != nil || live == nil {
			return err
		}
		if !managedBy(live, fieldManager) || !onlyManager(live, fieldManager) {
			return nil // never ours: the apply that would have created it found it
		}
		uid = live.GetUID()
	}
	err = a.Client.Delete(ctx, ref.Object(), client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		// UID mismatch: the object was replaced by someone else; leave it.
		return nil
	}
	return err
}

// Release gives back an adopted object: an empty apply drops every field
// tenantgen owns (its labels and annotations included) and leaves the rest.
func (a *Applier) Release(ctx context.Context, e v1alpha1.InventoryEntry, fieldManager string) error {
	ref, err := inventory.Parse(e)
	if err != nil {
		return err
	}
	err = a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(ref.Object()), client.FieldOwner(fieldManager), client.ForceOwnership)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	return err
}

// Unmark removes tenantgen's labels and hash annotation and leaves the object
// (pruningOnDelete: false).
func (a *Applier) Unmark(ctx context.Context, e v1alpha1.InventoryEntry) error {
	ref, err := inventory.Parse(e)
	if err != nil {
		return err
	}
	patch := map[string]any{"metadata": map[string]any{
		"labels":      map[string]any{v1alpha1.LabelGlobalTenantResource: nil, v1alpha1.LabelTenant: nil},
		"annotations": map[string]any{AnnotationHash: nil},
	}}
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	err = a.Client.Patch(ctx, ref.Object(), client.RawPatch(types.MergePatchType, b))
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	return err
}

// Hash is a stable digest of an object (encoding/json sorts map keys).
func Hash(u *unstructured.Unstructured) (string, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// CreatedBy reports whether manager applied the object and no other manager
// wrote it: what Delete requires before it deletes the object of an entry
// without uid. `tenantgen diff` uses it to predict that decision.
func CreatedBy(live *unstructured.Unstructured, manager string) bool {
	return managedBy(live, manager) && onlyManager(live, manager)
}

func managedBy(live *unstructured.Unstructured, manager string) bool {
	for _, f := range live.GetManagedFields() {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// LastWrittenBy reports whether manager's apply is the newest write of the
// object: its managedFields entry is strictly newer than every other one.
// The entries' times have one-second resolution, so a tie answers false.
// The controller uses it to recognise the watch event of its own apply
// when that event arrives before the apply's response.
func LastWrittenBy(o metav1.Object, manager string) bool {
	var ours *metav1.Time
	for _, f := range o.GetManagedFields() {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" {
			ours = f.Time
		}
	}
	if ours == nil {
		return false
	}
	for _, f := range o.GetManagedFields() {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" {
			continue
		}
		if f.Time == nil || !ours.After(f.Time.Time) {
			return false
		}
	}
	return true
}

// onlyManager reports whether every write to the object's main resource came
// from manager (status writes by the object's own controller do not count).
func onlyManager(live *unstructured.Unstructured, manager string) bool {
	for _, f := range live.GetManagedFields() {
		if f.Manager != manager && f.Subresource == "" {
			return false
		}
	}
	return true
}

// Contains reports whether every field of want is present in have with the
// same value: the live object satisfies the desired one. Lists must have the
// same length and match element by element; fields the server added (defaults,
// status, metadata) are ignored. A null in want matches an absent field.
//
// What the apiserver writes back in another spelling of the same value counts
// as the same, or every resync would write such objects again: an empty list
// or map it dropped (omitempty, e.g. a NetworkPolicy's `ingress: []`), and a
// resource quantity in canonical form (`cpu: 0.5` is stored as "500m",
// `memory: 1024Mi` as "1Gi", `pods: 10` as "10").
func Contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return have == nil && len(w) == 0
		}
		for k, wv := range w {
			hv, present := h[k]
			if !present {
				if empty(wv) {
					continue
				}
				return false
			}
			if !Contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return have == nil && len(w) == 0
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !Contains(h[i], w[i]) {
				return false
			}
		}
		return true
	case int64:
		switch h := have.(type) {
		case int64:
			return h == w
		case float64:
			return h == float64(w)
		case string:
			return sameQuantity(h, strconv.FormatInt(w, 10))
		}
		return false
	case float64:
		switch h := have.(type) {
		case float64:
			return h == w
		case int64:
			return float64(h) == w
		case string:
			return sameQuantity(h, strconv.FormatFloat(w, 'f', -1, 64))
		}
		return false
	case string:
		h, ok := have.(string)
		// Only the canonical spelling of the desired quantity matches, so an
		// edit of a plain string field is still seen as drift.
		return ok && (h == w || sameQuantity(h, w))
	case nil:
		return have == nil
	default:
		return have == want
	}
}

// empty reports whether a desired value says nothing an absent field does not:
// null, an empty map or an empty list.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// sameQuantity reports whether have is how the apiserver writes the resource
// quantity want.
func sameQuantity(have, want string) bool {
	q, err := resource.ParseQuantity(want)
	return err == nil && q.String() == have
}
