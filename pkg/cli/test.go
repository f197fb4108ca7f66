package cli

import (
	"github.com/spf13/cobra"

	"github.com/projectcapsule/tenantgen/pkg/suite"
)

func newTestCommand() *cobra.Command {
	var opts suite.Options
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run declarative template tests (*.test.yaml)",
		Long: `Test finds *.test.yaml files under the given paths (default: the current
directory) and runs their cases offline with the same render core as the controller.
A case loads input fixtures (files, directories, inline objects), renders, and checks
the output against a golden file, field assertions, or an expected error. The run
ends with "N passed, M failed" and exits 1 when anything failed. The file format is
described in the README.`,
		Example: `  # Everything in the catalog and the samples
  tenantgen test generators samples

  # Accept new output after an intended template change
  tenantgen test --update generators/envoy-gateway`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sum, err := suite.Run(args, opts, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if sum.Failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Update, "update", false, "rewrite golden files with the rendered output")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "also list passing cases")
	return cmd
}
