package controller_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gomegatypes "github.com/onsi/gomega/types"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

// Kinds the specs read.
var (
	configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	gatewayGVK   = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}
	httpRouteGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
	envoyGVK     = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "EnvoyProxy"}
	issuerGVK    = schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}
	tenantGVK    = schema.GroupVersionKind{Group: "capsule.clastix.io", Version: "v1beta2", Kind: "Tenant"}
)

// Labels of the fixtures.
const (
	// specLabel on a Tenant lets a spec's GlobalTenantResources select only its own tenants.
	specLabel  = "tenantgen-test/spec"
	routeLabel = "projectcapsule.dev/tenant"
	tenantNS   = "capsule.clastix.io/tenant"
)

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

// create creates a YAML manifest (fmt.Sprintf'd with args) with the tests' client.
func create(ctx context.Context, format string, args ...any) *unstructured.Unstructured {
	GinkgoHelper()
	u := obj(fmt.Sprintf(format, args...))
	Expect(k8s.Create(ctx, u)).To(Succeed())
	return u
}

// createNamespace creates a namespace with labels (key, value, key, value...).
func createNamespace(ctx context.Context, name string, kv ...string) {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		ns.Labels[kv[i]] = kv[i+1]
	}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
}

// relabelNamespace sets (value != "") or removes (value == "") one label of a namespace.
func relabelNamespace(ctx context.Context, name, key, value string) {
	GinkgoHelper()
	var v any = value
	if value == "" {
		v = nil
	}
	mergePatch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, map[string]any{
		"metadata": map[string]any{"labels": map[string]any{key: v}},
	}, "tenantgen-test")
}

// tenantFixture describes a Capsule Tenant and its namespaces.
type tenantFixture struct {
	name   string
	labels map[string]string
	data   map[string]any
	// namespaces are created labelled capsule.clastix.io/tenant=<name> plus nsLabels[ns].
	namespaces []string
	nsLabels   map[string]map[string]string
	// system creates tenant-<name>-system (not a tenant namespace).
	system bool
}

// createTenant creates the namespaces, then the Tenant with its status
// (namespaces, size, state) written through the status subresource, as Capsule
// would. The Tenant is deleted when the spec ends.
func createTenant(ctx context.Context, f tenantFixture) *unstructured.Unstructured {
	GinkgoHelper()
	if f.system {
		createNamespace(ctx, "tenant-"+f.name+"-system")
	}
	for _, ns := range f.namespaces {
		kv := []string{tenantNS, f.name}
		for k, v := range f.nsLabels[ns] {
			kv = append(kv, k, v)
		}
		createNamespace(ctx, ns, kv...)
	}
	t := &unstructured.Unstructured{}
	t.SetGroupVersionKind(tenantGVK)
	t.SetName(f.name)
	t.SetLabels(f.labels)
	spec := map[string]any{}
	if f.data != nil {
		spec["data"] = f.data
	}
	t.Object["spec"] = spec
	Expect(k8s.Create(ctx, t)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, t))).To(Succeed())
	})
	nss := make([]any, len(f.namespaces))
	for i, ns := range f.namespaces {
		nss[i] = ns
	}
	t.Object["status"] = testenv.TenantStatus(map[string]any{"namespaces": nss})
	Expect(k8s.Status().Update(ctx, t)).To(Succeed())
	return t
}

// patchTenant merge-patches a Tenant.
func patchTenant(ctx context.Context, name string, patch map[string]any) {
	GinkgoHelper()
	t := &unstructured.Unstructured{}
	t.SetGroupVersionKind(tenantGVK)
	t.SetName(name)
	mergePatch(ctx, t, patch, "tenantgen-test")
}

// mergePatch sends a JSON merge patch as fieldManager.
func mergePatch(ctx context.Context, o client.Object, patch map[string]any, fieldManager string) {
	GinkgoHelper()
	b, err := json.Marshal(patch)
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Patch(ctx, o, client.RawPatch(types.MergePatchType, b), client.FieldOwner(fieldManager))).To(Succeed())
}

// gtrFrom decodes a GlobalTenantResource manifest.
func gtrFrom(manifest string) *v1alpha1.GlobalTenantResource {
	GinkgoHelper()
	g := &v1alpha1.GlobalTenantResource{}
	Expect(yaml.UnmarshalStrict([]byte(manifest), g)).To(Succeed())
	return g
}

// sampleGTRs decodes every GlobalTenantResource of a file under samples/.
func sampleGTRs(file string) []*v1alpha1.GlobalTenantResource {
	GinkgoHelper()
	root, err := testenv.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	b, err := os.ReadFile(filepath.Join(root, "samples", file))
	Expect(err).NotTo(HaveOccurred())
	var out []*v1alpha1.GlobalTenantResource
	for _, doc := range manifest.Split(string(b)) {
		out = append(out, gtrFrom(doc.Text))
	}
	return out
}

