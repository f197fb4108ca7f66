package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Prometheus metrics, served on the manager's metrics endpoint. Every series
// carries the GlobalTenantResource, so one noisy GTR is easy to find.
var (
	reconcileSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tenantgen_pair_reconcile_duration_seconds",
		Help:    "Time to render, apply and prune one GlobalTenantResource for one tenant.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"globaltenantresource"})
	renderSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tenantgen_render_duration_seconds",
		Help:    "Time to render one GlobalTenantResource for one tenant (templates only, no I/O).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
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
		Name: "tenantgen_inventory_writes_total", Help: "Writes of TenantInventories.",
	}, []string{"globaltenantresource"})
	deletionsBlocked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tenantgen_deletions_blocked", Help: "Deletions the deletion brake holds until approved.",
	}, []string{"globaltenantresource"})
)

// Gauges per GlobalTenantResource, set from the same tally as its status at
// every status reconcile (about once a second while tenants converge).
var (
	gtrReady         = gauge("tenantgen_ready", "1 when the GlobalTenantResource is Ready (every object applied and healthy), else 0.")
	tenantsSelected  = gauge("tenantgen_tenants_selected", "Tenants the tenantSelector matches.")
	tenantsReady     = gauge("tenantgen_tenants_ready", "Selected tenants whose objects are all applied for the current spec.")
	tenantsFailing   = gauge("tenantgen_tenants_failing", "Selected tenants whose last reconcile failed (render, apply, prune).")
	tenantsUnhealthy = gauge("tenantgen_tenants_unhealthy", "Selected tenants with at least one generated object that is not healthy.")
	objectsManaged   = gauge("tenantgen_objects_managed", "Objects in the GlobalTenantResource's inventories.")
	objectsUnhealthy = gauge("tenantgen_objects_unhealthy", "Generated objects that are not healthy (in progress or failed).")
	inventoryEntries = gauge("tenantgen_inventory_entries", "Entries of the GlobalTenantResource's TenantInventories as the cache has them.")
)

func gauge(name, help string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"globaltenantresource"})
}

var gauges = []*prometheus.GaugeVec{gtrReady, tenantsSelected, tenantsReady, tenantsFailing, tenantsUnhealthy,
	objectsManaged, objectsUnhealthy, inventoryEntries, deletionsBlocked}

func init() {
	metrics.Registry.MustRegister(reconcileSeconds, renderSeconds, renderTotal, applyTotal, skippedTotal, pruneTotal, errorTotal, inventoryWrites)
	for _, g := range gauges {
		metrics.Registry.MustRegister(g)
	}
}

// observe sets the gauges of a GlobalTenantResource.
func observe(gtr string, selected int, t tally, status *v1alpha1.GlobalTenantResourceStatus, invs map[string]*v1alpha1.TenantInventory) {
	ready := 0.0
	if meta.IsStatusConditionTrue(status.Conditions, v1alpha1.ConditionReady) {
		ready = 1
	}
	entries := 0
	for _, inv := range invs {
		entries += len(inv.Status.Entries)
	}
	gtrReady.WithLabelValues(gtr).Set(ready)
	tenantsSelected.WithLabelValues(gtr).Set(float64(selected))
	tenantsReady.WithLabelValues(gtr).Set(float64(t.ready))
	tenantsFailing.WithLabelValues(gtr).Set(float64(len(t.failing)))
	tenantsUnhealthy.WithLabelValues(gtr).Set(float64(t.unhealthyTenants))
	objectsManaged.WithLabelValues(gtr).Set(float64(t.managed))
	objectsUnhealthy.WithLabelValues(gtr).Set(float64(t.unhealthyObjects))
	inventoryEntries.WithLabelValues(gtr).Set(float64(entries))
}

// forgetMetrics drops the series of a GlobalTenantResource that is gone, so
// that no alert fires for it.
func forgetMetrics(gtr string) {
	for _, g := range gauges {
		g.DeleteLabelValues(gtr)
	}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{reconcileSeconds, renderSeconds, renderTotal, applyTotal, skippedTotal, pruneTotal, errorTotal, inventoryWrites} {
		v.DeletePartialMatch(prometheus.Labels{"globaltenantresource": gtr})
	}
}
