// Package cli holds the tenantgen command line: render, test, convert, controller and
// version. Commands read flags and files and call the packages that do the work.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// exitError carries an exit code for errors already reported on stderr.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
}

// NewRoot builds the tenantgen command tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantgen",
		Short: "Per-tenant infrastructure for Capsule, rendered from GlobalTenantResources",
		Long: `tenantgen is a Capsule addon. For every tenant a GlobalTenantResource selects it
gathers context (routes, secrets, any object), renders templates, server-side-applies
the result, re-renders when anything it depends on changes, and prunes what it no
longer renders. The same render core runs offline in 'tenantgen render'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRenderCommand(), newTestCommand(), newConvertCommand(), newControllerCommand(), newVersionCommand())
	return root
}
