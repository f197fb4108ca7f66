package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// The store decides when the GlobalTenantResource's summary must be written
// again (record's changed) and when a problem deserves an Event (newProblem):
// both are writes, so both must be exact.
func TestStoreRecord(t *testing.T) {
	gtr := testGTR()
	ready := healthyInv(2)
	pending := inv(metav1.ConditionTrue, v1alpha1.ReasonReconciled, metav1.ConditionUnknown, 1, "Gateway s/gw: pending", 2)
	failed := inv(metav1.ConditionTrue, v1alpha1.ReasonReconciled, metav1.ConditionFalse, 1, "Gateway s/gw: Programmed=False", 2)
	steps := []struct {
		name                string
		o                   outcome
		changed, newProblem bool
	}{
		{"first outcome", outcome{inv: pending}, true, false},
		{"same again (a quiet resync)", outcome{inv: pending}, false, false},
		{"the Gateway is programmed", outcome{inv: ready}, true, false},
		{"the Gateway turns Programmed=False", outcome{inv: failed}, true, false},
		{"a render failure", outcome{inv: failed, reason: v1alpha1.ReasonRenderFailed, problem: "boom"}, true, true},
		{"the same failure again: no second Event", outcome{inv: failed, reason: v1alpha1.ReasonRenderFailed, problem: "boom"}, false, false},
		{"another failure", outcome{inv: failed, reason: v1alpha1.ReasonRenderFailed, problem: "bang"}, true, true},
		{"recovered", outcome{inv: ready}, true, false},
		{"inventory deleted", outcome{}, true, false},
	}
	s := newStore()
	for _, st := range steps {
		changed, fresh := s.record(gtr, "a", st.o)
		if changed != st.changed || fresh != st.newProblem {
			t.Errorf("%s: changed=%v newProblem=%v, want %v %v", st.name, changed, fresh, st.changed, st.newProblem)
		}
	}
	// A new generation makes an unchanged outcome change the summary: the
	// pair now counts as rendered for the new spec.
	s.record(gtr, "b", outcome{inv: ready})
	g2 := gtr.DeepCopy()
	g2.Generation++
	if changed, _ := s.record(g2, "b", outcome{inv: ready}); !changed {
		t.Error("a new generation must change the summary")
	}
	// A GlobalTenantResource recreated under the same name starts afresh.
	g3 := gtr.DeepCopy()
	g3.UID = types.UID("u2")
	if _, known := s.inventory(g3, "b"); known {
		t.Error("a new UID must not see the old state")
	}
}

func TestStoreSummaryCarriesHealth(t *testing.T) {
	gtr := testGTR()
	s := newStore()
	s.record(gtr, "a", outcome{inv: inv(metav1.ConditionTrue, "", metav1.ConditionFalse, 3, "Issuer s/i: Ready=False", 4)})
	p := s.summary(gtr)["a"]
	if p.size != 4 || p.health.unhealthy != 3 || p.health.status != metav1.ConditionFalse || p.health.message != "Issuer s/i: Ready=False" {
		t.Fatalf("summary %+v", p)
	}
}

// A pair in flight counts as known, so that the GTR reconcile does not queue
// it a second time, and keeps a finalizing GTR waiting.
func TestStoreInFlight(t *testing.T) {
	gtr := testGTR()
	s := newStore()
	all, known, _ := s.trigger(gtr)
	if !all || len(known) != 0 {
		t.Fatalf("first sight: all=%v known=%v", all, known)
	}
	s.begin(gtr, "a")
	if !s.busy(gtr) {
		t.Error("busy while a pair is in flight")
	}
	all, known, _ = s.trigger(gtr)
	if all || !known["a"] {
		t.Errorf("in flight: all=%v known=%v", all, known)
	}
	s.end(gtr, "a")
	if s.busy(gtr) {
		t.Error("not busy after end")
	}
}