// createGTR creates a GlobalTenantResource and, when the spec ends, deletes it
// and waits until its finalizer ran (so that no spec leaves work behind).
func createGTR(ctx context.Context, g *v1alpha1.GlobalTenantResource) *v1alpha1.GlobalTenantResource {
	GinkgoHelper()
	Expect(k8s.Create(ctx, g)).To(Succeed())
	name := g.Name
	DeferCleanup(func(ctx SpecContext) { deleteGTR(ctx, name) })
	return g
}

// deleteGTR deletes a GlobalTenantResource and waits until it is gone. If the
// controller cannot finalize it in time, the finalizer is removed by hand and
// the spec fails.
func deleteGTR(ctx context.Context, name string) {
	GinkgoHelper()
	g := &v1alpha1.GlobalTenantResource{ObjectMeta: metav1.ObjectMeta{Name: name}}
	err := k8s.Delete(ctx, g)
	if apierrors.IsNotFound(err) {
		return
	}
	Expect(err).NotTo(HaveOccurred())
	gone := func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, g)) }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if gone() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	mergePatch(ctx, g, map[string]any{"metadata": map[string]any{"finalizers": nil}}, "tenantgen-test")
	Fail(fmt.Sprintf("GlobalTenantResource %s was not finalized within 10s", name))
}

// getGTR reads a GlobalTenantResource.
func getGTR(ctx context.Context, name string) *v1alpha1.GlobalTenantResource {
	GinkgoHelper()
	g := &v1alpha1.GlobalTenantResource{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, g)).To(Succeed())
	return g
}

// patchGTR merge-patches a GlobalTenantResource.
func patchGTR(ctx context.Context, name string, patch map[string]any) {
	GinkgoHelper()
	mergePatch(ctx, &v1alpha1.GlobalTenantResource{ObjectMeta: metav1.ObjectMeta{Name: name}}, patch, "tenantgen-test")
}

// condition returns a condition of a GlobalTenantResource whose status
// describes its current generation, or nil.
func condition(g *v1alpha1.GlobalTenantResource, typ string) *metav1.Condition {
	if g.Status.ObservedGeneration != g.Generation {
		return nil
	}
	return meta.FindStatusCondition(g.Status.Conditions, typ)
}

// eventuallyReady waits until the GlobalTenantResource is Ready for its current generation.
func eventuallyReady(ctx context.Context, name string, timeout ...time.Duration) *v1alpha1.GlobalTenantResource {
	GinkgoHelper()
	to := 5 * time.Second
	if len(timeout) > 0 {
		to = timeout[0]
	}
	var g *v1alpha1.GlobalTenantResource
	Eventually(func(gm Gomega) {
		g = &v1alpha1.GlobalTenantResource{}
		gm.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, g)).To(Succeed())
		c := condition(g, v1alpha1.ConditionReady)
		gm.Expect(c).NotTo(BeNil(), "no Ready condition for generation %d", g.Generation)
		gm.Expect(c.Status).To(Equal(metav1.ConditionTrue), "Ready: %s: %s", c.Reason, c.Message)
	}).WithTimeout(to).Should(Succeed())
	return g
}

// eventuallyNotReady waits until Ready is False with a message containing every substring.
func eventuallyNotReady(ctx context.Context, name, reason string, substrings ...string) *v1alpha1.GlobalTenantResource {
	GinkgoHelper()
	var g *v1alpha1.GlobalTenantResource
	Eventually(func(gm Gomega) {
		g = &v1alpha1.GlobalTenantResource{}
		gm.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, g)).To(Succeed())
		c := condition(g, v1alpha1.ConditionReady)
		gm.Expect(c).NotTo(BeNil())
		gm.Expect(c.Status).To(Equal(metav1.ConditionFalse), "Ready: %s: %s", c.Reason, c.Message)
		gm.Expect(c.Reason).To(Equal(reason), c.Message)
		for _, s := range substrings {
			gm.Expect(c.Message).To(ContainSubstring(s))
		}
	}).Should(Succeed())
	return g
}

// getObj reads an object; it returns nil when it does not exist.
func getObj(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	if apierrors.IsNotFound(err) {
		return nil
	}
	Expect(err).NotTo(HaveOccurred())
	return u
}

// eventuallyObj waits until an object exists and satisfies check (if given).
func eventuallyObj(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, check ...func(Gomega, *unstructured.Unstructured)) *unstructured.Unstructured {
	GinkgoHelper()
	var u *unstructured.Unstructured
	Eventually(func(g Gomega) {
		u = &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)).To(Succeed())
		for _, c := range check {
			c(g, u)
		}
	}).Should(Succeed(), "%s %s/%s", gvk.Kind, namespace, name)
	return u
}

// eventuallyGone waits until an object does not exist.
func eventuallyGone(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) {
	GinkgoHelper()
	Eventually(func() bool {
		return getObj(ctx, gvk, namespace, name) == nil
	}).Should(BeTrue(), "%s %s/%s still exists", gvk.Kind, namespace, name)
}

// hasData returns a check that a ConfigMap's data[key] is value.
func hasData(key, value string) func(Gomega, *unstructured.Unstructured) {
	return func(g Gomega, u *unstructured.Unstructured) {
		v, _, _ := unstructured.NestedString(u.Object, "data", key)
		g.Expect(v).To(Equal(value), "data.%s of %s/%s", key, u.GetNamespace(), u.GetName())
	}
}

