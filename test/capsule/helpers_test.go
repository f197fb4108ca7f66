package capsule_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	capsulev1beta2 "github.com/projectcapsule/capsule/api/v1beta2"
	"github.com/projectcapsule/capsule/pkg/api/rbac"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

var configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

var (
	runID = func() string {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	seq atomic.Int64
)

// uniq returns a name unique to this run and call, a valid DNS label.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%s%d", prefix, runID, seq.Add(1))
}

// obj parses one YAML manifest.
func obj(manifest string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	return u
}

// createTenant creates a Capsule Tenant with Capsule's own API types (no status:
// Capsule's Tenant controller writes it) and its namespaces, each with the
// ownerReference to the Tenant that Capsule's namespace webhook would add, which is
// how Capsule counts a namespace as the tenant's. Only the first namespace carries the
// capsule.clastix.io/tenant label, so tenantgen can know the others only from the
// status.namespaces Capsule fills.
func createTenant(ctx context.Context, name string, labels map[string]string, namespaces ...string) *capsulev1beta2.Tenant {
	GinkgoHelper()
	data, err := json.Marshal(map[string]any{"zone": "eu-" + name})
	Expect(err).NotTo(HaveOccurred())
	t := &capsulev1beta2.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: capsulev1beta2.TenantSpec{
			Owners: rbac.OwnerListSpec{{CoreOwnerSpec: rbac.CoreOwnerSpec{UserSpec: rbac.UserSpec{Kind: rbac.UserOwner, Name: name + "-owner"}}}},
			Data:   apiextensionsv1.JSON{Raw: data},
		},
	}
	Expect(k8s.Create(ctx, t)).To(Succeed())
	for i, ns := range namespaces {
		n := createOwnedNamespace(ctx, t, ns)
		if i == 0 {
			mergePatch(ctx, n, map[string]any{"metadata": map[string]any{"labels": map[string]any{"capsule.clastix.io/tenant": name}}})
		}
	}
	return t
}

// tenantObject reads a Tenant with Capsule's API types.
func tenantObject(ctx context.Context, name string) *capsulev1beta2.Tenant {
	GinkgoHelper()
	t := &capsulev1beta2.Tenant{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, t)).To(Succeed())
	return t
}

// createOwnedNamespace creates a namespace with the ownerReference to its Tenant
// (controller, blockOwnerDeletion) that Capsule's namespace webhook adds.
func createOwnedNamespace(ctx context.Context, t *capsulev1beta2.Tenant, name string) *corev1.Namespace {
	GinkgoHelper()
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{{
		APIVersion: capsulev1beta2.GroupVersion.String(), Kind: "Tenant", Name: t.Name, UID: t.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}}}
	Expect(k8s.Create(ctx, n)).To(Succeed())
	return n
}

// tenantNamespaces returns what Capsule wrote into a Tenant's status.namespaces.
func tenantNamespaces(ctx context.Context, name string) []string {
	GinkgoHelper()
	return tenantObject(ctx, name).Status.Namespaces
}

// get reads an object, or returns nil when it does not exist.
func get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	if client.IgnoreNotFound(err) != nil {
		Expect(err).NotTo(HaveOccurred())
	}
	if err != nil {
		return nil
	}
	return u
}

// mergePatch sends a JSON merge patch.
func mergePatch(ctx context.Context, o client.Object, patch map[string]any) {
	GinkgoHelper()
	b, err := json.Marshal(patch)
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Patch(ctx, o, client.RawPatch("application/merge-patch+json", b))).To(Succeed())
}

// ownerRefTo reports whether an object has an ownerReference to a Capsule GlobalTenantResource named name.
func ownerRefTo(u *unstructured.Unstructured, name string) bool {
	for _, r := range u.GetOwnerReferences() {
		if r.Kind == "GlobalTenantResource" && r.APIVersion == capsulev1beta2.GroupVersion.String() && r.Name == name {
			return true
		}
	}
	return false
}

// managers lists an object's field managers.
func managers(u *unstructured.Unstructured) []string {
	var out []string
	for _, f := range u.GetManagedFields() {
		out = append(out, f.Manager+"/"+string(f.Operation))
	}
	return out
}
