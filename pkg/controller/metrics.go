package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Prometheus metrics, served on the manager's metrics endpoint. Every series
// carries the GlobalTenantResource, so one noisy GTR is easy to find.
var (
	reconcileSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tenantgen_pair_reconcile_duration_seconds",
		Help:    "Time to render, apply and prune one GlobalTenantResource for one tenant.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"globaltenantresource"})
	renderTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgen_renders_total", Help: "Renders by result (ok, error).",
	}, []string{"globaltenantresource", "result"})
	applyTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgen_applies_total", Help: "Server-side applies sent.",
	}, []string{"globaltenantresource"})
	skippedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgen_skipped_writes_total", Help: "Objects not written because the live object already matched.",
	}, []string{"globaltenantresource"})
	pruneTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgen_prunes_total", Help: "Objects deleted or released because they are no longer rendered.",
	}, []string{"globaltenantresource"})
	errorTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgen_errors_total", Help: "Failed pair reconciles by stage (render, apply).",
	}, []string{"globaltenantresource", "stage"})
	inventoryWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgen_inventory_writes_total", Help: "Writes of TenantInventories (intents and outcomes).",
	}, []string{"globaltenantresource"})
	deletionsBlocked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tenantgen_deletions_blocked", Help: "Deletions the deletion brake holds until approved.",
	}, []string{"globaltenantresource"})
)

func init() {
	metrics.Registry.MustRegister(reconcileSeconds, renderTotal, applyTotal, skippedTotal, pruneTotal, errorTotal, inventoryWrites, deletionsBlocked)
}
