package controller

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Table tests of the condition logic, in the style of cert-manager's
// sync_test.go: each case gives the pairs as the store and the inventories
// know them, and the conditions the GlobalTenantResource must carry.

func testGTR() *v1alpha1.GlobalTenantResource {
	return &v1alpha1.GlobalTenantResource{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", UID: types.UID("u1"), Generation: 3},
	}
}

// inv builds an inventory with a Ready and a Healthy condition.
func inv(ready metav1.ConditionStatus, readyReason string, healthy metav1.ConditionStatus, unhealthy int, healthMsg string, entries int) *v1alpha1.TenantInventory {
	i := &v1alpha1.TenantInventory{}
	i.Status.Conditions = []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: ready, Reason: readyReason},
		{Type: v1alpha1.ConditionHealthy, Status: healthy, Reason: "x", Message: healthMsg},
	}
	i.Status.Unhealthy = unhealthy
	for n := 0; n < entries; n++ {
		i.Status.Entries = append(i.Status.Entries, v1alpha1.InventoryEntry{ID: "ns_n_" + string(rune('a'+n)) + "_ConfigMap", Version: "v1", UID: "u"})
	}
	return i
}

func healthyInv(entries int) *v1alpha1.TenantInventory {
	return inv(metav1.ConditionTrue, v1alpha1.ReasonReconciled, metav1.ConditionTrue, 0, "ok", entries)
}

// cond is the expected state of one condition type; absent means the
// condition must not be there.
type cond struct {
	status  metav1.ConditionStatus
	reason  string
	message string // substring
	absent  bool
}

