package chart_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// helmCLI runs helm with its config, cache and data directories in a temporary
// directory, so the tests neither read nor write the user's helm setup.
type helmCLI struct {
	bin string
	env []string
}

func newHelmCLI(bin, home string) *helmCLI {
	env := os.Environ()
	for _, d := range []string{"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"} {
		env = append(env, d+"="+filepath.Join(home, strings.ToLower(strings.TrimPrefix(d, "HELM_"))))
	}
	return &helmCLI{bin: bin, env: append(env, "HELM_NAMESPACE="+releaseNamespace)}
}

// run runs helm and returns stdout, and an error carrying stderr when it fails.
func (h *helmCLI) run(args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// valuesArgs turns values files (relative ones are in testdata/, or the chart's ci/ when
// they start with ci/), --set pairs and flags (arguments starting with --) into helm arguments.
func valuesArgs(valuesFiles []string, set ...string) []string {
	var args []string
	for _, f := range valuesFiles {
		switch {
		case filepath.IsAbs(f):
		case strings.HasPrefix(f, "ci/"):
			f = filepath.Join(chartDir, filepath.FromSlash(f))
		default:
			f = filepath.Join("testdata", f)
		}
		args = append(args, "-f", f)
	}
	for _, s := range set {
		if strings.HasPrefix(s, "--") { // a flag such as --include-crds
			args = append(args, s)
			continue
		}
		args = append(args, "--set", s)
	}
	return args
}

// template renders the chart as release/releaseNamespace and returns its objects.
func template(valuesFiles []string, set ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	out, err := templateErr(valuesFiles, set...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

func templateErr(valuesFiles []string, set ...string) ([]*unstructured.Unstructured, error) {
	args := append([]string{"template", release, chartDir, "--namespace", releaseNamespace}, valuesArgs(valuesFiles, set...)...)
	out, err := helm.run(args...)
	if err != nil {
		return nil, err
	}
	return parseObjects(out)
}

// parseObjects splits a YAML stream into objects, skipping empty documents.
func parseObjects(stream string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// gtrAPIVersions makes helm template render as against a cluster where the GlobalTenantResource
// CRD is installed (an upgrade, or crds.install=false with the CRDs applied beforehand).
const gtrAPIVersions = "--api-versions=addons.projectcapsule.dev/v1alpha1/GlobalTenantResource"

// hook is the helm.sh/hook annotation of an object: "" for an ordinary object of the release.
func hook(o *unstructured.Unstructured) string { return o.GetAnnotations()["helm.sh/hook"] }

// installed drops the hooks that do not run on install (the pre-delete ones): what
// `helm install` creates.
func installed(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if h := hook(o); h == "" || strings.Contains(h, "install") {
			out = append(out, o)
		}
	}
	return out
}

// withHook keeps the objects whose helm.sh/hook annotation is h.
func withHook(objs []*unstructured.Unstructured, h string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if hook(o) == h {
			out = append(out, o)
		}
	}
	return out
}

// ofKind keeps the objects of that kind.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// find returns the rendered object of that kind and name, failing when there is none.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	GinkgoHelper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	Fail(fmt.Sprintf("no %s %q among the rendered objects: %v", kind, name, names(objs)))
	return nil
}

// names lists objects as Kind/name, in order.
func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// into converts an unstructured object into a typed one.
func into[T any](u *unstructured.Unstructured) *T {
	GinkgoHelper()
	t := new(T)
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, t)).To(Succeed())
	return t
}

// aggregatedRules are the rules the aggregation controller would give the manager ClusterRole:
// those of every rendered ClusterRole carrying the aggregation label.
func aggregatedRules(objs []*unstructured.Unstructured) []rbacv1.PolicyRule {
	GinkgoHelper()
	var rules []rbacv1.PolicyRule
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" && o.GetLabels()[aggregationLabel] == "true" {
			rules = append(rules, into[rbacv1.ClusterRole](o).Rules...)
		}
	}
	return rules
}

// allows reports whether rules grant verb on group/resource (resource may be "x/sub"),
// for any object name, following the RBAC authorizer's matching of "*".
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	match := func(list []string, v string) bool {
		return slices.Contains(list, "*") || slices.Contains(list, v)
	}
	for _, r := range rules {
		if len(r.ResourceNames) > 0 {
			continue
		}
		if match(r.APIGroups, group) && match(r.Resources, resource) && match(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// readDirFiles returns the contents of the files in dir whose names match keep.
func readDirFiles(dir string, keep func(name string) bool) map[string]string {
	GinkgoHelper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}
	}
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !keep(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		Expect(err).NotTo(HaveOccurred())
		out[e.Name()] = string(b)
	}
	return out
}

// PrometheusOperatorVersion is the prometheus-operator module whose ServiceMonitor and
// PrometheusRule CRDs are installed into the test control plane (YAML only; not in go.mod).
const (
	PrometheusOperatorModule  = "github.com/prometheus-operator/prometheus-operator"
	PrometheusOperatorVersion = "v0.85.0"
	serviceMonitorCRDPath     = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
	prometheusRuleCRDPath     = "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
)

// prometheusOperatorCRDs returns the paths of these files of the prometheus-operator module
// in the module cache, downloading the module from the Go module proxy when needed. It runs
// `go mod download` in an empty directory so that it never touches the repository's go.mod
// or go.sum.
func prometheusOperatorCRDs(files ...string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "chart-moddownload-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	mod := PrometheusOperatorModule + "@" + PrometheusOperatorVersion
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Error != "" || m.Dir == "" || runErr != nil {
		return nil, fmt.Errorf("go mod download -json %s: %v %s %s (stderr: %s)", mod, runErr, err, m.Error, strings.TrimSpace(stderr.String()))
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(m.Dir, filepath.FromSlash(f))
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s has no %s: %w", mod, f, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
