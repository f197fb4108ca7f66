// Package dryrun checks that what the catalog (generators/) and the samples (samples/) render
// is accepted by a real kube-apiserver with the real upstream CRDs (Gateway API experimental
// channel, Envoy Gateway, cert-manager; see test/testenv): every object rendered by every case
// of every *.test.yaml there is sent with server-side apply in dry-run mode, and the test fails
// listing each rejected object with the apiserver's message.
//
// It reads the cases' inputs itself (pkg/suite's Load, pkg/manifest, pkg/snapshot), so it
// renders exactly what `tenantgen test generators samples` renders. Cases that expect an error
// render nothing and are skipped.
//
// It needs the control-plane binaries: KUBEBUILDER_ASSETS, e.g.
// $HOME/.cache/tenantgen/envtest/k8s-1.37.2-etcd-3.7.3 (`make envtest-assets`). There is no skip.
package dryrun

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/snapshot"
	"github.com/projectcapsule/tenantgen/pkg/suite"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

// dirs are the folders whose test files are dry-run, relative to the repository root.
var dirs = []string{"generators", "samples"}

const fieldOwner = client.FieldOwner("tenantgen-dryrun")

// rendered is one distinct object and the first case that rendered it.
type rendered struct {
	obj   *unstructured.Unstructured
	where string // "file: case"
}

func TestDryRun(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, cases, used := renderAll(t, root)
	checkEveryGTRFileRendered(t, root, used)
	if len(objs) == 0 {
		t.Fatal("nothing rendered: no test files, or every case expects an error")
	}
	t.Logf("%d cases rendered %d distinct objects", cases, len(objs))

	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Namespaced objects need their namespace to exist, even in dry-run.
	namespaces := map[string]bool{}
	for _, r := range objs {
		if ns := r.obj.GetNamespace(); ns != "" {
			namespaces[ns] = true
		}
	}
	for _, ns := range sortedKeys(namespaces) {
		err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}

	var rejected []string
	accepted := map[string]int{}
	for _, r := range objs {
		u := r.obj.DeepCopy()
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), fieldOwner, client.DryRunAll)
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("%s (%s):\n    %v", ref(r.obj), r.where, err))
			continue
		}
		accepted[r.obj.GetAPIVersion()+" "+r.obj.GetKind()]++
	}
	var summary []string
	for _, k := range sortedKeys(accepted) {
		summary = append(summary, fmt.Sprintf("%s: %d", k, accepted[k]))
	}
	t.Logf("accepted %d of %d objects by server-side dry-run apply:\n  %s", len(objs)-len(rejected), len(objs), strings.Join(summary, "\n  "))
	if len(rejected) > 0 {
		t.Errorf("the apiserver rejected %d of %d rendered objects:\n  %s", len(rejected), len(objs), strings.Join(rejected, "\n  "))
	}
}

// renderAll renders every case of every test file under dirs and returns the distinct
// objects (an object rendered identically by several cases is sent once), sorted, the
// number of cases rendered and the files whose GlobalTenantResources those cases rendered.
func renderAll(t *testing.T, root string) ([]rendered, int, map[string]bool) {
	t.Helper()
	var paths []string
	for _, d := range dirs {
		paths = append(paths, filepath.Join(root, d))
	}
	files, err := suite.Find(paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %s files under %v", suite.FileSuffix, paths)
	}
	seen := map[string]rendered{}
	used := map[string]bool{}
	cases := 0
	for _, path := range files {
		f, err := suite.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		for _, c := range f.Cases {
			if c.Error != "" {
				continue
			}
			items, err := f.Items(&c)
			if err != nil {
				t.Fatalf("%s: case %q: %v", rel, c.Name, err)
			}
			for _, it := range items {
				if it.Object.GetKind() == "GlobalTenantResource" {
					used[filepath.Clean(it.File)] = true
				}
			}
			snap, err := snapshot.New(items)
			if err != nil {
				t.Fatalf("%s: case %q: %v", rel, c.Name, err)
			}
			res, err := snap.Render(c.Tenant)
			if err != nil {
				t.Fatalf("%s: case %q: %v", rel, c.Name, err)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("%s: case %q: render failed (run `tenantgen test %s`): %v", rel, c.Name, rel, res.Errors)
			}
			for _, w := range res.Warnings {
				// Missing namespaces are created below; anything else deserves a look.
				t.Logf("%s: case %q: warning: %s", rel, c.Name, w)
			}
			cases++
			for _, o := range res.Objects {
				b, err := json.Marshal(o.Object)
				if err != nil {
					t.Fatal(err)
				}
				if _, dup := seen[string(b)]; !dup {
					seen[string(b)] = rendered{obj: o.Unstructured, where: rel + ": " + c.Name}
				}
			}
		}
	}
	out := make([]rendered, 0, len(seen))
	for _, r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := ref(out[i].obj), ref(out[j].obj); a != b {
			return a < b
		}
		return out[i].where < out[j].where
	})
	return out, cases, used
}

// checkEveryGTRFileRendered fails for a catalog or sample file of GlobalTenantResources that
// no successful case renders: it would never be dry-run.
func checkEveryGTRFileRendered(t *testing.T, root string, used map[string]bool) {
	t.Helper()
	var files []string
	for _, pattern := range []string{"generators/*/globaltenantresource*.yaml", "samples/*.yaml"} {
		got, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, got...)
	}
	for _, f := range files {
		if strings.HasSuffix(f, suite.FileSuffix) {
			continue
		}
		if !used[filepath.Clean(f)] {
			rel, _ := filepath.Rel(root, f)
			t.Errorf("%s is not rendered by any case that expects success: add one to a %s file", rel, suite.FileSuffix)
		}
	}
}

func ref(u *unstructured.Unstructured) string {
	s := u.GetAPIVersion() + " " + u.GetKind() + " "
	if ns := u.GetNamespace(); ns != "" {
		s += ns + "/"
	}
	return s + u.GetName()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
