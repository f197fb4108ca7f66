package faults_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

const specLabel = "tenantgen-test/spec"

var (
	tenantGVK = schema.GroupVersionKind{Group: "capsule.clastix.io", Version: "v1beta2", Kind: "Tenant"}
	runID     = func() string { b := make([]byte, 2); _, _ = rand.Read(b); return hex.EncodeToString(b) }()
	seq       atomic.Int64
)

func uniq(prefix string) string { return fmt.Sprintf("%s-%s%d", prefix, runID, seq.Add(1)) }

// createTenant creates a Tenant labelled for the spec with one namespace <t>-prod.
func createTenant(ctx context.Context, id, name string) {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name + "-prod", Labels: map[string]string{"capsule.clastix.io/tenant": name}}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	t := &unstructured.Unstructured{}
	t.SetGroupVersionKind(tenantGVK)
	t.SetName(name)
	t.SetLabels(map[string]string{specLabel: id})
	t.Object["spec"] = map[string]any{}
	Expect(k8s.Create(ctx, t)).To(Succeed())
	t.Object["status"] = testenv.TenantStatus(map[string]any{"namespaces": []any{name + "-prod"}})
	Expect(k8s.Status().Update(ctx, t)).To(Succeed())
}

// unselect removes a tenant's spec label, taking it out of the selector.
func unselect(ctx context.Context, name string) {
	GinkgoHelper()
	t := &unstructured.Unstructured{}
	t.SetGroupVersionKind(tenantGVK)
	t.SetName(name)
	Expect(k8s.Patch(ctx, t, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+specLabel+`":null}}}`)))).To(Succeed())
}

// configMapGTR renders, in Tenant scope, `per` ConfigMaps into <tenant>-prod.
func configMapGTR(ctx context.Context, id string, per int) {
	GinkgoHelper()
	items := ""
	for i := range per {
		items += fmt.Sprintf("\n        - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm%d, namespace: \"{{tenant.name}}-prod\"}, data: {n: \"%d\"}}", i, i)
	}
	g := &v1alpha1.GlobalTenantResource{}
	Expect(yaml.UnmarshalStrict([]byte(fmt.Sprintf(`
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: %s}
spec:
  scope: Tenant
  resyncPeriod: 1h
  tenantSelector: {matchLabels: {%s: %s}}
  limits: {maxDeletions: "100%%"}
  resources:
    - rawItems:%s
`, id, specLabel, id, items)), g)).To(Succeed())
	Expect(k8s.Create(ctx, g)).To(Succeed())
}

// ready waits until a GlobalTenantResource is Ready for its generation with n tenants.
func ready(ctx context.Context, name string, n int) {
	GinkgoHelper()
	Eventually(func(gm Gomega) {
		g := &v1alpha1.GlobalTenantResource{}
		gm.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, g)).To(Succeed())
		c := meta.FindStatusCondition(g.Status.Conditions, v1alpha1.ConditionReady)
		gm.Expect(c).NotTo(BeNil())
		gm.Expect(g.Status.ObservedGeneration).To(Equal(g.Generation))
		gm.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
		gm.Expect(g.Status.TenantCount).To(Equal(n))
	}).Should(Succeed())
}

// generated maps "<namespace>/<name>" of every ConfigMap carrying the
// GlobalTenantResource's label to its uid.
func generated(ctx context.Context, gtr string) map[string]types.UID {
	GinkgoHelper()
	list := &corev1.ConfigMapList{}
	Expect(k8s.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr})).To(Succeed())
	out := map[string]types.UID{}
	for _, cm := range list.Items {
		if cm.DeletionTimestamp.IsZero() {
			out[cm.Namespace+"/"+cm.Name] = cm.UID
		}
	}
	return out
}

// recorded maps "<namespace>/<name>" of every inventory entry to its uid
// (empty while unconfirmed).
func recorded(ctx context.Context, gtr string) map[string]types.UID {
	GinkgoHelper()
	list := &v1alpha1.TenantInventoryList{}
	Expect(k8s.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr})).To(Succeed())
	out := map[string]types.UID{}
	for _, inv := range list.Items {
		for _, e := range inv.Status.Entries {
			ref, err := inventory.Parse(e)
			Expect(err).NotTo(HaveOccurred())
			out[ref.Namespace+"/"+ref.Name] = e.UID
		}
	}
	return out
}

// expectNoOrphans checks that every object the GlobalTenantResource's label
// marks is listed in an inventory, by uid once recorded.
func expectNoOrphans(ctx context.Context, gtr string) {
	GinkgoHelper()
	rec := recorded(ctx, gtr)
	for key, uid := range generated(ctx, gtr) {
		got, ok := rec[key]
		Expect(ok).To(BeTrue(), "orphan: %s exists but no inventory lists it (inventories: %v)", key, keys(rec))
		if got != "" {
			Expect(got).To(Equal(uid), "%s: the inventory holds another uid", key)
		}
	}
}

// expectFindable checks what must hold at any moment, a kill included:
// every object the GlobalTenantResource's label marks is either listed in
// an inventory (by uid once recorded) or of a kind its status.generatedKinds
// lists, where a restarted controller looks for it. It returns how many are
// in no inventory: what only that search can find.
func expectFindable(ctx context.Context, gtr string) (unrecorded int) {
	GinkgoHelper()
	g := &v1alpha1.GlobalTenantResource{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: gtr}, g)).To(Succeed())
	rec := recorded(ctx, gtr)
	for key, uid := range generated(ctx, gtr) {
		got, ok := rec[key]
		if !ok {
			Expect(g.Status.GeneratedKinds).To(ContainElement("ConfigMap"), "orphan: %s is in no inventory and its kind is not recorded", key)
			unrecorded++
			continue
		}
		if got != "" {
			Expect(got).To(Equal(uid), "%s: the inventory holds another uid", key)
		}
	}
	return unrecorded
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gone waits until a GlobalTenantResource no longer exists.
func gone(ctx context.Context, name string) {
	GinkgoHelper()
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.GlobalTenantResource{}))
	}).Should(BeTrue())
}

func objMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
