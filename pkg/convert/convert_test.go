package convert

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// convertFile converts every document of a testdata file and prints what
// `tenantgen convert` would: notes as comments, then the YAML.
func convertFile(t *testing.T, path string) string {
	t.Helper()
	items, err := manifest.ReadPaths([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, it := range items {
		res, err := Convert(it.Object)
		if err != nil {
			t.Fatalf("%s: %v", it.Source(), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		for _, n := range res.Defaults {
			b.WriteString("# default: " + n.String() + "\n")
		}
		for _, n := range res.Warnings {
			b.WriteString("# warning: " + strings.ReplaceAll(n.String(), "\n", "\n#   ") + "\n")
		}
		y, err := yaml.Marshal(res.Object.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(y)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.capsule.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			got := convertFile(t, in)
			golden := strings.TrimSuffix(in, ".capsule.yaml") + ".golden.yaml"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("%s differs (-want +got; go test ./pkg/convert -update accepts it):\n%s", golden, d)
			}
		})
	}
}

func convertOne(t *testing.T, doc string) (*Result, error) {
	t.Helper()
	items, err := manifest.ReadStream("in.yaml", doc)
	if err != nil {
		t.Fatal(err)
	}
	return Convert(items[0].Object)
}

func TestDefaultsOnlyWhereOmitted(t *testing.T) {
	res, err := convertOne(t, `apiVersion: capsule.clastix.io/v1beta2
kind: GlobalTenantResource
metadata: {name: x}
spec:
  resources:
  - generators:
    - {template: "a: b", missingKey: invalid}
    - {template: "c: d"}
    context:
      resources:
      - {index: s, apiVersion: v1, kind: Secret, name: s, optional: false}
`)
	if err != nil {
		t.Fatal(err)
	}
	gens := res.Object.Object["spec"].(map[string]any)["resources"].([]any)[0].(map[string]any)["generators"].([]any)
	if mk := gens[0].(map[string]any)["missingKey"]; mk != "invalid" {
		t.Errorf("an explicit missingKey became %v", mk)
	}
	if mk := gens[1].(map[string]any)["missingKey"]; mk != "zero" {
		t.Errorf("an omitted missingKey became %v, want zero", mk)
	}
	ctx := res.Object.Object["spec"].(map[string]any)["resources"].([]any)[0].(map[string]any)["context"].(map[string]any)["resources"].([]any)
	if opt := ctx[0].(map[string]any)["optional"]; opt != false {
		t.Errorf("an explicit optional: false became %v", opt)
	}
	if len(res.Defaults) != 1 || res.Defaults[0].Path != "resources[0].generators[1]" {
		t.Errorf("defaults = %v", res.Defaults)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "missingKey zero") {
			t.Errorf("a warning about missingKey zero without any template action: %v", w)
		}
	}
}

func TestNoContextWarningOutsideTenantScope(t *testing.T) {
	res, err := convertOne(t, `apiVersion: capsule.clastix.io/v1beta2
kind: GlobalTenantResource
metadata: {name: x}
spec:
  scope: None
  serviceAccount: {name: sa, namespace: ns}
  resources:
  - context: {resources: [{index: routes, apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute}]}
    rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns}}]
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0].Msg, "write policy:") {
		t.Errorf("warnings = %v, want only the write policy", res.Warnings)
	}
}

func TestRejects(t *testing.T) {
	for name, tc := range map[string]struct{ doc, err string }{
		"not Capsule's kind": {"apiVersion: addons.projectcapsule.dev/v1alpha1\nkind: GlobalTenantResource\nmetadata: {name: x}\nspec: {resources: []}\n",
			"is not a capsule.clastix.io/v1beta2, Kind=GlobalTenantResource"},
		"a field Capsule does not have": {"apiVersion: capsule.clastix.io/v1beta2\nkind: GlobalTenantResource\nmetadata: {name: x}\nspec: {resources: [], limitz: {}}\n",
			`is not a valid capsule.clastix.io/v1beta2: json: unknown field "limitz"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := convertOne(t, tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}
