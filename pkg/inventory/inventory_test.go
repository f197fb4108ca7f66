package inventory

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/health"
)

func TestIDRoundTrip(t *testing.T) {
	for _, r := range []Ref{
		{GroupVersionKind: schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}, Namespace: "tenant-solar-system", Name: "tenant-solar-gateway"},
		{GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Name: "tenant-solar-system"},
		{GroupVersionKind: schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, Name: "a.b.c"},
		{GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Namespace: "ns", Name: "x"},
	} {
		e := Entry(r, "u", false)
		got, err := Parse(e)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if got != r {
			t.Errorf("Parse(Entry(%v)) = %v", r, got)
		}
	}
	for _, bad := range []v1alpha1.InventoryEntry{{ID: "a_b", Version: "v1"}, {ID: "ns__g_K", Version: "v1"}, {ID: "ns_n_g_", Version: "v1"}, {ID: "ns_n_g_K"}} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%+v) accepted a malformed entry", bad)
		}
	}
}

// The version is not part of the id: moving a kind to a new apiVersion keeps
// the entry (and its uid) instead of pruning and recreating the object.
func TestIDIgnoresVersion(t *testing.T) {
	a := Ref{GroupVersionKind: schema.GroupVersionKind{Group: "g", Version: "v1beta1", Kind: "K"}, Namespace: "n", Name: "x"}
	b := a
	b.Version = "v1"
	if a.ID() != b.ID() {
		t.Errorf("ids differ across versions: %s, %s", a.ID(), b.ID())
	}
}

func TestName(t *testing.T) {
	if got := Name("gw", "solar"); got != "gw.solar" {
		t.Errorf("Name = %q", got)
	}
	if got := Name("gw", ""); got != "gw" {
		t.Errorf("Name in scope None = %q", got)
	}
	long := Name(strings.Repeat("g", 63), strings.Repeat("t", 250))
	other := Name(strings.Repeat("g", 63), strings.Repeat("t", 249)+"u")
	if len(long) > validation.DNS1123SubdomainMaxLength || long == other {
		t.Errorf("long names must be valid and distinct: %q (%d), %q", long, len(long), other)
	}
	if errs := validation.IsDNS1123Subdomain(long); len(errs) > 0 {
		t.Errorf("%q: %v", long, errs)
	}
}

// One inventory at the maximum of objects a tenant may render stays far below
// the 256 KiB every object tenantgen writes must stay under, whatever the
// number of tenants.
func TestInventorySizeBound(t *testing.T) {
	gtr := &v1alpha1.GlobalTenantResource{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("g", 63), UID: types.UID(strings.Repeat("u", 36))}}
	inv := New(gtr, strings.Repeat("t", 63))
	for i := 0; i < 1000; i++ { // the CRD's bound on maxObjectsPerTenant and on entries
		r := Ref{GroupVersionKind: schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
			Namespace: strings.Repeat("n", 40), Name: strings.Repeat("x", 36) + strings.Repeat("0", 4)}
		r.Name = r.Name[:36] + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		inv.Status.Entries = append(inv.Status.Entries, Entry(r, types.UID(strings.Repeat("u", 36)), false))
	}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	per := len(b) / 1000
	t.Logf("inventory of 1,000 long-named entries: %d KiB (%d bytes per entry)", len(b)/1024, per)
	if len(b) > 256*1024 {
		t.Errorf("inventory is %d KiB, over 256 KiB", len(b)/1024)
	}
}

func TestNewIsOwnedAndGuarded(t *testing.T) {
	gtr := &v1alpha1.GlobalTenantResource{ObjectMeta: metav1.ObjectMeta{Name: "gw", UID: "uid-1"}}
	inv := New(gtr, "solar")
	if len(inv.OwnerReferences) != 1 || inv.OwnerReferences[0].UID != "uid-1" || inv.OwnerReferences[0].Kind != "GlobalTenantResource" {
		t.Errorf("owner references: %+v", inv.OwnerReferences)
	}
	if len(inv.Finalizers) != 1 || inv.Finalizers[0] != Finalizer {
		t.Errorf("finalizers: %v", inv.Finalizers)
	}
	if inv.Labels[v1alpha1.LabelGlobalTenantResource] != "gw" || inv.Labels[v1alpha1.LabelTenant] != "solar" {
		t.Errorf("labels: %v", inv.Labels)
	}
	if !Belongs(inv, "gw", "solar") || Belongs(inv, "gw.solar", "") {
		t.Error("Belongs confuses pairs")
	}
	if _, ok := New(gtr, "").Labels[v1alpha1.LabelTenant]; ok {
		t.Error("scope None inventory must not carry an empty tenant label")
	}
}

func TestRecord(t *testing.T) {
	gtr := &v1alpha1.GlobalTenantResource{ObjectMeta: metav1.ObjectMeta{Name: "gw", UID: "uid-1"}}
	gw := Ref{GroupVersionKind: schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}, Namespace: "ns", Name: "gw"}
	issuer := Ref{GroupVersionKind: schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}, Namespace: "ns", Name: "le"}

	// A first run that applied nothing knows nothing of health.
	inv := New(gtr, "solar")
	Record(inv, nil, 0, metav1.Condition{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonApplyFailed, ObservedGeneration: 4}, nil)
	ready, healthy := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReady), meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionHealthy)
	if ready == nil || ready.Reason != v1alpha1.ReasonApplyFailed || ready.ObservedGeneration != 0 {
		t.Errorf("Ready: %+v (an inventory has no generation to observe)", ready)
	}
	if healthy == nil || healthy.Status != metav1.ConditionUnknown || healthy.Reason != v1alpha1.ReasonNotApplied {
		t.Errorf("Healthy of a run that applied nothing: %+v", healthy)
	}

	// A run that applied: entries sorted, health from the summary.
	hs := &health.Summary{}
	hs.Add(gw.String(), health.Result{Status: health.Failed, Message: "not programmed"})
	hs.Add(issuer.String(), health.Result{Status: health.Current})
	Record(inv, []v1alpha1.InventoryEntry{Entry(issuer, "u2", false), Entry(gw, "u1", false)}, 1, Applied(2, 1), hs)
	if inv.Status.Size != 2 || inv.Status.Entries[0].ID != gw.ID() || inv.Status.PendingDeletions != 1 || inv.Status.Unhealthy != 1 {
		t.Errorf("status: %+v", inv.Status)
	}
	if ready := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReady); ready.Status != metav1.ConditionTrue || ready.Message != "2 objects applied; 1 no longer rendered wait for the deletion brake" {
		t.Errorf("Ready: %+v", ready)
	}
	if healthy := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionHealthy); healthy.Status != metav1.ConditionFalse {
		t.Errorf("Healthy: %+v", healthy)
	}

	// A later run without health keeps what the last one learnt.
	Record(inv, inv.Status.Entries, 0, Applied(2, 0), nil)
	if healthy := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionHealthy); healthy.Status != metav1.ConditionFalse || inv.Status.Unhealthy != 1 {
		t.Errorf("Healthy was not kept: %+v, unhealthy %d", healthy, inv.Status.Unhealthy)
	}
	if ready := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReady); ready.Message != "2 objects applied" {
		t.Errorf("Ready: %+v", ready)
	}
}
