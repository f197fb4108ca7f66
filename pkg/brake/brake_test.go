package brake

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestLimit(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	for _, c := range []struct {
		name  string
		max   *intstr.IntOrString
		total int
		want  int
	}{
		{"default, small inventory: the floor", nil, 30, 10},
		{"default, large inventory: 10 %", nil, 3000, 300},
		{"default rounds up", nil, 1001, 101},
		{"explicit integer", num(5), 3000, 5},
		{"explicit zero: every deletion needs approval", num(0), 3000, 0},
		{"explicit percentage has no floor", pct("1%"), 300, 3},
		{"100 %", pct("100%"), 42, 42},
	} {
		if got := Limit(c.max, c.total); got != c.want {
			t.Errorf("%s: Limit(%v, %d) = %d, want %d", c.name, c.max, c.total, got, c.want)
		}
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A deletion within the limit is granted once the change settled, not before.
func TestSmallDeletionIsGrantedAfterSettling(t *testing.T) {
	var l Ledger
	if got := l.Ask("a", []string{"x", "y"}, t0); len(got) != 0 {
		t.Fatalf("granted %v before any decision", got)
	}
	if d := l.Decide(t0.Add(Settle/2), 10, true, false); len(d.Release) != 0 || d.Wait <= 0 {
		t.Fatalf("decided before the change settled: %+v", d)
	}
	if d := l.Decide(t0.Add(Settle), 10, false, false); len(d.Release) != 0 || d.Wait <= 0 {
		t.Fatalf("decided while pairs were still rendering: %+v", d)
	}
	d := l.Decide(t0.Add(Settle), 10, true, false)
	if len(d.Release) != 1 || d.Release[0] != "a" || d.Blocked != 0 {
		t.Fatalf("want tenant a released, got %+v", d)
	}
	if got := l.Ask("a", []string{"x", "y"}, t0.Add(2*Settle)); len(got) != 2 {
		t.Fatalf("want both ids granted, got %v", got)
	}
	l.Done("a", []string{"x", "y"})
	if got := l.Ask("a", []string{"x"}, t0.Add(3*Settle)); len(got) != 0 {
		t.Fatalf("a grant was used twice: %v", got)
	}
}

// The deletions of one change are summed over tenants: above the limit, none
// is granted, and an approval releases exactly what was pending.
func TestMassDeletionIsHeldUntilApproved(t *testing.T) {
	var l Ledger
	for i, tenant := range []string{"a", "b", "c", "d"} {
		l.Ask(tenant, []string{"1", "2", "3"}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	at := t0.Add(time.Second)
	d := l.Decide(at, 10, true, false)
	if len(d.Release) != 0 || d.Blocked != 12 || !d.NewlyBlocked || !l.Blocked() {
		t.Fatalf("want 12 deletions held, got %+v", d)
	}
	if d := l.Decide(at.Add(time.Second), 10, true, false); !l.Blocked() || d.NewlyBlocked || d.Blocked != 12 {
		t.Fatalf("a held decision must stay held and not be new again: %+v", d)
	}
	for _, tenant := range []string{"a", "b"} {
		if got := l.Ask(tenant, []string{"1", "2", "3"}, at.Add(2*time.Second)); len(got) != 0 {
			t.Fatalf("tenant %s may delete while held: %v", tenant, got)
		}
	}
	d = l.Decide(at.Add(2*time.Second), 10, false, true)
	if len(d.Release) != 4 || l.Pending() != 0 || l.Blocked() {
		t.Fatalf("approval must release all four tenants: %+v, pending %d", d, l.Pending())
	}
	// A later change starts from zero: the approval does not carry over.
	l.Ask("e", []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}, at.Add(3*time.Second))
	if d := l.Decide(at.Add(4*time.Second), 10, true, false); d.Blocked != 11 {
		t.Fatalf("a new mass deletion after an approval must be held: %+v", d)
	}
}

// Withdrawing a deletion (the tenant is rendered again) lowers the total, so a
// held change that shrinks within the limit goes through.
func TestWithdrawnDeletionsUnblock(t *testing.T) {
	var l Ledger
	l.Ask("a", []string{"1", "2", "3", "4", "5", "6"}, t0)
	l.Ask("b", []string{"1", "2", "3", "4", "5", "6"}, t0)
	if d := l.Decide(t0.Add(time.Second), 10, true, false); d.Blocked != 12 {
		t.Fatalf("want held, got %+v", d)
	}
	l.Ask("b", nil, t0.Add(2*time.Second))
	if l.Pending() != 6 {
		t.Fatalf("pending = %d after b withdrew, want 6", l.Pending())
	}
	d := l.Decide(t0.Add(3*time.Second), 10, true, false)
	if len(d.Release) != 1 || d.Release[0] != "a" || l.Blocked() {
		t.Fatalf("want a released, got %+v", d)
	}
}

// Offboarding tenants one at a time never reaches the default floor.
func TestOneTenantAtATimeIsNeverHeld(t *testing.T) {
	var l Ledger
	now := t0
	for i := 0; i < 50; i++ {
		tenant := string(rune('a' + i%26))
		l.Ask(tenant, []string{"gateway", "proxy", "issuer"}, now)
		now = now.Add(Settle)
		d := l.Decide(now, Limit(nil, 3*(50-i)), true, false)
		if d.Blocked != 0 || len(d.Release) != 1 {
			t.Fatalf("offboarding %d: %+v", i, d)
		}
		granted := l.Ask(tenant, []string{"gateway", "proxy", "issuer"}, now)
		l.Done(tenant, granted)
	}
}
