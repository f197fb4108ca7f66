// Package chart_test tests the Helm chart charts/tenantgen with a real helm (v3.22.0, built
// from the Go module proxy by test/scripts/install-helm.sh and passed in $HELM) and a real
// kube-apiserver + etcd (test/testenv, plus the prometheus-operator ServiceMonitor CRD):
//
//   - the chart's copies of the CRDs and samples match their sources;
//   - helm lint --strict and helm template succeed with the default values, with every option
//     on (testdata/all-options.yaml) and with rbac.broadAccess (testdata/broad-access.yaml);
//   - what helm renders (CRDs included) is accepted by the apiserver (server-side apply, dry run);
//   - values.schema.json rejects bad values with a message naming the field;
//   - the controller, run in-process as the chart's ServiceAccount with exactly the chart's
//     RBAC, converges the bundled samples (least privilege is enough) and is refused
//     everything else.
//
// There is no skip: without $HELM or $KUBEBUILDER_ASSETS the suite fails.
package chart_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/projectcapsule/tenantgen/test/testenv"
)

// HelmEnv names the helm binary the suite runs.
const HelmEnv = "HELM"

// The release every spec renders: name, namespace, and the resulting names.
const (
	release          = "tenantgen"
	releaseNamespace = "tenantgen-system"
	fullname         = "tenantgen" // the release name contains the chart name
	aggregationLabel = "rbac.addons.projectcapsule.dev/aggregate-to-tenantgen"
)

var (
	env      *testenv.Env
	helm     *helmCLI
	root     string // repository root
	chartDir string
)

func TestChart(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tenantgen Helm chart (helm + envtest)")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))

	bin := os.Getenv(HelmEnv)
	if bin == "" {
		Fail(HelmEnv + " is not set: run `make chart-test` (or `make test`), or " +
			"`export HELM=\"$(test/scripts/install-helm.sh | tail -n1)\"`, to build helm v3.22.0 from the Go module proxy")
	}
	out, err := exec.Command(bin, "version", "--short").CombinedOutput()
	if err != nil {
		Fail(HelmEnv + "=" + bin + " does not run: " + err.Error() + ": " + string(out))
	}
	Expect(strings.TrimSpace(string(out))).To(HavePrefix("v3."), "%s=%s is not helm v3", HelmEnv, bin)
	helm = newHelmCLI(bin, GinkgoT().TempDir())
	GinkgoWriter.Printf("helm: %s (%s)\n", bin, strings.TrimSpace(string(out)))

	root, err = testenv.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	chartDir = filepath.Join(root, "charts", "tenantgen")

	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error()) // plain message: Gomega's dump of a wrapped error is hard to read
	}
	t0 := time.Now()
	smCRD, err := serviceMonitorCRD()
	if err != nil {
		Fail(err.Error())
	}
	crds, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
		Paths: []string{smCRD}, ErrorIfPathMissing: true, MaxTime: time.Minute,
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(crds).To(HaveLen(1))
	GinkgoWriter.Printf("envtest: control plane %s, %d CRDs in %s, ServiceMonitor CRD (%s) in %s\n",
		env.Timings.ControlPlane, len(env.CRDs), env.Timings.CRDs, PrometheusOperatorVersion, time.Since(t0))

	Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}})).To(Succeed())
})

var _ = AfterSuite(func() {
	Expect(env.Stop()).To(Succeed())
})
