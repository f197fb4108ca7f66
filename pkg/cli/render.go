package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/projectcapsule/tenantgen/pkg/cluster"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
)

func newRenderCommand() *cobra.Command {
	var (
		files  []string
		only   string
		output string
		// With either, tenants and context come from a live cluster.
		kubeconfig, kubeContext string
	)
	cmd := &cobra.Command{
		Use:   "render -f PATH [-f PATH...] [--tenant NAME] [-o yaml|json]",
		Short: "Render GlobalTenantResources offline, against objects read from files",
		Long: `Render reads YAML files and directories that together describe a cluster:
GlobalTenantResources (addons.projectcapsule.dev/v1alpha1, or Capsule's
capsule.clastix.io/v1beta2 ones), Capsule Tenants, Namespaces (a namespace belongs
to the tenant named by its capsule.clastix.io/tenant label, or to the tenant whose
status.namespaces lists it) and any other objects, which serve as context. A Capsule
GlobalTenantResource gets Capsule's defaults where they differ from tenantgen's
(generators' missingKey: zero, optional: true on context.resources and
namespacedItems), and a warning on stderr says so; 'tenantgen convert' writes them out.

With --kubeconfig or --context, tenants, namespaces and context are read from that
cluster instead (read only, nothing is dry-run; 'tenantgen diff' does that), and
GlobalTenantResources from the files, or from the cluster when no -f is given.

It prints every object the controller would apply, in apply order and with the
ownership labels the controller sets, so that the output can be checked with
'kubectl apply --dry-run=server -f -'. Errors go to stderr naming the file, the
GlobalTenantResource, the tenant, the generator and the template line; the exit
code is then 1, and the tenants that did render are still printed.`,
		Example: `  # Render the Capsule Envoy Gateway guide for the fixture tenants and routes
  tenantgen render -f contexts/envoy-gateway -f samples/capsule-envoy-gateway.yaml

  # Only one tenant, as JSON
  tenantgen render -f contexts/envoy-gateway -f samples/capsule-envoy-gateway.yaml --tenant solar -o json

  # Check the result against a cluster's schemas
  tenantgen render -f cluster-export/ -f gtr.yaml | kubectl apply --dry-run=server -f -

  # Against a live cluster's tenants and context: the cluster's GlobalTenantResources,
  # or those of the files given with -f (see also 'tenantgen diff')
  tenantgen render --kubeconfig ~/.kube/config
  tenantgen render --context prod -f gtr.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			live := kubeconfig != "" || kubeContext != ""
			if len(files) == 0 && !live {
				return fmt.Errorf("no input: give at least one -f PATH")
			}
			if output != "yaml" && output != "json" {
				return fmt.Errorf("-o %q: use yaml or json", output)
			}
			items, err := manifest.ReadPaths(files)
			if err != nil {
				return err
			}
			var snap *snapshot.Snapshot
			var liveWarnings []string
			if live {
				snap, liveWarnings, err = liveSnapshot(cmd.Context(), items, kubeconfig, kubeContext)
			} else {
				snap, err = snapshot.New(items)
			}
			if err != nil {
				return err
			}
			if len(snap.GTRs) == 0 {
				return fmt.Errorf("no GlobalTenantResource in %v", files)
			}
			res, err := snap.Render(only)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, w := range append(liveWarnings, res.Warnings...) {
				fmt.Fprintln(stderr, "warning:", w)
			}
			for _, n := range res.Notes {
				fmt.Fprintln(stderr, "note:", n)
			}
			out, err := snapshot.Format(output, res.Objects)
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return err
			}
			for _, e := range res.Errors {
				fmt.Fprintln(stderr, "error:", e)
			}
			if len(res.Errors) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file or directory of YAML files (repeatable; - reads stdin)")
	cmd.Flags().StringVar(&only, "tenant", "", "render only this tenant (scope None resources are skipped)")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "render against a live cluster: "+cluster.KubeconfigHelp)
	cmd.Flags().StringVar(&kubeContext, "context", "", "render against a live cluster: "+cluster.ContextHelp)
	completeValues(cmd, "output", "yaml", "json")
	if err := cmd.RegisterFlagCompletionFunc("tenant", completeTenants(&files)); err != nil {
		panic(err) // only for a flag that does not exist
	}
	return cmd
}

// liveSnapshot reads tenants, namespaces and context from a cluster (the
// reading code of `tenantgen diff`); GlobalTenantResources come from the
// files, or from the cluster when no file is given.
func liveSnapshot(ctx context.Context, items []manifest.Item, kubeconfig, kubeContext string) (*snapshot.Snapshot, []string, error) {
	cfg, err := cluster.Config(kubeconfig, kubeContext)
	if err != nil {
		return nil, nil, err
	}
	c, err := cluster.Connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return c.Snapshot(items)
}
