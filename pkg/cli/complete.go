package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/projectcapsule/tenantgen/pkg/manifest"
	"github.com/projectcapsule/tenantgen/pkg/tenant"
)

// completeValues offers a fixed set of values for a flag in shell completion.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	// Registering fails only for a flag that does not exist: a programming error.
	if err := cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)); err != nil {
		panic(err)
	}
}

// completeTenants offers the names of the tenants in the files the command
// line gives with -f, as far as it has been typed: the tenants a render can
// be narrowed to. Unreadable input offers nothing rather than an error, which
// a shell would show in the middle of the line.
func completeTenants(files *[]string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var names []string
		var paths []string
		for _, f := range *files {
			if f != "-" { // completion must not wait on stdin
				paths = append(paths, f)
			}
		}
		items, err := manifest.ReadPaths(paths)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		for _, it := range items {
			if gvk := it.Object.GroupVersionKind(); gvk.Group == tenant.Group && gvk.Kind == "Tenant" &&
				strings.HasPrefix(it.Object.GetName(), toComplete) && !slices.Contains(names, it.Object.GetName()) {
				names = append(names, it.Object.GetName())
			}
		}
		slices.Sort(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
