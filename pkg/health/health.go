// Package health decides whether a generated object works: a Gateway its
// controller programmed, an Issuer cert-manager registered, a Deployment
// rolled out. It reads only the object (as the controller's watch delivers
// it), so computing health costs no request.
//
// Rules, first match wins:
//  1. spec.healthChecks of the GlobalTenantResource: CEL expressions for one
//     apiVersion and kind (see Compile);
//  2. built-in rules for kinds whose conditions kstatus does not read the
//     way their controllers mean them: Gateway API Gateways and routes, and
//     cert-manager Issuers, ClusterIssuers and Certificates;
//  3. kstatus (sigs.k8s.io/cli-utils/pkg/kstatus) for everything else: the
//     core workloads, and any object following the Ready/Reconciling/Stalled
//     convention; an object without status is Current.
package health

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Status is an object's health, in kstatus's words.
type Status string

const (
	// Current: the object does what it was applied for.
	Current Status = "Current"
	// InProgress: its controller has not finished (or not yet reported).
	InProgress Status = "InProgress"
	// Failed: its controller reports an error that waiting will not fix.
	Failed Status = "Failed"
)

// Result is the health of one object and why.
type Result struct {
	Status  Status
	Message string
}

// Healthy reports whether the object is Current.
func (r Result) Healthy() bool { return r.Status == Current }

// Rules assess objects: the compiled spec.healthChecks of one
// GlobalTenantResource in front of the built-in rules. The zero value and
// nil use the built-in rules only. Rules are immutable and safe for
// concurrent use.
type Rules struct {
	custom map[schema.GroupVersionKind]*check
}

// Assess returns the health of an object as the cluster has it.
func (r *Rules) Assess(u *unstructured.Unstructured) Result {
	if u == nil {
		return Result{Status: InProgress, Message: "not observed yet"}
	}
	if u.GetDeletionTimestamp() != nil {
		return Result{Status: InProgress, Message: "being deleted"}
	}
	gvk := u.GroupVersionKind()
	if r != nil {
		if c := r.custom[gvk]; c != nil {
			return c.assess(u)
		}
	}
	if rule := builtin[gvk.GroupKind()]; rule != nil {
		return rule(u)
	}
	res, err := kstatus.Compute(u)
	if err != nil {
		return Result{Status: InProgress, Message: "kstatus: " + err.Error()}
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return Result{Status: Current, Message: res.Message}
	case kstatus.FailedStatus:
		return Result{Status: Failed, Message: res.Message}
	default: // InProgress, Terminating, Unknown, NotFound
		return Result{Status: InProgress, Message: res.Message}
	}
}

const (
	gatewayGroup     = "gateway.networking.k8s.io"
	certManagerGroup = "cert-manager.io"
)

// builtin holds the rules for kinds whose health kstatus would misread:
// Gateway API objects report Accepted/Programmed/ResolvedRefs (and routes
// per parent), which kstatus ignores; cert-manager's Ready=False can mean
// "still issuing".
var builtin = map[schema.GroupKind]func(*unstructured.Unstructured) Result{
	{Group: gatewayGroup, Kind: "Gateway"}:           gateway,
	{Group: gatewayGroup, Kind: "HTTPRoute"}:         route,
	{Group: gatewayGroup, Kind: "GRPCRoute"}:         route,
	{Group: gatewayGroup, Kind: "TLSRoute"}:          route,
	{Group: gatewayGroup, Kind: "TCPRoute"}:          route,
	{Group: gatewayGroup, Kind: "UDPRoute"}:          route,
	{Group: certManagerGroup, Kind: "Issuer"}:        certManager,
	{Group: certManagerGroup, Kind: "ClusterIssuer"}: certManager,
	{Group: certManagerGroup, Kind: "Certificate"}:   certManager,
}

// condition is the part of a metav1.Condition the rules read.
type condition struct {
	status, reason, message string
	observedGeneration      int64
}

// conditionsAt returns the conditions at path by type.
func conditionsAt(u *unstructured.Unstructured, path ...string) map[string]condition {
	list, _, _ := unstructured.NestedSlice(u.Object, path...)
	return conditionsOf(list)
}

