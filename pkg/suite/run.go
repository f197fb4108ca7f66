package suite

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/projectcapsule/tenantgen/pkg/render"
	"github.com/projectcapsule/tenantgen/pkg/snapshot"
)

// Options tune a run.
type Options struct {
	// Update rewrites golden files with the rendered output instead of comparing.
	Update bool
	// Verbose prints passing cases too.
	Verbose bool
}

// Summary counts the cases of a run.
type Summary struct {
	Passed, Failed int
}

// Run runs every test file under paths and reports to w.
func Run(paths []string, opts Options, w io.Writer) (Summary, error) {
	var sum Summary
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := Find(paths)
	if err != nil {
		return sum, err
	}
	if len(files) == 0 {
		return sum, fmt.Errorf("no %s files under %s", FileSuffix, describePaths(paths))
	}
	for _, path := range files {
		f, err := Load(path)
		if err != nil {
			sum.Failed++
			fmt.Fprintf(w, "FAIL %s\n%s\n", path, indent(err.Error()))
			continue
		}
		// A broken input or GlobalTenantResource fails every case alike:
		// it is printed once, and the cases after refer to the first.
		failedFirst := map[string]string{} // problem -> first case that had it
		warned := map[string]bool{}
		for i := range f.Cases {
			c := &f.Cases[i]
			problem, warnings := f.run(c, opts)
			for _, warning := range warnings {
				if !warned[warning] {
					warned[warning] = true
					fmt.Fprintf(w, "warn %s: %s\n%s\n", path, c.Name, indent(warning))
				}
			}
			if problem == "" {
				sum.Passed++
				if opts.Verbose {
					fmt.Fprintf(w, "ok   %s: %s\n", path, c.Name)
				}
				continue
			}
			sum.Failed++
			if first, seen := failedFirst[problem]; seen {
				fmt.Fprintf(w, "FAIL %s: %s\n%s\n", path, c.Name, indent(fmt.Sprintf("the same failure as case %q", first)))
				continue
			}
			failedFirst[problem] = c.Name
			fmt.Fprintf(w, "FAIL %s: %s\n%s\n", path, c.Name, indent(problem))
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	return sum, nil
}

// run runs one case and returns what is wrong ("" when it passes) and the
// render's warnings, which do not fail a case.
func (f *File) run(c *Case, opts Options) (string, []string) {
	objs, errs, warnings := f.render(c)
	if c.Error != "" {
		if len(errs) == 0 {
			return fmt.Sprintf("expected an error containing %q, but the render succeeded (%d objects)", c.Error, len(objs)), warnings
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), c.Error) {
				return "", warnings
			}
		}
		return fmt.Sprintf("expected an error containing %q, got:\n%s", c.Error, joinErrors(errs)), warnings
	}
	if len(errs) > 0 {
		return "render failed:\n" + joinErrors(errs), warnings
	}
	var problems []string
	if c.Golden != "" {
		if p := f.golden(c, objs, opts.Update); p != "" {
			problems = append(problems, p)
		}
	}
	for _, a := range c.Assert {
		if p := a.check(objs); p != "" {
			problems = append(problems, p)
		}
	}
	return strings.Join(problems, "\n"), warnings
}

func (f *File) render(c *Case) ([]render.Object, []error, []string) {
	items, err := f.Items(c)
	if err != nil {
		return nil, []error{err}, nil
	}
	snap, err := snapshot.New(items)
	if err != nil {
		return nil, []error{err}, nil
	}
	if len(snap.GTRs) == 0 {
		return nil, []error{fmt.Errorf("no GlobalTenantResource among the inputs")}, nil
	}
	res, err := snap.Render(c.Tenant)
	if err != nil {
		return nil, []error{err}, nil
	}
	return res.Objects, res.Errors, res.Warnings
}

// golden compares (or with update, rewrites) the case's golden file.
func (f *File) golden(c *Case, objs []render.Object, update bool) string {
	got, err := snapshot.Format("yaml", objs)
	if err != nil {
		return err.Error()
	}
	path := f.goldenPath(c)
	if update {
		if err := writeGolden(path, got); err != nil {
			return err.Error()
		}
		return ""
	}
	want, err := readGolden(path)
	if err != nil {
		return err.Error()
	}
	if want == nil {
		return fmt.Sprintf("golden file %s does not exist: run `tenantgen test --update` to create it", path)
	}
	if bytes.Equal(got, want) {
		return ""
	}
	diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(got)),
		FromFile: path + " (golden)", ToFile: "rendered", Context: 3,
	})
	return "output differs from the golden file (run `tenantgen test --update` to accept it):\n" + diff
}

// describePaths names the searched paths for a message, each relative one
// with its absolute form: "." alone does not say where a run looked.
func describePaths(paths []string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p
		if abs, err := filepath.Abs(p); err == nil && abs != p {
			out[i] += " (" + abs + ")"
		}
	}
	return strings.Join(out, ", ")
}

func joinErrors(errs []error) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func indent(s string) string {
	return "     " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n     ")
}
