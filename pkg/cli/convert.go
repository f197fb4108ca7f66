package cli

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/convert"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
)

func newConvertCommand() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "convert -f PATH [-f PATH...]",
		Short: "Convert Capsule GlobalTenantResources (capsule.clastix.io/v1beta2) into tenantgen's",
		Long: `Convert reads Capsule's capsule.clastix.io/v1beta2 GlobalTenantResources (files,
directories, - for stdin; lists as 'kubectl get -o yaml' prints them are expanded) and
prints tenantgen's addons.projectcapsule.dev/v1alpha1 GlobalTenantResources on stdout.

Capsule's defaults that differ from tenantgen's are written out where a manifest omitted
them (generators' missingKey: zero; optional: true on context.resources and
namespacedItems); server-side fields (status, uid, managedFields, ...) are dropped. On
stderr, 'default:' lines name each default written and 'warning:' lines each semantic
difference between Capsule and tenantgen that affects the manifest. Other objects in the
input are left out, with a warning. The exit code is 1 when an input is not a valid
Capsule GlobalTenantResource or uses what tenantgen does not implement.

See docs/migrating-from-capsule.md for the migration without downtime.`,
		Example: `  # Convert what the cluster has
  kubectl get globaltenantresources.capsule.clastix.io -o yaml | tenantgen convert -f - > tenantgen-gtrs.yaml

  # Convert manifests from a repository
  tenantgen convert -f capsule/globaltenantresources/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("no input: give at least one -f PATH")
			}
			items, err := manifest.ReadPaths(files)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			var out bytes.Buffer
			failed, converted := false, 0
			for _, it := range expandLists(items) {
				u := it.Object
				if u.GroupVersionKind() != convert.CapsuleGVK {
					fmt.Fprintf(stderr, "warning: %s: %s %q is not a Capsule GlobalTenantResource; left out\n", it.Source(), u.GetKind(), u.GetName())
					continue
				}
				res, err := convert.Convert(u)
				if err != nil {
					fmt.Fprintf(stderr, "error: %s: %v\n", it.Source(), err)
					failed = true
					continue
				}
				for _, n := range res.Defaults {
					fmt.Fprintf(stderr, "default: %s: %s\n", it.Source(), n)
				}
				for _, n := range res.Warnings {
					fmt.Fprintf(stderr, "warning: %s: %s\n", it.Source(), n)
				}
				b, err := yaml.Marshal(res.Object.Object)
				if err != nil {
					return err
				}
				if converted > 0 {
					out.WriteString("---\n")
				}
				out.Write(b)
				converted++
			}
			if _, err := cmd.OutOrStdout().Write(out.Bytes()); err != nil {
				return err
			}
			if failed {
				return exitError{code: 1}
			}
			if converted == 0 {
				return fmt.Errorf("no Capsule GlobalTenantResource in %v", files)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file or directory of YAML files (repeatable; - reads stdin)")
	return cmd
}

// expandLists replaces every List (kind List or *List with items) by its items.
func expandLists(items []manifest.Item) []manifest.Item {
	var out []manifest.Item
	for _, it := range items {
		if !it.Object.IsList() {
			out = append(out, it)
			continue
		}
		_ = it.Object.EachListItem(func(o runtime.Object) error {
			if u, ok := o.(*unstructured.Unstructured); ok {
				out = append(out, manifest.Item{Object: u, File: it.File, Line: it.Line})
			}
			return nil
		})
	}
	return out
}