// item is one inventory entry as the specs look at it.
type item struct {
	inventory.Ref
	Tenant    string
	UID       types.UID
	Ownership v1alpha1.Ownership
	// Ready and Message are those of the tenant's inventory: objects have no
	// state of their own in the compact inventory.
	Ready   bool
	Message string
}

// inventories lists a GlobalTenantResource's TenantInventories.
func inventories(ctx context.Context, gtr string) []v1alpha1.TenantInventory {
	GinkgoHelper()
	list := &v1alpha1.TenantInventoryList{}
	Expect(k8s.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: gtr})).To(Succeed())
	return list.Items
}

// items returns every inventory entry of a GlobalTenantResource, sorted by tenant and id.
func items(ctx context.Context, gtr string) []item {
	GinkgoHelper()
	var out []item
	for _, inv := range inventories(ctx, gtr) {
		ready := meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionReady)
		msg := ""
		if c := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			msg = c.Message
		}
		for _, e := range inv.Status.Entries {
			ref, err := inventory.Parse(e)
			Expect(err).NotTo(HaveOccurred())
			own := v1alpha1.OwnershipCreated
			if e.Adopted {
				own = v1alpha1.OwnershipAdopted
			}
			out = append(out, item{Ref: ref, Tenant: inv.Spec.Tenant, UID: e.UID, Ownership: own, Ready: ready, Message: msg})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Tenant < out[j].Tenant })
	return out
}

// itemsOf returns the inventory entries of one tenant.
func itemsOf(ctx context.Context, gtr, tenantName string) []item {
	GinkgoHelper()
	var out []item
	for _, it := range items(ctx, gtr) {
		if it.Tenant == tenantName {
			out = append(out, it)
		}
	}
	return out
}

// findItem returns the inventory entry of an object, or nil.
func findItem(ctx context.Context, gtr, kind, namespace, name string) *item {
	GinkgoHelper()
	for _, it := range items(ctx, gtr) {
		if it.Kind == kind && it.Namespace == namespace && it.Name == name {
			return &it
		}
	}
	return nil
}

// inventoriedTenants returns the tenants that have an inventory, sorted.
func inventoriedTenants(ctx context.Context, gtr string) []string {
	GinkgoHelper()
	var out []string
	for _, inv := range inventories(ctx, gtr) {
		out = append(out, inv.Spec.Tenant)
	}
	sort.Strings(out)
	return out
}

// listenerHostnames returns the hostnames of a Gateway's HTTPS listeners, sorted.
func listenerHostnames(gw *unstructured.Unstructured) []string {
	ls, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	var out []string
	for _, l := range ls {
		m, _ := l.(map[string]any)
		if m["protocol"] == "HTTPS" {
			h, _ := m["hostname"].(string)
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

// metricValue sums the series of a tenantgen metric for one GlobalTenantResource
// (and, when given, matching label=value pairs).
func metricValue(name, gtr string, kv ...string) float64 {
	GinkgoHelper()
	labels := map[string]string{"globaltenantresource": gtr}
	for i := 0; i+1 < len(kv); i += 2 {
		labels[kv[i]] = kv[i+1]
	}
	return metricSum(name, labels)
}

// metricSum sums the series of a metric of the controller's registry (the
// one its /metrics endpoint serves) that carry the given labels: counter and
// gauge values, histogram sample counts; -1 when no series matches.
func metricSum(name string, labels map[string]string) float64 {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	sum, found := 0.0, false
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			found = true
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if !found {
		return -1
	}
	return sum
}

// settledRenders waits until a GlobalTenantResource's render count stops moving
// (the renders that follow its own writes are over) and returns it.
func settledRenders(gtr string) float64 {
	GinkgoHelper()
	var v float64
	Eventually(func() bool {
		v = metricValue("tenantgen_renders_total", gtr)
		time.Sleep(300 * time.Millisecond)
		return metricValue("tenantgen_renders_total", gtr) == v
	}).Should(BeTrue())
	return v
}

// eventuallyEvent waits for an Event about a GlobalTenantResource with the
// given type and reason whose note contains every substring.
func eventuallyEvent(ctx context.Context, gtr, typ, reason string, substrings ...string) {
	GinkgoHelper()
	Eventually(func(gm Gomega) {
		var list eventsv1.EventList
		gm.Expect(k8s.List(ctx, &list)).To(Succeed())
		var notes []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "GlobalTenantResource" && e.Regarding.Name == gtr && e.Type == typ && e.Reason == reason {
				notes = append(notes, e.Note)
			}
		}
		gm.Expect(notes).To(ContainElement(SatisfyAll(func() []gomegatypes.GomegaMatcher {
			var ms []gomegatypes.GomegaMatcher
			for _, sub := range substrings {
				ms = append(ms, ContainSubstring(sub))
			}
			return ms
		}()...)), "%s events %s for %s", typ, reason, gtr)
	}).Should(Succeed())
}
