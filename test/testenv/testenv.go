// Package testenv starts a real kube-apiserver + etcd (controller-runtime envtest) with
// every CRD tenantgen's tests need: tenantgen's own (config/crd) and the real, unmodified
// upstream CRDs of Capsule, Gateway API, Envoy Gateway and cert-manager, read at test time
// from their Go module zips in the module cache.
//
// The control-plane binaries come from KUBEBUILDER_ASSETS; `make envtest-assets` builds
// them. There is no skip: without the binaries Start fails.
package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	capsulev1beta2 "github.com/projectcapsule/capsule/api/v1beta2"

	tenantgenv1alpha1 "github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Pinned upstream modules whose CRD YAML is installed. They are deliberately not in
// go.mod: importing their Go code would pull other k8s.io versions into the build.
const (
	// CapsuleModule is also a Go dependency of tenantgen (go.mod pins the same version;
	// a unit test checks that they agree). Its CRDs are the ones its Helm chart installs.
	CapsuleModule  = "github.com/projectcapsule/capsule"
	CapsuleVersion = "v0.14.0"

	GatewayAPIModule  = "sigs.k8s.io/gateway-api"
	GatewayAPIVersion = "v1.6.3" // v1.7.0 declares go 1.27

	EnvoyGatewayModule  = "github.com/envoyproxy/gateway"
	EnvoyGatewayVersion = "v1.9.1"

	CertManagerModule  = "github.com/cert-manager/cert-manager"
	CertManagerVersion = "v1.21.2"
)

const (
	// AssetsEnv names the directory holding the etcd and kube-apiserver binaries.
	AssetsEnv = "KUBEBUILDER_ASSETS"

	modulePath = "github.com/projectcapsule/tenantgen"
)

// crdSource is a set of CRD files and the CRD names that must come out of them; a
// directory that exists but yields fewer CRDs fails Start (ErrorIfPathMissing only
// checks that a path exists).
type crdSource struct {
	module, version string // empty: relative to the repository root
	paths           []string
	want            []string
}

func sources() []crdSource {
	eg := "charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_"
	cm := "deploy/crds/"
	return []crdSource{
		{paths: []string{"config/crd"}, want: []string{"globaltenantresources.addons.projectcapsule.dev", "tenantinventories.addons.projectcapsule.dev"}},
		{
			// Every CRD of Capsule's chart; the directory's .patch files (Helm conversion
			// webhook patches) are not CRDs and envtest reads only .yaml/.yml/.json files.
			module: CapsuleModule, version: CapsuleVersion,
			paths: []string{"charts/capsule/crds"},
			want: []string{
				"capsuleconfigurations.capsule.clastix.io", "customquotas.capsule.clastix.io",
				"globalcustomquotas.capsule.clastix.io", "globalresourcequotas.capsule.clastix.io",
				"globaltenantresources.capsule.clastix.io", "quantityledgers.capsule.clastix.io",
				"resourcepoolclaims.capsule.clastix.io", "resourcepools.capsule.clastix.io",
				"rulestatuses.capsule.clastix.io", "tenantowners.capsule.clastix.io",
				"tenantresources.capsule.clastix.io", "tenants.capsule.clastix.io",
			},
		},
		{
			// Experimental channel, for TLSRoute/TCPRoute/UDPRoute. The directory also holds
			// a ValidatingAdmissionPolicy (vap_safeupgrades) and a kustomization.yaml; envtest
			// reads only CustomResourceDefinition documents and skips both.
			module: GatewayAPIModule, version: GatewayAPIVersion,
			paths: []string{"config/crd/experimental"},
			want: []string{
				"backendtlspolicies.gateway.networking.k8s.io",
				"gatewayclasses.gateway.networking.k8s.io",
				"gateways.gateway.networking.k8s.io",
				"grpcroutes.gateway.networking.k8s.io",
				"httproutes.gateway.networking.k8s.io",
				"listenersets.gateway.networking.k8s.io",
				"referencegrants.gateway.networking.k8s.io",
				"tcproutes.gateway.networking.k8s.io",
				"tlsroutes.gateway.networking.k8s.io",
				"udproutes.gateway.networking.k8s.io",
				"xbackends.gateway.networking.x-k8s.io",
				"xbackendtrafficpolicies.gateway.networking.x-k8s.io",
				"xmeshes.gateway.networking.x-k8s.io",
			},
		},
		{
			// Only Envoy Gateway's own CRDs: its chart also bundles gatewayapi-crds.yaml
			// (Gateway API v1.6.1), which would overwrite the v1.6.3 ones above.
			module: EnvoyGatewayModule, version: EnvoyGatewayVersion,
			paths: []string{
				eg + "backends.yaml", eg + "backendtrafficpolicies.yaml", eg + "clienttrafficpolicies.yaml",
				eg + "envoyextensionpolicies.yaml", eg + "envoypatchpolicies.yaml", eg + "envoyproxies.yaml",
				eg + "httproutefilters.yaml", eg + "securitypolicies.yaml",
			},
			want: []string{
				"backends.gateway.envoyproxy.io", "backendtrafficpolicies.gateway.envoyproxy.io",
				"clienttrafficpolicies.gateway.envoyproxy.io", "envoyextensionpolicies.gateway.envoyproxy.io",
				"envoypatchpolicies.gateway.envoyproxy.io", "envoyproxies.gateway.envoyproxy.io",
				"httproutefilters.gateway.envoyproxy.io", "securitypolicies.gateway.envoyproxy.io",
			},
		},
		{
			module: CertManagerModule, version: CertManagerVersion,
			paths: []string{
				cm + "cert-manager.io_certificaterequests.yaml", cm + "cert-manager.io_certificates.yaml",
				cm + "cert-manager.io_clusterissuers.yaml", cm + "cert-manager.io_issuers.yaml",
				cm + "acme.cert-manager.io_challenges.yaml", cm + "acme.cert-manager.io_orders.yaml",
			},
			want: []string{
				"certificaterequests.cert-manager.io", "certificates.cert-manager.io",
				"clusterissuers.cert-manager.io", "issuers.cert-manager.io",
				"challenges.acme.cert-manager.io", "orders.acme.cert-manager.io",
			},
		},
	}
}

