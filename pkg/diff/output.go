package diff

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// builtin prints a unified diff per object whose shown text differs, in the
// form `diff -u -N` prints it (as `tenantgen test` prints golden-file
// failures, with the same library), and returns ExitChanged when it printed any.
func builtin(w io.Writer, changes []Change) (int, error) {
	code := ExitSame
	for _, ch := range changes {
		a, err := text(ch.Live)
		if err != nil {
			return ExitError, err
		}
		b, err := text(ch.Merged)
		if err != nil {
			return ExitError, err
		}
		if a == b {
			continue
		}
		from, to := "LIVE/"+ch.File, "MERGED/"+ch.File
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(a), B: lines(b), FromFile: from, ToFile: to, Context: 3,
		})
		if err != nil {
			return ExitError, err
		}
		if _, err := fmt.Fprintf(w, "diff -u -N %s %s\n%s", from, to, d); err != nil {
			return ExitError, err
		}
		code = ExitChanged
	}
	return code, nil
}

// external writes every object as it is to a LIVE directory and as it
// would be to a MERGED one (an object created or deleted has a file in only
// one of them) and runs $KUBECTL_EXTERNAL_DIFF on the two, as kubectl diff
// does: the value is split at spaces into the program and its arguments,
// the directories come last, and its exit status is the diff's (0 same, 1
// changed, above 1 its own failure).
func external(o Options, changes []Change) (int, error) {
	args := strings.Fields(o.ExternalDiff)
	live, err := os.MkdirTemp("", "LIVE-")
	if err != nil {
		return ExitError, err
	}
	defer os.RemoveAll(live)
	merged, err := os.MkdirTemp("", "MERGED-")
	if err != nil {
		return ExitError, err
	}
	defer os.RemoveAll(merged)
	for _, ch := range changes {
		for _, f := range []struct {
			dir string
			u   *unstructured.Unstructured
		}{{live, ch.Live}, {merged, ch.Merged}} {
			t, err := text(f.u)
			if err != nil {
				return ExitError, err
			}
			if t == "" {
				continue
			}
			if err := os.WriteFile(filepath.Join(f.dir, ch.File), []byte(t), 0o600); err != nil {
				return ExitError, err
			}
		}
	}
	cmd := exec.Command(args[0], append(args[1:], live, merged)...)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return ExitSame, nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return ExitChanged, nil
	case errors.As(err, &ee) && ee.ExitCode() > 1:
		return ee.ExitCode(), fmt.Errorf("KUBECTL_EXTERNAL_DIFF %q failed: %w", o.ExternalDiff, err)
	}
	return ExitError, fmt.Errorf("KUBECTL_EXTERNAL_DIFF %q: %w", o.ExternalDiff, err)
}

// lines splits text into lines that keep their "\n"; "" has none, so a
// created or deleted object's hunk is "@@ -0,0 +1,N @@" or "@@ -1,N +0,0 @@".
// (difflib.SplitLines would add an empty last line to every text.)
func lines(text string) []string {
	if text == "" {
		return nil
	}
	l := strings.SplitAfter(text, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}
