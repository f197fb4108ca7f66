package testenv

import (
	"time"
)

// TenantStatus completes a Tenant status the way Capsule's Tenant controller writes it,
// for suites that run without a Capsule manager and write the status themselves:
// Capsule's CRD requires conditions, size and state, and a condition requires type,
// status, reason, message and lastTransitionTime. Fields already set are kept; the
// result is a copy.
func TenantStatus(status map[string]any) map[string]any {
	out := make(map[string]any, len(status)+3)
	for k, v := range status {
		out[k] = v
	}
	if _, ok := out["state"]; !ok {
		out["state"] = "Active"
	}
	if _, ok := out["size"]; !ok {
		nss, _ := out["namespaces"].([]any)
		out["size"] = int64(len(nss))
	}
	if _, ok := out["conditions"]; !ok {
		out["conditions"] = []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "Succeeded",
			"message":            "reconciled (written by the test, in place of Capsule)",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}
	}
	return out
}
