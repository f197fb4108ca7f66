package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/version"
)

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version [-o json|yaml]",
		Short: "Print the version of tenantgen",
		Long: `Version prints one line by default; -o json or -o yaml prints the version, the Go
version, the platform and, when the build recorded them, the git commit and tree state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out []byte
			var err error
			switch output {
			case "":
				out = []byte(version.String() + "\n")
			case "json":
				out, err = json.MarshalIndent(version.Get(), "", "  ")
				out = append(out, '\n')
			case "yaml":
				out, err = yaml.Marshal(version.Get())
			default:
				return fmt.Errorf("-o %q: use json or yaml (or nothing for one line)", output)
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: one line)")
	completeValues(cmd, "output", "json", "yaml")
	return cmd
}
