// Package chart_test tests the Helm chart charts/tenantgen with a real helm (v3.22.0, built
// from the Go module proxy by test/scripts/install-helm.sh and passed in $HELM) and a real
// kube-apiserver + etcd (test/testenv, plus the prometheus-operator ServiceMonitor and
// PrometheusRule CRDs), and the chart's alerts with a real promtool (built from the Go module
// proxy by test/scripts/install-promtool.sh and passed in $PROMTOOL):
//
//   - the chart's copies of the CRDs and samples match their sources;
//   - helm lint --strict and helm template succeed with the default values and with each of the
//     chart's ci/*.yaml (every option on, rbac.broadAccess, every sample, external CRDs);
//   - what helm renders (CRDs included) is accepted by the apiserver (server-side apply, dry run);
//   - include lists ("*", [], overlapping files), the CRDs as templates (crds.install/keep),
//     and the GlobalTenantResources as post-install hooks before the CRD exists;
//   - helm install, upgrade (an older CRD updated) and uninstall; on uninstall the pre-delete
//     hooks have the GlobalTenantResources finalized before Helm deletes the controller;
//   - charts/tenantgen/README.md is what helm-docs ($HELM_DOCS) generates;
//   - values.schema.json rejects bad values with a message naming the field;
//   - the PrometheusRule passes `promtool check rules` and the unit tests of
//     testdata/rules.test.yaml (`promtool test rules`): each alert fires, and only when it should;
//   - the Grafana dashboard's JSON parses and its queries name only the controller's metrics;
//   - the controller, run in-process as the chart's ServiceAccount with exactly the chart's
//     RBAC, converges the bundled samples (least privilege is enough) and is refused
//     everything else.
//
// There is no skip: without $HELM, $PROMTOOL, $HELM_DOCS or $KUBEBUILDER_ASSETS the suite fails.
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

// HelmEnv and PromtoolEnv name the helm and promtool binaries the suite runs.
const (
	HelmEnv     = "HELM"
	PromtoolEnv = "PROMTOOL"
)

// The release every spec renders: name, namespace, and the resulting names.
const (
	release          = "tenantgen"
	releaseNamespace = "tenantgen-system"
	fullname         = "tenantgen" // the release name contains the chart name
	aggregationLabel = "rbac.addons.projectcapsule.dev/aggregate-to-tenantgen"
	// Where testdata/all-options.yaml puts the PrometheusRule and the dashboard ConfigMap.
	monitoringNamespace = "monitoring"
)

var (
	env      *testenv.Env
	helm     *helmCLI
	promtool string
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

	promtool = os.Getenv(PromtoolEnv)
	if promtool == "" {
		Fail(PromtoolEnv + " is not set: run `make chart-test` (or `make test`), or " +
			"`export PROMTOOL=\"$(test/scripts/install-promtool.sh | tail -n1)\"`, to build promtool from the Go module proxy")
	}
	out, err = exec.Command(promtool, "--version").CombinedOutput()
	if err != nil {
		Fail(PromtoolEnv + "=" + promtool + " does not run: " + err.Error() + ": " + string(out))
	}
	Expect(string(out)).To(HavePrefix("promtool, version 3."), "%s=%s is not promtool 3", PromtoolEnv, promtool)
	GinkgoWriter.Printf("promtool: %s (%s)\n", promtool, strings.SplitN(string(out), "\n", 2)[0])

	root, err = testenv.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	chartDir = filepath.Join(root, "charts", "tenantgen")

	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error()) // plain message: Gomega's dump of a wrapped error is hard to read
	}
	t0 := time.Now()
	operatorCRDs, err := prometheusOperatorCRDs(serviceMonitorCRDPath, prometheusRuleCRDPath)
	if err != nil {
		Fail(err.Error())
	}
	crds, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
		Paths: operatorCRDs, ErrorIfPathMissing: true, MaxTime: time.Minute,
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(crds).To(HaveLen(2))
	GinkgoWriter.Printf("envtest: control plane %s, %d CRDs in %s, ServiceMonitor and PrometheusRule CRDs (%s) in %s\n",
		env.Timings.ControlPlane, len(env.CRDs), env.Timings.CRDs, PrometheusOperatorVersion, time.Since(t0))

	for _, ns := range []string{releaseNamespace, monitoringNamespace} {
		Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}
})

var _ = AfterSuite(func() {
	Expect(env.Stop()).To(Succeed())
})