func TestConditions(t *testing.T) {
	gtr := testGTR()
	key := triggerKey(gtr)
	ok := func(entries int) pairSummary {
		return pairSummary{key: key, size: entries, health: healthOf(healthyInv(entries))}
	}
	cases := map[string]struct {
		tenants    []string
		sum        map[string]pairSummary
		invs       map[string]*v1alpha1.TenantInventory
		compileErr error
		held       heldDeletions
		cordoned   bool
		want       map[string]cond
		tally      func(*testing.T, tally)
	}{
		"everything applied and healthy": {
			tenants: []string{"a", "b"},
			sum:     map[string]pairSummary{"a": ok(2), "b": ok(3)},
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionTrue, reason: v1alpha1.ReasonReconciled, message: "2 tenants reconciled, 5 objects healthy"},
				v1alpha1.ConditionHealthy:     {status: metav1.ConditionTrue, reason: v1alpha1.ReasonHealthy, message: "5 objects healthy"},
				v1alpha1.ConditionReconciling: {absent: true},
				v1alpha1.ConditionStalled:     {absent: true},
				v1alpha1.ConditionCordoned:    {absent: true},
			},
		},
		"a Gateway waiting for its controller": {
			tenants: []string{"a", "b"},
			sum: map[string]pairSummary{"a": ok(2), "b": {key: key, size: 2, health: healthOf(
				inv(metav1.ConditionTrue, v1alpha1.ReasonReconciled, metav1.ConditionUnknown, 1, "1 of 2 objects not healthy (1 in progress): Gateway s/gw: Programmed=Unknown (Pending)", 2))}},
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionFalse, reason: v1alpha1.ReasonHealthPending},
				v1alpha1.ConditionReconciling: {status: metav1.ConditionTrue, reason: v1alpha1.ReasonHealthPending},
				v1alpha1.ConditionStalled:     {absent: true},
				v1alpha1.ConditionHealthy: {status: metav1.ConditionUnknown, reason: v1alpha1.ReasonHealthPending,
					message: "1 objects not healthy in 1 of 2 tenants; first: tenant b: 1 of 2 objects not healthy (1 in progress): Gateway s/gw"},
			},
		},
		"a failed object is named before one in progress": {
			tenants: []string{"a", "b"},
			sum: map[string]pairSummary{
				"a": {key: key, size: 1, health: healthOf(inv(metav1.ConditionTrue, "", metav1.ConditionUnknown, 1, "Gateway a/gw: pending", 1))},
				"b": {key: key, size: 2, health: healthOf(inv(metav1.ConditionTrue, "", metav1.ConditionFalse, 2, "Gateway b/gw: Programmed=False (Invalid)", 2))},
			},
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionFalse, reason: v1alpha1.ReasonUnhealthy},
				v1alpha1.ConditionStalled:     {status: metav1.ConditionTrue, reason: v1alpha1.ReasonUnhealthy},
				v1alpha1.ConditionReconciling: {absent: true},
				v1alpha1.ConditionHealthy: {status: metav1.ConditionFalse, reason: v1alpha1.ReasonUnhealthy,
					message: "3 objects not healthy in 2 of 2 tenants; first: tenant b: Gateway b/gw: Programmed=False (Invalid)"},
			},
			tally: func(t *testing.T, got tally) {
				if got.unhealthyTenants != 2 || got.unhealthyObjects != 3 || got.failedHealth != 1 {
					t.Errorf("tally %+v", got)
				}
			},
		},
		"a template that does not compile stalls": {
			tenants:    []string{"a"},
			compileErr: errors.New("resources[0].generators[0]: template: unexpected EOF"),
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionFalse, reason: v1alpha1.ReasonInvalidSpec, message: "unexpected EOF"},
				v1alpha1.ConditionStalled:     {status: metav1.ConditionTrue, reason: v1alpha1.ReasonInvalidSpec},
				v1alpha1.ConditionReconciling: {absent: true},
			},
		},
		"a failing tenant stalls and is named": {
			tenants: []string{"a", "b"},
			sum:     map[string]pairSummary{"a": ok(1), "b": {key: key, reason: v1alpha1.ReasonRenderFailed, problem: "render failed: spec.data.acme.email is required"}},
			want: map[string]cond{
				v1alpha1.ConditionReady:   {status: metav1.ConditionFalse, reason: v1alpha1.ReasonTenantsFailed, message: "1 of 2 tenants failed; b: render failed: spec.data.acme.email is required"},
				v1alpha1.ConditionStalled: {status: metav1.ConditionTrue, reason: v1alpha1.ReasonTenantsFailed},
			},
		},
		"waiting for a dependency is progress, not a stall": {
			tenants: []string{"a"},
			sum:     map[string]pairSummary{"a": {key: key, reason: v1alpha1.ReasonWaitingDependency, problem: "waiting for globaltenantresource \"base\" to be Ready"}},
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionFalse, reason: v1alpha1.ReasonWaitingDependency},
				v1alpha1.ConditionReconciling: {status: metav1.ConditionTrue, reason: v1alpha1.ReasonWaitingDependency},
				v1alpha1.ConditionStalled:     {absent: true},
			},
		},
		"a tenant not rendered for the new spec is progressing": {
			tenants: []string{"a", "b"},
			sum:     map[string]pairSummary{"a": ok(1), "b": {key: "2/", size: 1, health: healthOf(healthyInv(1))}},
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionFalse, reason: v1alpha1.ReasonProgressing, message: "1 of 2 tenants reconciled"},
				v1alpha1.ConditionReconciling: {status: metav1.ConditionTrue, reason: v1alpha1.ReasonProgressing},
			},
		},
		"after a restart the inventories tell how pairs were left": {
			tenants: []string{"a", "b", "c"},
			invs: map[string]*v1alpha1.TenantInventory{
				"a": healthyInv(2),
				"b": inv(metav1.ConditionFalse, v1alpha1.ReasonApplyFailed, metav1.ConditionTrue, 0, "", 1),
				"c": inv(metav1.ConditionFalse, v1alpha1.ReasonProgressing, metav1.ConditionUnknown, 0, "", 0),
			},
			want: map[string]cond{
				v1alpha1.ConditionReady:   {status: metav1.ConditionFalse, reason: v1alpha1.ReasonTenantsFailed, message: "1 of 3 tenants failed"},
				v1alpha1.ConditionHealthy: {status: metav1.ConditionTrue, message: "3 objects healthy"},
			},
			tally: func(t *testing.T, got tally) {
				if got.ready != 1 || got.pending != 1 || len(got.failing) != 1 || got.managed != 3 {
					t.Errorf("tally %+v", got)
				}
			},
		},
		"held deletions stall until approved": {
			tenants: []string{"a"},
			sum:     map[string]pairSummary{"a": ok(1)},
			held:    heldDeletions{pending: 30, blocked: 30, limit: 10},
			want: map[string]cond{
				v1alpha1.ConditionReady:   {status: metav1.ConditionFalse, reason: v1alpha1.ReasonDeletionsBlocked, message: "kubectl annotate tgr gw addons.projectcapsule.dev/approve-deletions=true"},
				v1alpha1.ConditionStalled: {status: metav1.ConditionTrue, reason: v1alpha1.ReasonDeletionsBlocked, message: "30 deletions are held"},
			},
		},
		"cordoned is neither progress nor a stall": {
			tenants:  []string{"a"},
			sum:      map[string]pairSummary{"a": ok(1)},
			cordoned: true,
			want: map[string]cond{
				v1alpha1.ConditionReady:       {status: metav1.ConditionFalse, reason: v1alpha1.ReasonCordoned},
				v1alpha1.ConditionCordoned:    {status: metav1.ConditionTrue, reason: v1alpha1.ReasonCordoned},
				v1alpha1.ConditionReconciling: {absent: true},
				v1alpha1.ConditionStalled:     {absent: true},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := gtr.DeepCopy()
			g.Spec.Cordoned = tc.cordoned
			sum := tc.sum
			if sum == nil {
				sum = map[string]pairSummary{}
			}
			got := tallyPairs(g, tc.tenants, sum, tc.invs)
			if tc.tally != nil {
				tc.tally(t, got)
			}
			conds := conditions(g, got, tc.compileErr, tc.held)
			for typ, w := range tc.want {
				c := meta.FindStatusCondition(conds, typ)
				switch {
				case w.absent && c != nil:
					t.Errorf("%s: want absent, got %s %s %q", typ, c.Status, c.Reason, c.Message)
				case w.absent:
				case c == nil:
					t.Errorf("%s: missing", typ)
				case c.Status != w.status || (w.reason != "" && c.Reason != w.reason) || !strings.Contains(c.Message, w.message):
					t.Errorf("%s: got %s %s %q, want %s %s containing %q", typ, c.Status, c.Reason, c.Message, w.status, w.reason, w.message)
				case c.ObservedGeneration != g.Generation:
					t.Errorf("%s: observedGeneration %d, want %d", typ, c.ObservedGeneration, g.Generation)
				}
			}
		})
	}
}