// Timings says where Start spent its time.
type Timings struct {
	ModuleDownload time.Duration // go mod download of the upstream modules (cached: ~0.1 s)
	ControlPlane   time.Duration // etcd + kube-apiserver up and serving
	CRDs           time.Duration // creating every CRD and waiting until all are served
}

// Env is a running test control plane.
type Env struct {
	// Config is a rest.Config of an admin (system:masters) user.
	Config *rest.Config
	// Client uses Scheme.
	Client client.Client
	// Scheme holds client-go's types, apiextensions/v1, tenantgen's API and Capsule's v1beta2.
	Scheme *kruntime.Scheme
	// CRDs are the installed CRDs, sorted by name.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Timings of Start.
	Timings Timings

	env *envtest.Environment
}

// Start resolves the upstream CRD modules, starts etcd + kube-apiserver from
// $KUBEBUILDER_ASSETS and installs every CRD, waiting until all are served.
func Start() (*Env, error) {
	assets := os.Getenv(AssetsEnv)
	if assets == "" {
		return nil, fmt.Errorf("%s is not set: run `make envtest-assets` (or "+
			"`export %s=\"$(test/scripts/install-control-plane.sh | tail -n1)\"`) to build etcd and kube-apiserver", AssetsEnv, AssetsEnv)
	}
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%s=%s has no %s (%w): run `make envtest-assets`", AssetsEnv, assets, bin, err)
		}
	}

	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	srcs := sources()
	t0 := time.Now()
	dirs, err := moduleDirs(srcs)
	if err != nil {
		return nil, err
	}
	var paths, want []string
	for _, s := range srcs {
		base := root
		if s.module != "" {
			base = dirs[s.module+"@"+s.version]
		}
		for _, p := range s.paths {
			paths = append(paths, filepath.Join(base, filepath.FromSlash(p)))
		}
		want = append(want, s.want...)
	}

	sch := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, tenantgenv1alpha1.AddToScheme,
		capsulev1beta2.AddToScheme,
	} {
		if err := add(sch); err != nil {
			return nil, err
		}
	}

	e := &Env{Scheme: sch, Timings: Timings{ModuleDownload: time.Since(t0)}}
	e.env = &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		UseExistingCluster:       new(false), // never install CRDs into a real cluster by accident
		Scheme:                   sch,
		ControlPlaneStartTimeout: time.Minute, // 2 shared cores can be slow
		ControlPlaneStopTimeout:  time.Minute,
	}
	// Without this the apiserver writes the host's IP into default/kubernetes Endpoints
	// (envtest passes no --advertise-address, and 127.0.0.1 is rejected).
	e.env.ControlPlane.GetAPIServer().Configure().Set("endpoint-reconciler-type", "none")

	t1 := time.Now()
	if e.Config, err = e.env.Start(); err != nil {
		_ = e.env.Stop()
		return nil, fmt.Errorf("starting envtest from %s: %w", assets, err)
	}
	e.Timings.ControlPlane = time.Since(t1)

	t2 := time.Now()
	e.CRDs, err = envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{
		Scheme:             sch,
		Paths:              paths,
		ErrorIfPathMissing: true,
		MaxTime:            time.Minute,
	})
	e.Timings.CRDs = time.Since(t2)
	if err == nil {
		err = checkInstalled(e.CRDs, want)
	}
	if err == nil {
		e.Client, err = client.New(e.Config, client.Options{Scheme: sch})
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("installing CRDs: %w", err), e.env.Stop())
	}
	slices.SortFunc(e.CRDs, func(a, b *apiextensionsv1.CustomResourceDefinition) int {
		return strings.Compare(a.Name, b.Name)
	})
	return e, nil
}

