// Package generators_test keeps the catalog (generators/) and the samples (samples/) in step:
// every sample is built from catalog entries, so every generator template and raw item of a
// sample's GlobalTenantResources must appear verbatim in a catalog GlobalTenantResource, with
// the same context the catalog gives it. A sample that drifts (an edited template, a renamed
// context index) fails here with a diff against the closest catalog generator.
//
// It also checks the shape of the catalog: each entry is a folder with a
// globaltenantresource.yaml, a README.md and a <name>.test.yaml.
package generators_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/manifest"
)

// catalogGlob matches the GlobalTenantResource files of the catalog: the main one of each
// entry and its variants (globaltenantresource-<variant>.yaml).
const catalogGlob = "*/globaltenantresource*.yaml"

// samplesDir is relative to this package's directory (go test runs tests there).
const samplesDir = "../samples"

// gtr is a decoded GlobalTenantResource and where it was read.
type gtr struct {
	*v1alpha1.GlobalTenantResource
	source string // file:line
}

// loadGTRs reads every GlobalTenantResource of the files, strictly (an unknown field is an
// error, as for `tenantgen render`). Other objects are an error: catalog and sample files
// hold GlobalTenantResources only.
func loadGTRs(t *testing.T, files []string) []gtr {
	t.Helper()
	items, err := manifest.ReadPaths(files)
	if err != nil {
		t.Fatal(err)
	}
	var out []gtr
	for _, it := range items {
		u := it.Object
		if u.GetAPIVersion() != v1alpha1.GroupVersion.String() || u.GetKind() != "GlobalTenantResource" {
			t.Errorf("%s: %s %s is not a %s GlobalTenantResource", it.Source(), u.GetAPIVersion(), u.GetKind(), v1alpha1.GroupVersion)
			continue
		}
		raw, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		var g v1alpha1.GlobalTenantResource
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			t.Errorf("%s: globaltenantresource %q: %v", it.Source(), u.GetName(), err)
			continue
		}
		out = append(out, gtr{GlobalTenantResource: &g, source: it.Source()})
	}
	return out
}

func catalogGTRs(t *testing.T) []gtr {
	t.Helper()
	files, err := filepath.Glob(catalogGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no catalog files match %s", catalogGlob)
	}
	sort.Strings(files)
	return loadGTRs(t, files)
}

// sampleFiles are the GlobalTenantResource files of samples/ (not their tests).
func sampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".test.yaml") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no samples under %s", samplesDir)
	}
	sort.Strings(out)
	return out
}

// catalogGenerator is one generator of the catalog and the resource block holding it.
type catalogGenerator struct {
	gen     v1alpha1.Generator
	context []v1alpha1.ContextResource
	where   string
}

func TestSamplesReuseCatalogVerbatim(t *testing.T) {
	catalog := catalogGTRs(t)
	var gens []catalogGenerator
	var raws []any
	for _, c := range catalog {
		for i, r := range c.Spec.Resources {
			var ctx []v1alpha1.ContextResource
			if r.Context != nil {
				ctx = r.Context.Resources
			}
			for j, g := range r.Generators {
				gens = append(gens, catalogGenerator{gen: g, context: ctx,
					where: fmt.Sprintf("%s globaltenantresource %q resources[%d].generators[%d]", c.source, c.Name, i, j)})
			}
			for _, raw := range r.RawItems {
				raws = append(raws, decodeRaw(t, raw.Raw))
			}
		}
	}

	for _, file := range sampleFiles(t) {
		samples := loadGTRs(t, []string{file})
		if len(samples) == 0 {
			t.Errorf("%s holds no GlobalTenantResource", file)
		}
		for _, s := range samples {
			for i, r := range s.Spec.Resources {
				at := fmt.Sprintf("%s: globaltenantresource %q resources[%d]", s.source, s.Name, i)
				for j, g := range r.Generators {
					match := findGenerator(gens, g)
					if match == nil {
						t.Errorf("%s.generators[%d] is not a catalog generator (templates must be copied verbatim, missingKey included):\n%s",
							at, j, closest(gens, g))
						continue
					}
					if problem := sameContext(r.Context, match.context); problem != "" {
						t.Errorf("%s.generators[%d] is %s, but its context differs from the catalog's: %s", at, j, match.where, problem)
					}
				}
				for j, raw := range r.RawItems {
					obj := decodeRaw(t, raw.Raw)
					found := false
					for _, c := range raws {
						if reflect.DeepEqual(obj, c) {
							found = true
							break
						}
					}
					if !found {
						b, _ := json.Marshal(obj)
						t.Errorf("%s.rawItems[%d] is not a raw item of any catalog GlobalTenantResource: %s", at, j, b)
					}
				}
			}
		}
	}
}

