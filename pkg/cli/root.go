// Package cli holds the tenantgen command line: render, test, convert, controller and
// version. Commands read flags and files and call the packages that do the work.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// exitError carries an exit code for errors already reported on stderr.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codeError is an error to print with an exit code other than 1 (diff's
// errors exit above 1, as kubectl diff's do).
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var ee exitError
	var ce codeError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, "error:", ce.err)
		return ce.code
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
	if name := displayName(os.Args[0]); name != "tenantgen" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
	}
	root.AddCommand(newDiffCommand())
	root.AddCommand(newRenderCommand(), newTestCommand(), newConvertCommand(), newControllerCommand(), newVersionCommand())
	return root
}

// displayName is how help and usage name the program: "kubectl tenantgen"
// when the binary is installed as the kubectl plugin kubectl-tenantgen
// (kubectl runs a plugin with its path as argv[0]), else "tenantgen".
func displayName(argv0 string) string {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if plugin, ok := strings.CutPrefix(base, "kubectl-"); ok && plugin != "" {
		// kubectl's plugin names: kubectl-foo-bar is "kubectl foo bar",
		// kubectl-foo_bar is "kubectl foo-bar".
		return "kubectl " + strings.ReplaceAll(strings.ReplaceAll(plugin, "-", " "), "_", "-")
	}
	return "tenantgen"
}