// Stop stops kube-apiserver and etcd and removes their temporary directories.
func (e *Env) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	return e.env.Stop()
}

// WriteKubeconfig writes a kubeconfig of the admin (system:masters) user to path
// (mode 0600), e.g. for `kubectl --kubeconfig path` while a test or demo runs.
func (e *Env) WriteKubeconfig(path string) error {
	user, err := e.env.AddUser(envtest.User{Name: "tenantgen-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding envtest user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering kubeconfig: %w", err)
	}
	return os.WriteFile(path, kc, 0o600)
}

// RepoRoot returns the directory of tenantgen's go.mod, found by walking up from the
// working directory (go test runs in the package directory) or else from this file.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(b, modulePath) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no go.mod of %s above %v", modulePath, starts)
}

// declares reports whether the go.mod content gomod declares module path.
func declares(gomod []byte, path string) bool {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

// moduleDirs runs `go mod download -json` for every pinned module (a no-op when cached)
// and returns their extracted directories keyed by module@version. It runs in an empty
// temporary directory so that it never touches the repository's go.mod or go.sum.
func moduleDirs(srcs []crdSource) (map[string]string, error) {
	args := []string{"mod", "download", "-json"}
	for _, s := range srcs {
		if s.module != "" {
			args = append(args, s.module+"@"+s.version)
		}
	}
	tmp, err := os.MkdirTemp("", "testenv-moddownload-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	cmd := exec.Command("go", args...)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()

	dirs := map[string]string{}
	var problems []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go %s: decoding output: %w (stderr: %s)", strings.Join(args, " "), err, stderr.String())
		}
		if m.Error != "" || m.Dir == "" {
			problems = append(problems, fmt.Sprintf("%s@%s: %s", m.Path, m.Version, m.Error))
			continue
		}
		dirs[m.Path+"@"+m.Version] = m.Dir
	}
	for _, a := range args[3:] {
		if _, ok := dirs[a]; !ok && len(problems) == 0 {
			problems = append(problems, a+": not downloaded")
		}
	}
	if runErr != nil {
		problems = append(problems, runErr.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("go %s: %s (stderr: %s)", strings.Join(args, " "),
			strings.Join(problems, "; "), strings.TrimSpace(stderr.String()))
	}
	return dirs, nil
}

func checkInstalled(crds []*apiextensionsv1.CustomResourceDefinition, want []string) error {
	got := map[string]bool{}
	for _, c := range crds {
		got[c.Name] = true
	}
	var missing []string
	for _, n := range want {
		if !got[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("expected CRDs were not installed: %v", missing)
	}
	if len(crds) != len(want) {
		names := make([]string, 0, len(crds))
		for _, c := range crds {
			names = append(names, c.Name)
		}
		slices.Sort(names)
		return fmt.Errorf("installed %d CRDs, expected %d: %v", len(crds), len(want), names)
	}
	return nil
}