func conditionsOf(list []any) map[string]condition {
	out := make(map[string]condition, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		t, _ := m["type"].(string)
		c := condition{}
		c.status, _ = m["status"].(string)
		c.reason, _ = m["reason"].(string)
		c.message, _ = m["message"].(string)
		switch g := m["observedGeneration"].(type) {
		case int64:
			c.observedGeneration = g
		case float64:
			c.observedGeneration = int64(g)
		}
		out[t] = c
	}
	return out
}

// describe renders a condition for a message: Programmed=False (Invalid): text.
func describe(t string, c condition) string {
	s := t + "=" + c.status
	if c.reason != "" {
		s += " (" + c.reason + ")"
	}
	if c.message != "" {
		s += ": " + c.message
	}
	return s
}

// stale reports a condition written for an older generation of the object.
func stale(u *unstructured.Unstructured, c condition) bool {
	return c.observedGeneration != 0 && c.observedGeneration < u.GetGeneration()
}

// require checks conditions that must all be True. A False one fails the
// object unless its reason is one that means "not yet" (pending); a missing,
// Unknown or stale one is in progress.
func require(u *unstructured.Unstructured, conds map[string]condition, types []string, pending map[string]bool, prefix string) Result {
	var waiting []string
	for _, t := range types {
		c, ok := conds[t]
		switch {
		case !ok:
			waiting = append(waiting, t+" not reported yet")
		case stale(u, c):
			waiting = append(waiting, fmt.Sprintf("%s is for generation %d, not %d", t, c.observedGeneration, u.GetGeneration()))
		case c.status == "True":
		case c.status == "False" && !pending[c.reason]:
			return Result{Status: Failed, Message: prefix + describe(t, c)}
		default:
			waiting = append(waiting, describe(t, c))
		}
	}
	if len(waiting) > 0 {
		return Result{Status: InProgress, Message: prefix + strings.Join(waiting, "; ")}
	}
	return Result{Status: Current, Message: prefix + strings.Join(types, ", ") + " True"}
}

// gatewayPending are the reasons of a False Accepted or Programmed condition
// that say the Gateway's controller is still working on it (Gateway API:
// Pending; Envoy Gateway's older AddressNotAssigned while its Service waits).
var gatewayPending = map[string]bool{"Pending": true, "AddressNotAssigned": true}

// gateway: Accepted and Programmed True for the current generation.
func gateway(u *unstructured.Unstructured) Result {
	return require(u, conditionsAt(u, "status", "conditions"), []string{"Accepted", "Programmed"}, gatewayPending, "")
}

// route: every parent (Gateway) the route is attached to reports Accepted
// and ResolvedRefs True. A route no parent has reported on yet is in progress.
func route(u *unstructured.Unstructured) Result {
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	if len(parents) == 0 {
		return Result{Status: InProgress, Message: "no parent has reported on the route yet"}
	}
	worst := Result{Status: Current, Message: fmt.Sprintf("accepted by %d parents", len(parents))}
	for _, p := range parents {
		m, _ := p.(map[string]any)
		ref, _ := m["parentRef"].(map[string]any)
		name, _ := ref["name"].(string)
		list, _ := m["conditions"].([]any)
		r := require(u, conditionsOf(list), []string{"Accepted", "ResolvedRefs"}, gatewayPending, "parent "+name+": ")
		if rank(r.Status) > rank(worst.Status) {
			worst = r
		}
	}
	return worst
}

// certManager: Ready True. A Certificate being issued (Issuing=True) is in
// progress whatever Ready says, since Ready=False is how cert-manager marks
// a certificate that is not issued yet.
func certManager(u *unstructured.Unstructured) Result {
	conds := conditionsAt(u, "status", "conditions")
	if c, ok := conds["Issuing"]; ok && c.status == "True" {
		return Result{Status: InProgress, Message: describe("Issuing", c)}
	}
	return require(u, conds, []string{"Ready"}, nil, "")
}

// rank orders statuses from best to worst.
func rank(s Status) int {
	switch s {
	case Current:
		return 0
	case InProgress:
		return 1
	}
	return 2
}

// Worse reports whether a is worse than b (Failed > InProgress > Current).
func Worse(a, b Status) bool { return rank(a) > rank(b) }
