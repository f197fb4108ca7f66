package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/connection"
	"github.com/projectcapsule/tenantgen/pkg/decoder"
)

// ManagerOptions configure the process around the controller.
type ManagerOptions struct {
	Options
	// MetricsAddr serves Prometheus metrics ("0" disables).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables).
	ProbeAddr string
	// LeaderElection lets several replicas run with one active.
	LeaderElection          bool
	LeaderElectionNamespace string
	// QPS and Burst bound the controller's requests to the apiserver. client-go's
	// default of 5 QPS would take minutes to converge a thousand tenants.
	QPS   float32
	Burst int
}

// Scheme is the scheme of the controller's typed objects.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// managerSource is where the manager's own cache watches, once *mgr is set.
func managerSource(mgr *manager.Manager) func() decoder.Source {
	return func() decoder.Source {
		m := *mgr
		return decoder.Source{Config: m.GetConfig(), HTTPClient: m.GetHTTPClient(), Mapper: m.GetRESTMapper(), Scheme: m.GetScheme()}
	}
}

// NewManager builds a controller-runtime manager running the tenantgen controller.
func NewManager(ctx context.Context, cfg *rest.Config, o ManagerOptions) (manager.Manager, *Controller, error) {
	cfg = rest.CopyConfig(cfg)
	if o.QPS > 0 {
		cfg.QPS, cfg.Burst = o.QPS, max(o.Burst, int(o.QPS))
	}
	// While the apiserver is unreachable, requests wait in the dial instead of
	// failing into client-go's growing backoff, so that the informers are
	// back within a quarter second of the apiserver (see package connection).
	if cfg.Dial == nil {
		d := &connection.Dialer{Log: ctrl.Log.WithName("apiserver")}
		cfg.Dial = d.DialContext
	}
	var mgr manager.Manager
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: Scheme(),
		Cache: cache.Options{
			// Nothing reads the managedFields of tenants, namespaces, context
			// objects or inventories; at a thousand tenants they were a third of
			// the cache.
			DefaultTransform: cache.TransformStripManagedFields(),
			NewInformer:      decoder.NewInformer(managerSource(&mgr), nil),
		},
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.ProbeAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "tenantgen." + v1alpha1.Group,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// Leases are released on shutdown so a rolling update hands over at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, nil, err
	}
	if o.ProbeAddr != "0" && o.ProbeAddr != "" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, nil, err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, nil, err
		}
	}
	c, err := Setup(ctx, mgr, o.Options)
	if err != nil {
		return nil, nil, err
	}
	return mgr, c, nil
}
