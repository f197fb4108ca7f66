package cli

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/projectcapsule/tenantgen/pkg/cluster"
	"github.com/projectcapsule/tenantgen/pkg/controller"
)

func newControllerCommand() *cobra.Command {
	var (
		kubeconfig, kubeContext string
		opts                    controller.ManagerOptions
		devLogs                 bool
		logOpts                 *zap.Options
		gcPercent, memPercent   int
		memLimit                string
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the controller that reconciles GlobalTenantResources",
		Long: `Run the tenantgen controller: for every GlobalTenantResource and every tenant it
selects, render, server-side-apply and prune, re-rendering when tenants, namespaces,
context objects or generated objects change, and at the jittered resync period.`,
		Example: `  # Against the current kubeconfig context, one replica
  tenantgen controller --leader-elect=false

  # Debug logs, human-readable
  tenantgen controller --leader-elect=false --zap-devel --zap-log-level=debug

  # In a cluster (the Helm chart does this)
  tenantgen controller --leader-elect --metrics-bind-address=:8080 --health-probe-bind-address=:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(newLogger(logOpts, devLogs))
			// Most of the heap is informer caches that live as long as the
			// process; Go's default (GOGC=100) lets garbage grow as large
			// again before a collection. The GOGC environment variable wins.
			if _, set := os.LookupEnv("GOGC"); !set {
				debug.SetGCPercent(gcPercent)
			}
			if _, set := os.LookupEnv("GOMEMLIMIT"); !set && memLimit != "" {
				soft, err := softMemoryLimit(memLimit, memPercent)
				if err != nil {
					return err
				}
				debug.SetMemoryLimit(soft)
				ctrl.Log.Info("Go runtime memory limit set", "bytes", soft, "memoryLimit", memLimit, "percent", memPercent)
			}
			cfg, err := cluster.Config(kubeconfig, kubeContext)
			if err != nil {
				return err
			}
			ctx := ctrl.SetupSignalHandler()
			mgr, _, err := controller.NewManager(ctx, cfg, opts)
			if err != nil {
				return err
			}
			return mgr.Start(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", cluster.KubeconfigHelp)
	f.StringVar(&kubeContext, "context", "", cluster.ContextHelp)
	f.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables)")
	f.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 disables)")
	f.BoolVar(&opts.LeaderElection, "leader-elect", true, "elect one active replica through a Lease")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the pod's namespace)")
	f.IntVar(&opts.Workers, "workers", 4, "GlobalTenantResource × tenant pairs reconciled concurrently")
	f.Float32Var(&opts.QPS, "kube-api-qps", 100, "requests per second to the apiserver")
	f.IntVar(&opts.Burst, "kube-api-burst", 200, "burst of requests to the apiserver")
	f.IntVar(&gcPercent, "gc-percent", 50, "Go garbage collection target: how far (in percent of the live heap) the heap grows before a collection; the GOGC environment variable overrides it")
	f.StringVar(&memLimit, "memory-limit", os.Getenv(memoryLimitEnv), "the container's memory limit (a quantity such as 1Gi, or bytes; default $"+memoryLimitEnv+", which the chart sets from limits.memory): the Go runtime collects harder to stay under --memory-limit-percent of it; GOMEMLIMIT overrides both")
	f.IntVar(&memPercent, "memory-limit-percent", 90, "the share of --memory-limit the Go runtime keeps its memory under; the rest is headroom for what it does not count")
	f.BoolVar(&devLogs, "dev-logs", false, "human-readable logs instead of JSON (the same as --zap-devel)")
	logOpts = bindLogFlags(f)
	return cmd
}

// memoryLimitEnv carries the container's memory limit from the chart
// (a resourceFieldRef of limits.memory, in bytes).
const memoryLimitEnv = "TENANTGEN_MEMORY_LIMIT"

// softMemoryLimit is the Go runtime's memory limit for a container limit:
// percent of it. The runtime's limit covers the memory it manages, not
// all the process's resident pages, and it is soft: set at the container's
// limit itself, the kernel's OOM killer, not the collector, would end a
// peak.
func softMemoryLimit(limit string, percent int) (int64, error) {
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		return 0, fmt.Errorf("--memory-limit %q: %w", limit, err)
	}
	if percent <= 0 || percent > 100 {
		return 0, fmt.Errorf("--memory-limit-percent %d: want 1 to 100", percent)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("--memory-limit %q: want a positive size", limit)
	}
	return q.Value() * int64(percent) / 100, nil
}
