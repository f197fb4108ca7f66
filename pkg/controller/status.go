package controller

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/inventory"
)

// maxListed bounds how many failing tenants the status names.
const maxListed = 5

// tally is what a GlobalTenantResource's status sums up from its pairs.
type tally struct {
	pairs, ready, pending int
	failing               []v1alpha1.TenantProblem
	managed               int
	// unhealthyTenants have at least one object that is not Current;
	// failedTenants among them have one that Failed.
	unhealthyTenants, failedHealth, unhealthyObjects int
	// firstUnhealthy names the first unhealthy tenant (a failed one before
	// one in progress) and its Healthy message.
	firstUnhealthy string
}

// tallyPairs sums up the pairs the scope produces (tenants in order): from
// what this process recorded, else from the inventory a previous process
// left (after a restart), so that a quiet restart stays Ready.
func tallyPairs(gtr *v1alpha1.GlobalTenantResource, tenants []string, sum map[string]pairSummary, invs map[string]*v1alpha1.TenantInventory) tally {
	t := tally{pairs: len(tenants), managed: managed(invs, sum)}
	key := triggerKey(gtr)
	firstInProgress := ""
	for _, name := range tenants {
		p, known := sum[name]
		inv := invs[name]
		if known && p.removed {
			// A tenant back after its pair was removed: not reconciled yet,
			// and what the cache may still list is the deleted inventory.
			known, inv = false, nil
		}
		var h pairHealth
		switch {
		case known:
			h = p.health
			switch {
			case p.problem != "":
				t.failing = append(t.failing, v1alpha1.TenantProblem{Tenant: name, Reason: p.reason, Message: truncate(p.problem, 300)})
			case p.key == key:
				t.ready++
			default:
				t.pending++ // not rendered for this spec yet
			}
		default:
			cond := (*metav1.Condition)(nil)
			if inv != nil {
				cond = meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionReady)
				h = healthOf(inv)
			}
			switch {
			case cond == nil || cond.Status == metav1.ConditionUnknown || cond.Reason == v1alpha1.ReasonProgressing:
				t.pending++ // e.g. an inventory written by recovery whose pair has not run yet
			case cond.Status == metav1.ConditionTrue:
				t.ready++
			default:
				t.failing = append(t.failing, v1alpha1.TenantProblem{Tenant: name, Reason: cond.Reason, Message: truncate(cond.Message, 300)})
			}
		}
		if h.unhealthy == 0 && h.status != metav1.ConditionFalse {
			continue
		}
		t.unhealthyTenants++
		t.unhealthyObjects += h.unhealthy
		first := fmt.Sprintf("tenant %s: %s", tenantLabel(name), h.message)
		if h.status == metav1.ConditionFalse {
			if t.failedHealth == 0 {
				t.firstUnhealthy = first
			}
			t.failedHealth++
		} else if firstInProgress == "" {
			firstInProgress = first
		}
	}
	if t.firstUnhealthy == "" {
		t.firstUnhealthy = firstInProgress
	}
	return t
}

func tenantLabel(name string) string {
	if name == "" {
		return "(cluster)"
	}
	return name
}

