// Package suite runs tenantgen's declarative template tests: files named
// *.test.yaml that list input fixtures, the GlobalTenantResource under test and
// cases with golden files, field assertions or an expected error. It renders
// with the same core as the controller, offline.
package suite

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/projectcapsule/tenantgen/pkg/manifest"
)

// FileSuffix names test files.
const FileSuffix = ".test.yaml"

// File is one test file.
type File struct {
	// Name describes the file's subject; defaults to the file name.
	Name string `json:"name,omitempty"`
	// Inputs are files or directories (relative to the test file unless
	// absolute) loaded for
	// every case: fixtures from contexts/, the GlobalTenantResource under test.
	Inputs []string `json:"inputs,omitempty"`
	// Objects are inline objects loaded for every case.
	Objects []map[string]any `json:"objects,omitempty"`
	Cases   []Case           `json:"cases"`

	path string
}

// Case is one render and what it must produce.
type Case struct {
	Name string `json:"name"`
	// Tenant renders only this tenant (scope None resources are skipped).
	Tenant string `json:"tenant,omitempty"`
	// Inputs and Objects are added to the file's.
	Inputs  []string         `json:"inputs,omitempty"`
	Objects []map[string]any `json:"objects,omitempty"`
	// Golden is a file (relative to the test file) holding the exact output,
	// as `tenantgen render` prints it; `tenantgen test --update` rewrites it.
	Golden string `json:"golden,omitempty"`
	// Assert lists field assertions on the rendered objects.
	Assert []Assertion `json:"assert,omitempty"`
	// Error expects the render to fail with a message containing this text.
	Error string `json:"error,omitempty"`
}

// Load reads a test file strictly: a misspelt key must not turn a test into
// one that checks nothing.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := notATestFile(path, data); err != nil {
		return nil, err
	}
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.path = path
	if f.Name == "" {
		f.Name = strings.TrimSuffix(filepath.Base(path), FileSuffix)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	for i, c := range f.Cases {
		if c.Name == "" {
			return nil, fmt.Errorf("%s: cases[%d] has no name", path, i)
		}
		if c.Golden == "" && len(c.Assert) == 0 && c.Error == "" {
			return nil, fmt.Errorf("%s: case %q checks nothing: give golden, assert or error", path, c.Name)
		}
		if c.Error != "" && (c.Golden != "" || len(c.Assert) > 0) {
			return nil, fmt.Errorf("%s: case %q expects an error, so it cannot also have golden or assert", path, c.Name)
		}
		for j, a := range c.Assert {
			if err := a.validate(); err != nil {
				return nil, fmt.Errorf("%s: case %q assert[%d]: %w", path, c.Name, j, err)
			}
		}
	}
	return &f, nil
}

// notATestFile refuses, with what to write instead, a Kubernetes object
// given where a test file belongs (`tenantgen test gtr.yaml`): strict
// decoding would only say `unknown field "apiVersion"`.
func notATestFile(path string, data []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if yaml.Unmarshal(data, &head) != nil || head.Kind == "" {
		return nil
	}
	what := head.Kind
	if head.APIVersion != "" {
		what += " (" + head.APIVersion + ")"
	}
	return fmt.Errorf(`%s is a %s, not a test file. A test file, named *%s, loads it and checks what it renders, e.g.:

    # %s%s
    inputs:
      - %s
      - ../contexts/envoy-gateway   # tenants, namespaces and context objects
    cases:
      - name: every tenant gets its ConfigMap
        assert:
          - {kind: ConfigMap, count: 2}

Then run: tenantgen test %s%s`,
		path, what, FileSuffix, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), FileSuffix, filepath.Base(path),
		strings.TrimSuffix(path, filepath.Ext(path)), FileSuffix)
}

// Find returns the test files under the given paths, sorted.
func Find(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, FileSuffix) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// Items loads what a case renders from: the file's and the case's inputs
// (relative to the test file) and inline objects. The dry-run suite uses it
// to send exactly what `tenantgen test` renders to an apiserver.
func (f *File) Items(c *Case) ([]manifest.Item, error) {
	dir := filepath.Dir(f.path)
	var paths []string
	for _, in := range append(append([]string(nil), f.Inputs...), c.Inputs...) {
		if !filepath.IsAbs(in) {
			in = filepath.Join(dir, in)
		}
		paths = append(paths, in)
	}
	items, err := manifest.ReadPaths(paths)
	if err != nil {
		return nil, err
	}
	for i, obj := range append(append([]map[string]any(nil), f.Objects...), c.Objects...) {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		got, err := manifest.ReadStream(fmt.Sprintf("%s (objects[%d])", f.path, i), string(b))
		if err != nil {
			return nil, err
		}
		items = append(items, got...)
	}
	return items, nil
}

func (f *File) goldenPath(c *Case) string { return filepath.Join(filepath.Dir(f.path), c.Golden) }

// readGolden returns a golden file's content, nil when it does not exist.
func readGolden(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	return b, err
}

func writeGolden(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
