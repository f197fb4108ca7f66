package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/projectcapsule/tenantgen/pkg/cluster"
	"github.com/projectcapsule/tenantgen/pkg/diff"
)

func newDiffCommand() *cobra.Command {
	var (
		files       []string
		only        string
		kubeconfig  string
		kubeContext string
	)
	cmd := &cobra.Command{
		Use:   "diff -f PATH [-f PATH...] [--kubeconfig FILE] [--context NAME] [--tenant NAME]",
		Short: "Preview what applying GlobalTenantResources would change in a live cluster",
		Long: `Diff renders the GlobalTenantResources in the given files (new ones or edits of
live ones) against the live cluster's tenants, namespaces and context, with the
same render core as the controller. Every rendered object is applied as a
server-side dry run (dryRun=All) with the field manager and force rules the
controller uses, and a unified diff per object compares the live object with
the dry run's result. Managed fields, status, resourceVersion, generation, uid,
creationTimestamp and tenantgen's applied-hash annotation are left out. A new
object shows as all added; an unchanged one prints nothing.

Then come the objects the controller would prune: entries of the live
TenantInventories that the new render no longer produces, also of tenants that
leave the selector. Deleted objects show as all removed; adopted ones are
released (tenantgen gives up its fields, the object stays), shown as the dry
run of that release. A warning says when the deletion brake would hold them
(with --tenant, only that tenant's deletions are counted).

Nothing in the cluster is written: the reads and the dry runs use the
kubeconfig's identity, also when spec.serviceAccount is set (the controller
then writes as that ServiceAccount). Notes, warnings and errors go to stderr.

$KUBECTL_EXTERNAL_DIFF, as for kubectl diff, names a program (with arguments,
split at spaces) run with two directories, LIVE and MERGED, holding one file
per object.

Exit status (kubectl diff's): 0 nothing would change, 1 something would, above 1
an error (a render error, a rejected dry run, the external program failing).`,
		Example: `  # Preview an edit of a GlobalTenantResource
  tenantgen diff -f samples/capsule-envoy-gateway.yaml

  # Only one tenant, against another context
  tenantgen diff -f gtr.yaml --context staging --tenant solar

  # With another diff program
  KUBECTL_EXTERNAL_DIFF="diff -u -N --color=always" tenantgen diff -f gtr.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return codeError{code: diff.ExitError, err: err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cluster.Config(kubeconfig, kubeContext)
			if err != nil {
				return codeError{code: diff.ExitError, err: err}
			}
			code, err := diff.Run(cmd.Context(), cfg, diff.Options{
				Files: files, Tenant: only, ExternalDiff: os.Getenv("KUBECTL_EXTERNAL_DIFF"),
				Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			})
			if err != nil {
				return codeError{code: diff.ExitError, err: err}
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	// kubectl diff's convention holds for bad flags too: 1 would mean "changed".
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return codeError{code: diff.ExitError, err: err} })
	f := cmd.Flags()
	f.StringArrayVarP(&files, "filename", "f", nil, "file or directory with GlobalTenantResources (repeatable; - reads stdin)")
	f.StringVar(&only, "tenant", "", "preview only this tenant (scope None resources are skipped)")
	f.StringVar(&kubeconfig, "kubeconfig", "", cluster.KubeconfigHelp)
	f.StringVar(&kubeContext, "context", "", cluster.ContextHelp)
	return cmd
}
