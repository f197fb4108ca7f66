package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/pflag"

	"github.com/projectcapsule/tenantgen/pkg/version"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The Envoy Gateway scenario: fixture tenants, namespaces and routes, and the sample.
var envoyGateway = []string{"-f", "../../contexts/envoy-gateway", "-f", "../../samples/capsule-envoy-gateway.yaml"}

// run runs the command line and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/cli -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test ./pkg/cli -update rewrites it):\n%s", path, diff)
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		args         []string
	}{
		{"every tenant as YAML", "envoy-gateway.yaml", nil},
		{"one tenant as JSON", "envoy-gateway-solar.json", []string{"--tenant", "solar", "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append(append([]string{"render"}, envoyGateway...), tc.args...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			golden(t, tc.golden, stdout)
		})
	}
}

func TestRenderJSONIsAList(t *testing.T) {
	code, stdout, stderr := run(t, append([]string{"render", "--tenant", "solar", "-o", "json"}, envoyGateway...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Items      []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var got []string
	for _, it := range list.Items {
		got = append(got, it.Kind+" "+it.Metadata.Name+" "+it.Metadata.Labels["addons.projectcapsule.dev/tenant"])
	}
	want := []string{"EnvoyProxy tenant-solar-gateway solar", "Gateway tenant-solar-gateway solar", "Issuer solar-acme-http solar"}
	if list.APIVersion != "v1" || list.Kind != "List" || !cmp.Equal(want, got) {
		t.Errorf("got %s %s %v, want v1 List %v", list.APIVersion, list.Kind, got, want)
	}
}

func TestRenderErrors(t *testing.T) {
	// Fails for the tenants without spec.data (oil, wind) at template line 3.
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte(`# a GTR whose template fails for some tenants
apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: broken}
spec:
  scope: Tenant
  resources:
    - generators:
        - template: |
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: net, namespace: "tenant-{{ $.tenant.metadata.name }}-system", annotations: {x: "{{ $.tenant.spec.data.networking }}"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		stdout string   // a substring; "" for none at all
		stderr []string // substrings
	}{{
		name:   "unknown tenant",
		args:   append([]string{"render", "--tenant", "nope"}, envoyGateway...),
		stderr: []string{"error: tenant \"nope\" is not in the input (tenants: oil, solar, wind)\n"},
	}, {
		name:   "a broken template",
		args:   []string{"render", "-f", "../../contexts/envoy-gateway", "-f", broken},
		stdout: "name: net\n  namespace: tenant-solar-system", // the tenant that renders is still printed
		stderr: []string{
			"error: " + broken + `:1: globaltenantresource "broken", tenant "oil", resources[0].generators[0] line 3: at <$.tenant.spec.data.networking>: map has no entry for key "data"`,
			`tenant "wind", resources[0].generators[0] line 3`,
			"  > 3 | metadata: {name: net",
		},
	}, {
		name:   "no input",
		args:   []string{"render"},
		stderr: []string{"error: no input: give at least one -f PATH\n"},
	}, {
		name:   "unknown output format",
		args:   append([]string{"render", "-o", "xml"}, envoyGateway...),
		stderr: []string{`error: -o "xml": use yaml or json`},
	}, {
		name:   "no GlobalTenantResource",
		args:   []string{"render", "-f", "../../contexts/envoy-gateway"},
		stderr: []string{"error: no GlobalTenantResource in [../../contexts/envoy-gateway]"},
	}, {
		name:   "a missing file",
		args:   []string{"render", "-f", "nope.yaml"},
		stderr: []string{"error: stat nope.yaml: no such file or directory"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if (tc.stdout == "") != (stdout == "") || !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := run(t, "version")
	if code != 0 || !regexp.MustCompile(`^tenantgen \S+ \(go\S+, \w+/\w+\)\n$`).MatchString(stdout) {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	defer func(v string) { version.Version = v }(version.Version)
	version.Version = "v1.2.3"
	if _, stdout, _ := run(t, "version"); !strings.HasPrefix(stdout, "tenantgen v1.2.3 (go") {
		t.Errorf("stdout %q", stdout)
	}
	if code, _, stderr := run(t, "version", "extra"); code != 1 || !strings.Contains(stderr, `unknown command "extra"`) {
		t.Errorf("version with an argument: exit %d, %q", code, stderr)
	}
}

func TestConvert(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.yaml")
	// A List as `kubectl get -o yaml` prints it, with a Capsule GTR and another object.
	if err := os.WriteFile(in, []byte(`apiVersion: v1
kind: List
items:
- apiVersion: capsule.clastix.io/v1beta2
  kind: GlobalTenantResource
  metadata: {name: cm, uid: 0b5e3a1c-1d2e-4f00-9a6b-1c2d3e4f5a6b}
  spec:
    scope: Tenant
    resources:
    - generators:
      - template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: cm, namespace: "{{ index $.tenant.status.namespaces 0 }}"}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: other, namespace: default}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "convert", "-f", in)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := `apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata:
  name: cm
spec:
  resources:
  - generators:
    - missingKey: zero
      template: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm, namespace: "{{ index $.tenant.status.namespaces 0 }}"}
  scope: Tenant
`
	if d := cmp.Diff(want, stdout); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	for _, line := range []string{
		`default: ` + in + `:1: globaltenantresource "cm", resources[0].generators[0]: missingKey: zero (Capsule's default; tenantgen's default is error)`,
		`warning: ` + in + `:1: globaltenantresource "cm": write policy: tenantgen force-applies`,
		`warning: ` + in + `:1: ConfigMap "other" is not a Capsule GlobalTenantResource; left out`,
	} {
		if !strings.Contains(stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, stderr)
		}
	}

	if err := os.WriteFile(in, []byte("apiVersion: capsule.clastix.io/v1beta2\nkind: GlobalTenantResource\nmetadata: {name: bad}\nspec: {resources: [], bogus: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, "convert", "-f", in)
	if code != 1 || stdout != "" || !strings.Contains(stderr, `unknown field "bogus"`) {
		t.Errorf("invalid input: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// render and test enforce the write policy as the controller does: a
// GlobalTenantResource whose template writes where its policy does not allow
// fails, naming the object and the rule, and prints nothing of that tenant.
func TestWritePolicyInRenderAndTest(t *testing.T) {
	dir := t.TempDir()
	gtr := `apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: sneaky}
spec:
  scope: Tenant
  policy:
    allowedKinds: [{group: "", kind: ConfigMap}]
    allowedNamespaces: ["tenant-{{tenant.name}}-system"]
  resources:
    - rawItems:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: ok, namespace: "tenant-{{tenant.name}}-system"}}
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: pwn, namespace: kube-system}}
`
	if err := os.WriteFile(filepath.Join(dir, "gtr.yaml"), []byte(gtr), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "render", "-f", "../../contexts/envoy-gateway", "-f", filepath.Join(dir, "gtr.yaml"), "--tenant", "solar")
	const rule = `ConfigMap kube-system/pwn: refused by the write policy: namespace "kube-system" matches no pattern of spec.policy.allowedNamespaces [tenant-{{tenant.name}}-system]`
	if code != 1 || !strings.Contains(stderr, rule) || strings.Contains(stdout, "name: ok") {
		t.Errorf("render: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// Inputs of a test file are relative to it.
	abs, _ := filepath.Abs("../../contexts/envoy-gateway")
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		t.Fatal(err)
	}
	test := "inputs: [" + rel + ", gtr.yaml]\ncases:\n  - {name: refused, tenant: solar, error: 'refused by the write policy: namespace \"kube-system\"'}\n"
	if err := os.WriteFile(filepath.Join(dir, "gtr.test.yaml"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := run(t, "test", dir); code != 0 || !strings.Contains(stdout, "1 passed, 0 failed") {
		t.Errorf("test: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestTestCommandEdges(t *testing.T) {
	contexts, err := filepath.Abs("../../contexts/envoy-gateway")
	if err != nil {
		t.Fatal(err)
	}
	gtr := `apiVersion: addons.projectcapsule.dev/v1alpha1
kind: GlobalTenantResource
metadata: {name: cm}
spec:
  scope: Tenant
  resources:
    - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: cm, namespace: "tenant-{{tenant.name}}-system"}}]
`
	for _, tc := range []struct {
		name  string
		files map[string]string // written under a fresh directory; {abs} is replaced by the contexts' absolute path
		args  []string          // {dir} is replaced by that directory; nil runs in it without arguments
		code  int
		want  []string // substrings of stdout and stderr together
		once  string   // a substring that must appear exactly once
	}{{
		name: "an empty directory is named",
		code: 1,
		want: []string{"error: no .test.yaml files under . ({dir})"},
	}, {
		name:  "a GlobalTenantResource given as a test file",
		files: map[string]string{"gtr.yaml": gtr},
		args:  []string{"test", "{dir}/gtr.yaml"},
		code:  1,
		want: []string{
			"{dir}/gtr.yaml is a GlobalTenantResource (addons.projectcapsule.dev/v1alpha1), not a test file. A test file, named *.test.yaml",
			"    inputs:\n           - gtr.yaml\n",
			"Then run: tenantgen test {dir}/gtr.test.yaml",
		},
	}, {
		name: "absolute inputs are kept as they are",
		files: map[string]string{"sub/gtr.yaml": gtr,
			"sub/gtr.test.yaml": "inputs: [{abs}, gtr.yaml]\ncases:\n  - {name: three, assert: [{kind: ConfigMap, count: 3}]}\n"},
		args: []string{"test", "{dir}"},
		want: []string{"1 passed, 0 failed"},
	}, {
		name: "a failure shared by every case is printed once",
		files: map[string]string{"gtr.yaml": strings.Replace(gtr, "scope: Tenant", "scope: Tenant\n  scop: x", 1),
			"gtr.test.yaml": "inputs: [{abs}, gtr.yaml]\ncases:\n  - {name: one, assert: [{kind: ConfigMap, count: 3}]}\n  - {name: two, assert: [{kind: ConfigMap, count: 1}]}\n"},
		args: []string{"test", "{dir}"},
		code: 1,
		want: []string{
			"FAIL {dir}/gtr.test.yaml: one\n     render failed:\n     {dir}/gtr.yaml:6: globaltenantresource \"cm\": spec.scop: unknown field\n",
			"FAIL {dir}/gtr.test.yaml: two\n     the same failure as case \"one\"\n",
			"0 passed, 2 failed",
		},
		once: "spec.scop: unknown field",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "{abs}", contexts)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"test"}
			if tc.args == nil {
				t.Chdir(dir)
			} else {
				args = nil
				for _, a := range tc.args {
					args = append(args, strings.ReplaceAll(a, "{dir}", dir))
				}
			}
			code, stdout, stderr := run(t, args...)
			out := stdout + stderr
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "{dir}", dir); !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.once != "" && strings.Count(out, tc.once) != 1 {
				t.Errorf("%q appears %d times, want once:\n%s", tc.once, strings.Count(out, tc.once), out)
			}
		})
	}
}

func TestVersionOutput(t *testing.T) {
	defer func(v string) { version.Version = v }(version.Version)
	version.Version = "v1.2.3"
	code, stdout, stderr := run(t, "version", "-o", "json")
	var info map[string]string
	if err := json.Unmarshal([]byte(stdout), &info); code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v, stdout %q, stderr %q", code, err, stdout, stderr)
	}
	if info["version"] != "v1.2.3" || !strings.HasPrefix(info["goVersion"], "go") || !strings.Contains(info["platform"], "/") {
		t.Errorf("-o json: %v", info)
	}
	code, stdout, _ = run(t, "version", "-o", "yaml")
	if code != 0 || !strings.Contains(stdout, "version: v1.2.3\n") || !strings.Contains(stdout, "goVersion: go") {
		t.Errorf("-o yaml: exit %d, %q", code, stdout)
	}
	if code, _, stderr := run(t, "version", "-o", "xml"); code != 1 || !strings.Contains(stderr, `-o "xml": use json or yaml`) {
		t.Errorf("-o xml: exit %d, %q", code, stderr)
	}
}

// Shell completion, through the hidden command the completion scripts call.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // the values offered, in order
	}{
		{"render -o", []string{"render", "-o", ""}, []string{"yaml", "json"}},
		{"version -o", []string{"version", "-o", ""}, []string{"json", "yaml"}},
		{"--tenant from the -f inputs", append(append([]string{"render"}, envoyGateway...), "--tenant", ""), []string{"oil", "solar", "wind"}},
		{"--tenant as far as typed", append(append([]string{"render"}, envoyGateway...), "--tenant", "s"), []string{"solar"}},
		{"--tenant without readable inputs", []string{"render", "-f", "nope.yaml", "--tenant", ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, _ := run(t, append([]string{"__complete"}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			// The last line is the directive: 4 forbids completing file names.
			if code != 0 || len(lines) == 0 || lines[len(lines)-1] != ":4" {
				t.Fatalf("exit %d, stdout %q", code, stdout)
			}
			if diff := cmp.Diff(tc.want, lines[:len(lines)-1], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

// The controller takes controller-runtime's logging flags, as kubebuilder
// scaffolds them.
func TestControllerLogFlags(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		dev         bool
		info, debug bool // whether V(0) and V(1) log
	}{
		{"default: info", nil, false, true, false},
		{"--zap-log-level=debug", []string{"--zap-log-level=debug"}, false, true, true},
		{"--zap-log-level=error", []string{"--zap-log-level=error"}, false, false, false},
		{"--zap-log-level=2 (verbosity)", []string{"--zap-log-level=2"}, false, true, true},
		{"--zap-devel means debug", []string{"--zap-devel"}, false, true, true},
		{"--dev-logs is --zap-devel", nil, true, true, true},
		{"a level beats --dev-logs", []string{"--zap-log-level=info"}, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			opts := bindLogFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			l := newLogger(opts, tc.dev)
			if l.V(0).Enabled() != tc.info || l.V(1).Enabled() != tc.debug {
				t.Errorf("info %v, debug %v; want %v, %v", l.V(0).Enabled(), l.V(1).Enabled(), tc.info, tc.debug)
			}
		})
	}
	// A bad value fails before anything connects to a cluster.
	code, _, stderr := run(t, "controller", "--zap-log-level=loud")
	if code != 1 || !strings.Contains(stderr, `invalid argument "loud" for "--zap-log-level" flag: invalid log level "loud"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, stdout, _ := run(t, "controller", "--help")
	for _, flag := range []string{"--zap-log-level level", "--zap-devel", "--zap-encoder", "--dev-logs"} {
		if code != 0 || !strings.Contains(stdout, flag) {
			t.Errorf("help lacks %s", flag)
		}
	}
}

// What render says about input a new user gets wrong.
func TestRenderInputMistakes(t *testing.T) {
	gtr := func(apiVersion, kind, name, extra string) string {
		return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: " + name + "\nspec:\n  scope: Tenant" + extra +
			"\n  resources:\n    - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: " + name + ", namespace: \"tenant-{{tenant.name}}-system\"}}]\n"
	}
	ours := "addons.projectcapsule.dev/v1alpha1"
	for _, tc := range []struct {
		name   string
		second string // a second GlobalTenantResource, beside a good one
		code   int
		stderr string // the whole of stderr, {f} for the second file's path
	}{
		{"a misspelt kind", gtr(ours, "GlobalTenantResorce", "typo", ""), 1,
			"error: {f}:2: GlobalTenantResorce \"typo\": kind \"GlobalTenantResorce\" is not a kind of addons.projectcapsule.dev; its kinds are GlobalTenantResource, TenantInventory\n"},
		{"a version not served", gtr("addons.projectcapsule.dev/v1alpha2", "GlobalTenantResource", "v2", ""), 1,
			"error: {f}:1: GlobalTenantResource \"v2\": apiVersion \"addons.projectcapsule.dev/v1alpha2\" is not served: addons.projectcapsule.dev serves version v1alpha1 only\n"},
		{"an unknown field", gtr(ours, "GlobalTenantResource", "unk", "\n  scop: Tenant"), 1,
			"error: {f}:7: globaltenantresource \"unk\": spec.scop: unknown field\n"},
		{"a duration without a unit", gtr(ours, "GlobalTenantResource", "resync", "\n  resyncPeriod: 30"), 1,
			"error: {f}:7: globaltenantresource \"resync\": spec.resyncPeriod: 30 is not a duration; write e.g. 30s\n"},
		{"selects no tenant: a note, exit 0", gtr(ours, "GlobalTenantResource", "nobody", "\n  tenantSelector: {matchLabels: {tier: gold}}"), 0,
			"note: {f}:1: globaltenantresource \"nobody\" renders nothing: its tenantSelector (tier=gold) selects no tenant (tenants in the input: oil, solar, wind)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good, second := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "second.yaml")
			if err := os.WriteFile(good, []byte(gtr(ours, "GlobalTenantResource", "good", "")), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(second, []byte(tc.second), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "render", "-f", "../../contexts/envoy-gateway", "-f", good, "-f", second)
			if want := strings.ReplaceAll(tc.stderr, "{f}", second); code != tc.code || stderr != want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, tc.code, want)
			}
			if rendered := strings.Contains(stdout, "name: good\n"); rendered != (tc.code == 0) {
				t.Errorf("the good GlobalTenantResource rendered: %v, stdout:\n%s", rendered, stdout)
			}
		})
	}
}

// The controller loads its kubeconfig as kubectl does, and --context picks
// one of its contexts: an unknown one fails before anything starts.
func TestControllerKubeconfigFlags(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: a, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: a, user: {token: x}}]
contexts: [{name: a, context: {cluster: a, user: a}}]
current-context: a
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "controller", "--kubeconfig", kubeconfig, "--context", "nope", "--leader-elect=false")
	if code != 1 || !strings.Contains(stderr, `context "nope" does not exist`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, stdout, _ := run(t, "controller", "--help")
	for _, want := range []string{"--context string", "$KUBECONFIG, then ~/.kube/config, then the in-cluster config", "--zap-log-level"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("controller --help lacks %q", want)
		}
	}
}

// The chart passes limits.memory in bytes; people on the command line write
// quantities. Both give the same soft limit, and a bad value is an error
// that names the flag, not a silent "no limit".
func TestSoftMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		limit   string
		percent int
		want    int64
		err     string
	}{
		{limit: "1Gi", percent: 90, want: 966367641},
		{limit: "1073741824", percent: 90, want: 966367641},
		{limit: "512Mi", percent: 100, want: 536870912},
		{limit: "lots", percent: 90, err: `--memory-limit "lots"`},
		{limit: "0", percent: 90, err: "want a positive size"},
		{limit: "1Gi", percent: 0, err: "--memory-limit-percent 0"},
		{limit: "1Gi", percent: 120, err: "--memory-limit-percent 120"},
	} {
		got, err := softMemoryLimit(tc.limit, tc.percent)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s at %d%%: error %v, want one with %q", tc.limit, tc.percent, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s at %d%%: %d, %v; want %d", tc.limit, tc.percent, got, err, tc.want)
		}
	}
}