func findGenerator(gens []catalogGenerator, g v1alpha1.Generator) *catalogGenerator {
	for i := range gens {
		if gens[i].gen.Template == g.Template && gens[i].gen.MissingKey == g.MissingKey {
			return &gens[i]
		}
	}
	return nil
}

// closest returns a diff between g and the catalog generator sharing the most lines with it.
func closest(gens []catalogGenerator, g v1alpha1.Generator) string {
	best, bestRatio := -1, -1.0
	b := difflib.SplitLines(g.Template)
	for i, c := range gens {
		m := difflib.NewMatcher(difflib.SplitLines(c.gen.Template), b)
		if r := m.Ratio(); r > bestRatio {
			best, bestRatio = i, r
		}
	}
	if best < 0 {
		return "    (the catalog has no generators)"
	}
	c := gens[best]
	diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(fmt.Sprintf("missingKey: %q\n", c.gen.MissingKey) + c.gen.Template),
		B:        difflib.SplitLines(fmt.Sprintf("missingKey: %q\n", g.MissingKey) + g.Template),
		FromFile: c.where, ToFile: "sample", Context: 2,
	})
	return "    closest catalog generator: " + c.where + "\n" + diff
}

// sameContext reports how a sample block's context differs from the catalog block's: every
// entry the sample declares must be declared identically by the catalog, and the sample
// must declare every entry the catalog does.
func sameContext(sample *v1alpha1.Context, catalog []v1alpha1.ContextResource) string {
	var have []v1alpha1.ContextResource
	if sample != nil {
		have = sample.Resources
	}
	index := func(list []v1alpha1.ContextResource) map[string]v1alpha1.ContextResource {
		m := map[string]v1alpha1.ContextResource{}
		for _, c := range list {
			m[c.Index] = c
		}
		return m
	}
	h, w := index(have), index(catalog)
	var problems []string
	for name, want := range w {
		got, ok := h[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("index %q is missing", name))
		case !reflect.DeepEqual(got, want):
			g, _ := json.Marshal(got)
			c, _ := json.Marshal(want)
			problems = append(problems, fmt.Sprintf("index %q is %s, the catalog's is %s", name, g, c))
		}
	}
	for name := range h {
		if _, ok := w[name]; !ok {
			problems = append(problems, fmt.Sprintf("index %q is not in the catalog", name))
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

func decodeRaw(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSamplesSayWhenToUseThem(t *testing.T) {
	for _, file := range sampleFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		head := leadingComment(string(b))
		if !strings.Contains(head, "When to use") && !strings.Contains(head, "when to use") {
			t.Errorf("%s: the leading comment must say when to use the sample (\"When to use: ...\")", file)
		}
	}
}

// leadingComment returns the comment lines a file starts with.
func leadingComment(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

func TestCatalogEntriesAreComplete(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		name := e.Name()
		for _, f := range []string{"globaltenantresource.yaml", "README.md", name + ".test.yaml"} {
			if _, err := os.Stat(filepath.Join(name, f)); err != nil {
				t.Errorf("catalog entry %s: %v", name, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("the catalog has no entries")
	}
	names := map[string]string{}
	for _, g := range catalogGTRs(t) {
		if first, dup := names[g.Name]; dup {
			t.Errorf("%s: globaltenantresource %q is also defined at %s", g.source, g.Name, first)
		}
		names[g.Name] = g.source
	}
}