// conditions derives a GlobalTenantResource's conditions from its tally,
// following the kstatus convention so that kubectl wait, Flux and Argo CD
// read them: Ready says whether everything is applied and healthy, and why
// not; Reconciling is present (True) while the controller or the objects'
// own controllers are still at work; Stalled is present (True) when only a
// change by someone (the spec, tenant data, an approval, the object's
// controller) can help; Healthy sums up the objects' health; Cordoned is
// present only while cordoned. Absent types are removed by setConditions.
func conditions(gtr *v1alpha1.GlobalTenantResource, t tally, compileErr error, held heldDeletions) []metav1.Condition {
	gen := gtr.Generation
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen}
	}
	healthy := healthyCondition(t)
	healthy.ObservedGeneration = gen
	out := []metav1.Condition{healthy}
	notReady := func(reason, msg string, stalled bool) {
		out = append(out, cond(v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg))
		if stalled {
			out = append(out, cond(v1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg))
		} else {
			out = append(out, cond(v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg))
		}
	}
	switch {
	case compileErr != nil:
		notReady(v1alpha1.ReasonInvalidSpec, truncate(compileErr.Error(), 2000), true)
	case gtr.Spec.Cordoned:
		// Paused on purpose: neither at work nor stuck.
		out = append(out, cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonCordoned, "reconciliation is paused"),
			cond(v1alpha1.ConditionCordoned, metav1.ConditionTrue, v1alpha1.ReasonCordoned, "spec.cordoned is true: nothing is applied or pruned"))
	case held.blocked > 0:
		notReady(v1alpha1.ReasonDeletionsBlocked, blockedMessage(gtr.Name, held.blocked, held.limit), true)
	case len(t.failing) > 0:
		reason := v1alpha1.ReasonTenantsFailed
		if onlyWaiting(t.failing) {
			reason = v1alpha1.ReasonWaitingDependency
		}
		notReady(reason, failingMessage(gtr, t), reason == v1alpha1.ReasonTenantsFailed)
	case t.pending > 0:
		notReady(v1alpha1.ReasonProgressing, fmt.Sprintf("%d of %d tenants reconciled", t.pairs-t.pending, t.pairs), false)
	case healthy.Status == metav1.ConditionFalse:
		notReady(v1alpha1.ReasonUnhealthy, healthy.Message, true)
	case healthy.Status == metav1.ConditionUnknown:
		notReady(v1alpha1.ReasonHealthPending, healthy.Message, false)
	default:
		out = append(out, cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled,
			fmt.Sprintf("%d tenants reconciled, %d objects healthy", t.pairs, t.managed)))
	}
	return out
}

// healthyCondition: True when no tenant has an unhealthy object, False when
// one failed, Unknown while some are in progress. The message gives the
// counts and the first unhealthy tenant and object.
func healthyCondition(t tally) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionHealthy}
	switch {
	case t.unhealthyTenants == 0:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonHealthy
		c.Message = fmt.Sprintf("%d objects healthy", t.managed)
		return c
	case t.failedHealth > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUnhealthy
	default:
		c.Status, c.Reason = metav1.ConditionUnknown, v1alpha1.ReasonHealthPending
	}
	c.Message = truncate(fmt.Sprintf("%d objects not healthy in %d of %d tenants; first: %s", t.unhealthyObjects, t.unhealthyTenants, t.pairs, t.firstUnhealthy), 2000)
	return c
}

func onlyWaiting(failing []v1alpha1.TenantProblem) bool {
	for _, f := range failing {
		if f.Reason != v1alpha1.ReasonWaitingDependency {
			return false
		}
	}
	return true
}

func failingMessage(gtr *v1alpha1.GlobalTenantResource, t tally) string {
	var parts []string
	for i, f := range t.failing {
		if i == maxListed {
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %s", tenantLabel(f.Tenant), f.Message))
	}
	more := ""
	if len(t.failing) > maxListed {
		more = fmt.Sprintf("; the others: kubectl get tinv -l %s", inventory.Selector(gtr.Name))
	}
	return truncate(fmt.Sprintf("%d of %d tenants failed; %s%s", len(t.failing), t.pairs, strings.Join(parts, "; "), more), 4000)
}

// setConditions makes want the conditions of a status: transition times
// kept where the status did not change, types not in want removed.
func setConditions(conds *[]metav1.Condition, want []metav1.Condition) {
	keep := map[string]bool{}
	for _, c := range want {
		keep[c.Type] = true
		meta.SetStatusCondition(conds, c)
	}
	for _, c := range append([]metav1.Condition(nil), *conds...) {
		if !keep[c.Type] {
			meta.RemoveStatusCondition(conds, c.Type)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
