// Package brake holds back mass deletions. A change to a GlobalTenantResource,
// to tenants or to their labels can make the controller prune many objects at
// once; when the deletions one change asks for exceed the limit, none of them
// happens until someone approves them.
//
// Pairs (GlobalTenantResource × tenant) never delete on their own: they Ask
// for the ids they want to delete and delete only what was Granted. The
// GlobalTenantResource's reconcile Decides for all its pairs at once, once
// the change has settled (no pair asked for a while and every selected pair
// has been reconciled for the current spec), so the total of one change is
// known before any of it is deleted.
//
// A Ledger is not safe for concurrent use; the controller guards it.
package brake

import (
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Defaults of spec.limits.maxDeletions: 10% of the inventory, never fewer
// than 10 objects, so that offboarding one tenant at a time is never held.
var (
	DefaultPercent = intstr.FromString("10%")
	DefaultFloor   = 10
)

// Settle is how long no pair must have asked before the pending deletions are
// decided: long enough for the pairs of one change to all ask (they are
// queued together), short enough that a single prune is not noticeably late.
const Settle = 500 * time.Millisecond

// Limit is the number of deletions one change may make without approval.
// total is the number of objects in the GlobalTenantResource's inventories.
func Limit(maxDeletions *intstr.IntOrString, total int) int {
	if maxDeletions == nil {
		n, _ := intstr.GetScaledValueFromIntOrPercent(&DefaultPercent, total, true)
		return max(n, DefaultFloor)
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(maxDeletions, total, true)
	if err != nil { // the CRD's pattern rejects such values; be safe anyway
		return DefaultFloor
	}
	return max(n, 0)
}

// ApproveCommand is the command that releases a GlobalTenantResource's held
// deletions, as the controller's messages and `tenantgen diff` print it.
func ApproveCommand(gtr string) string {
	return fmt.Sprintf("kubectl annotate tgr %s %s=true", gtr, v1alpha1.AnnotationApproveDeletions)
}

// Ledger is the state of one GlobalTenantResource's deletions.
type Ledger struct {
	pending map[string]map[string]bool // tenant -> ids waiting for a decision
	granted map[string]map[string]bool // tenant -> ids that may be deleted
	lastAsk time.Time
	blocked bool
	changed bool // the last Ask changed a request
}

// Ask records that a tenant wants to delete ids (all of them: a later Ask
// replaces an earlier one) and returns those it may delete now. The rest
// wait for Decide. An empty ids withdraws the tenant's request.
func (l *Ledger) Ask(tenant string, ids []string, now time.Time) (granted []string) {
	l.changed = false
	var waiting map[string]bool
	for _, id := range ids {
		if l.granted[tenant][id] {
			granted = append(granted, id)
			continue
		}
		if waiting == nil {
			waiting = map[string]bool{}
		}
		waiting[id] = true
	}
	if waiting == nil {
		delete(l.pending, tenant)
		return granted
	}
	l.changed = !sameSet(l.pending[tenant], waiting)
	if l.changed {
		l.lastAsk = now
	}
	if l.pending == nil {
		l.pending = map[string]map[string]bool{}
	}
	l.pending[tenant] = waiting
	return granted
}

// Changed reports whether the last Ask changed the tenant's request.
func (l *Ledger) Changed() bool { return l.changed }

// Done records that a tenant deleted ids (or no longer needs to).
func (l *Ledger) Done(tenant string, ids []string) {
	for _, id := range ids {
		delete(l.granted[tenant], id)
	}
	if len(l.granted[tenant]) == 0 {
		delete(l.granted, tenant)
	}
}

// Forget drops everything of a tenant (its pair is gone).
func (l *Ledger) Forget(tenant string) {
	delete(l.pending, tenant)
	delete(l.granted, tenant)
}

// Pending is the number of deletions waiting for a decision.
func (l *Ledger) Pending() int {
	n := 0
	for _, ids := range l.pending {
		n += len(ids)
	}
	return n
}

// PendingOf is the number of a tenant's deletions waiting for a decision.
func (l *Ledger) PendingOf(tenant string) int { return len(l.pending[tenant]) }

// Blocked reports whether the last decision held the pending deletions.
func (l *Ledger) Blocked() bool { return l.blocked && l.Pending() > 0 }

// Decision is the outcome of Decide.
type Decision struct {
	// Release are the tenants that may now delete: queue their pairs.
	Release []string
	// Wait, when positive, is how soon to decide again (the change has not settled).
	Wait time.Duration
	// Blocked is the number of deletions held because they exceed the limit.
	Blocked int
	// NewlyBlocked is true when this decision started holding deletions (worth an Event).
	NewlyBlocked bool
}

// Decide grants the pending deletions when they are within limit (or
// approved) and the change has settled; otherwise it holds them all.
// settled says whether every selected pair was reconciled for the current spec.
func (l *Ledger) Decide(now time.Time, limit int, settled, approved bool) Decision {
	total := l.Pending()
	if total == 0 {
		l.blocked = false
		return Decision{}
	}
	if !approved {
		if wait := Settle - now.Sub(l.lastAsk); wait > 0 {
			return Decision{Wait: wait, Blocked: l.blockedCount()}
		}
		if !settled {
			return Decision{Wait: Settle, Blocked: l.blockedCount()}
		}
		if total > limit {
			newly := !l.blocked
			l.blocked = true
			return Decision{Blocked: total, NewlyBlocked: newly}
		}
	}
	d := Decision{}
	if l.granted == nil {
		l.granted = map[string]map[string]bool{}
	}
	for tenant, ids := range l.pending {
		if l.granted[tenant] == nil {
			l.granted[tenant] = map[string]bool{}
		}
		for id := range ids {
			l.granted[tenant][id] = true
		}
		d.Release = append(d.Release, tenant)
	}
	sort.Strings(d.Release)
	l.pending = nil
	l.blocked = false
	return d
}

func (l *Ledger) blockedCount() int {
	if l.blocked {
		return l.Pending()
	}
	return 0
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range b {
		if !a[k] {
			return false
		}
	}
	return true
}