// settledNow reports a GlobalTenantResource settled only when no pair is in
// flight and every selected tenant was reconciled for the current spec:
// that is when its Ready summary is written without the spacing. end
// reports only whether the last pair in flight ended.
func TestStoreSettled(t *testing.T) {
	gtr := testGTR()
	s := newStore()
	s.begin(gtr, "a")
	s.record(gtr, "a", outcome{inv: healthyInv(1)})
	if !s.end(gtr, "a") {
		t.Error("not idle after the only pair ended")
	}
	if s.settledNow(gtr) {
		t.Error("settled before the GTR reconcile queued its pairs")
	}
	s.trigger(gtr)
	s.setSelected(gtr, []string{"a", "b"})
	s.begin(gtr, "a")
	s.begin(gtr, "b")
	s.record(gtr, "a", outcome{inv: healthyInv(1)})
	if s.end(gtr, "a") {
		t.Error("idle while b is in flight")
	}
	s.record(gtr, "b", outcome{problem: "boom", reason: "ApplyFailed", inv: healthyInv(0)})
	if s.settledNow(gtr) {
		t.Error("settled while b is in flight")
	}
	if !s.end(gtr, "b") || !s.settledNow(gtr) {
		t.Error("not settled once a and b were reconciled for this generation (a failure counts)")
	}
	gtr.Generation++
	s.trigger(gtr)
	s.begin(gtr, "a")
	s.record(gtr, "a", outcome{inv: healthyInv(1)})
	if !s.end(gtr, "a") || s.settledNow(gtr) {
		t.Error("settled while b was reconciled only for the previous generation")
	}
	s.setSelected(gtr, []string{"a"})
	if !s.settledNow(gtr) {
		t.Error("not settled once b left the selection")
	}
	if !s.settled(gtr, []string{"a"}) || s.settled(gtr, []string{"a", "b"}) {
		t.Error("settled: the deletion brake's view differs from settledNow's")
	}

	// Scope None has one pair, the cluster's, whatever the selection.
	none := testGTR()
	none.Name, none.Spec.Scope = "cluster", v1alpha1.ScopeNone
	s.trigger(none)
	s.setSelected(none, []string{"a", "b"})
	s.begin(none, "")
	s.record(none, "", outcome{inv: healthyInv(1)})
	if !s.end(none, "") || !s.settledNow(none) {
		t.Error("scope None: not settled once the cluster's pair was reconciled")
	}
}

// A removed pair is remembered until the cache no longer lists its
// inventory: a run in between must find "removed", not the stale inventory.
func TestStoreSweep(t *testing.T) {
	gtr := testGTR()
	s := newStore()
	s.record(gtr, "gone", outcome{})
	s.record(gtr, "kept", outcome{inv: healthyInv(1)})
	stale := map[string]*v1alpha1.TenantInventory{"gone": healthyInv(3), "kept": healthyInv(1)}
	s.sweep(gtr, stale)
	if inv, known := s.inventory(gtr, "gone"); !known || inv != nil {
		t.Fatalf("while the cache lists it: known=%v inv=%v, want known and nil", known, inv)
	}
	if p := s.summary(gtr)["gone"]; !p.removed {
		t.Error("summary marks it removed")
	}
	if got := tallyPairs(gtr, []string{"gone"}, s.summary(gtr), stale); got.ready != 0 || got.pending != 1 {
		t.Errorf("a tenant back after its pair was removed is pending, got %+v", got)
	}
	s.sweep(gtr, map[string]*v1alpha1.TenantInventory{"kept": healthyInv(1)})
	if _, known := s.inventory(gtr, "gone"); known {
		t.Error("forgotten once the cache no longer lists it")
	}
	if _, known := s.inventory(gtr, "kept"); !known {
		t.Error("a live pair is never swept")
	}
}

// share keeps one copy of an inventory in memory, and only of the very
// write the pair last made: an older or a foreign copy must not replace it.
func TestStoreShare(t *testing.T) {
	gtr := testGTR()
	s := newStore()
	written := healthyInv(2)
	written.UID, written.ResourceVersion = "inv-1", "7"
	written.Spec.GlobalTenantResource, written.Spec.Tenant = gtr.Name, "a"
	s.record(gtr, "a", outcome{inv: written})
	check := func(name string, want *v1alpha1.TenantInventory) {
		t.Helper()
		if got, _ := s.inventory(gtr, "a"); got != want {
			t.Errorf("%s: the store holds %p, want %p", name, got, want)
		}
	}
	older := written.DeepCopy()
	older.ResourceVersion = "6"
	s.share(older)
	check("an older resourceVersion", written)
	other := written.DeepCopy()
	other.UID = "inv-0"
	s.share(other)
	check("an inventory of the same name with another uid", written)
	otherPair := written.DeepCopy()
	otherPair.Spec.Tenant = "b"
	s.share(otherPair)
	check("another tenant's inventory", written)
	if _, known := s.inventory(gtr, "b"); known {
		t.Error("share must not add a pair")
	}
	cached := written.DeepCopy()
	s.share(cached)
	check("the cache's copy of the same write", cached)
}