// setConditions keeps the transition time of a condition whose status did
// not change and removes the abnormal-true types that no longer apply.
func TestSetConditions(t *testing.T) {
	old := metav1.NewTime(metav1.Now().Add(-3600e9))
	conds := []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "Progressing", LastTransitionTime: old},
		{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: "Progressing", LastTransitionTime: old},
		{Type: v1alpha1.ConditionHealthy, Status: metav1.ConditionTrue, Reason: "Healthy", LastTransitionTime: old},
	}
	setConditions(&conds, []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Reconciled"},
		{Type: v1alpha1.ConditionHealthy, Status: metav1.ConditionTrue, Reason: "Healthy", Message: "2 objects healthy"},
	})
	if meta.FindStatusCondition(conds, v1alpha1.ConditionReconciling) != nil {
		t.Error("Reconciling must be removed")
	}
	if r := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); r.LastTransitionTime.Equal(&old) {
		t.Error("Ready changed status: its transition time must move")
	}
	if h := meta.FindStatusCondition(conds, v1alpha1.ConditionHealthy); !h.LastTransitionTime.Equal(&old) || h.Message != "2 objects healthy" {
		t.Errorf("Healthy kept its status: transition time must stay, message must update: %+v", h)
	}
}

// Flux (and kubectl-style tools built on kstatus) read a GlobalTenantResource
// with kstatus: its conditions must make kstatus say Current when Ready,
// InProgress while reconciling and Failed when stalled.
func TestConditionsReadByKstatus(t *testing.T) {
	gtr := testGTR()
	key := triggerKey(gtr)
	cases := map[string]struct {
		sum  map[string]pairSummary
		err  error
		want kstatus.Status
	}{
		"ready":   {sum: map[string]pairSummary{"a": {key: key, size: 1, health: healthOf(healthyInv(1))}}, want: kstatus.CurrentStatus},
		"pending": {sum: map[string]pairSummary{"a": {key: "1/", size: 1}}, want: kstatus.InProgressStatus},
		"health pending": {sum: map[string]pairSummary{"a": {key: key, size: 1, health: healthOf(
			inv(metav1.ConditionTrue, "", metav1.ConditionUnknown, 1, "Gateway s/gw: pending", 1))}}, want: kstatus.InProgressStatus},
		"object failed": {sum: map[string]pairSummary{"a": {key: key, size: 1, health: healthOf(
			inv(metav1.ConditionTrue, "", metav1.ConditionFalse, 1, "Gateway s/gw: Programmed=False", 1))}}, want: kstatus.FailedStatus},
		"invalid spec": {err: errors.New("template: unexpected EOF"), want: kstatus.FailedStatus},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := gtr.DeepCopy()
			if tc.sum == nil {
				tc.sum = map[string]pairSummary{}
			}
			g.Status.ObservedGeneration = g.Generation
			g.Status.Conditions = conditions(g, tallyPairs(g, []string{"a"}, tc.sum, nil), tc.err, heldDeletions{})
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g)
			if err != nil {
				t.Fatal(err)
			}
			res, err := kstatus.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil || res.Status != tc.want {
				t.Fatalf("kstatus says %v (%v), want %s", res, err, tc.want)
			}
		})
	}
}
