// Package capsule_test runs the real Capsule v0.14.0 manager (built from the Go module
// proxy by test/scripts/install-capsule.sh, path in $CAPSULE_MANAGER) as a subprocess
// next to tenantgen's controller (in-process) on one envtest control plane with
// Capsule's real CRDs, and checks what the two do together: Capsule fills Tenant
// status from namespace ownerReferences, tenantgen renders from it, both
// GlobalTenantResource kinds run side by side without fighting, and a Capsule
// GlobalTenantResource migrates to tenantgen with its objects taken over in place.
//
// Capsule's health probe is fixed at :10080, so this is the only package that starts
// Capsule, and a file lock keeps two runs on one machine (go test runs packages in
// parallel; other clones may run too) from starting two managers at once.
package capsule_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

// ManagerEnv names the Capsule manager binary (make test sets it from install-capsule.sh).
const ManagerEnv = "CAPSULE_MANAGER"

// capsuleProbe is the manager's health probe address; v0.14.0 has no flag for it.
const capsuleProbe = "127.0.0.1:10080"

var (
	env *testenv.Env
	k8s client.Client
	// writes counts the mutating requests tenantgen's controller sends.
	writes = &writeCounter{}
	// capsuleLog holds the manager's output (printed when the suite fails).
	capsuleLog *os.File
	// timeline records when things happened, for the suite's report.
	timeline = &report{}
	// capsuleMetrics is the manager's metrics address.
	capsuleMetrics string
)

func TestCapsule(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Capsule v0.14.0 manager next to tenantgen (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)

	bin := os.Getenv(ManagerEnv)
	if bin == "" {
		Fail(ManagerEnv + " is not set: run `export " + ManagerEnv + "=\"$(test/scripts/install-capsule.sh | tail -n1)\"` (make test does)")
	}
	if _, err := os.Stat(bin); err != nil {
		Fail(fmt.Sprintf("%s=%s: %v", ManagerEnv, bin, err))
	}
	lockProbePort()

	var err error
	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error())
	}
	k8s = env.Client
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
	GinkgoWriter.Printf("envtest: control plane %s, %d CRDs installed in %s\n",
		env.Timings.ControlPlane, len(env.CRDs), env.Timings.CRDs)

	startCapsule(bin)
	startTenantgen()
})

// anyFailed makes the suite print the end of the Capsule manager's log.
var anyFailed atomic.Bool

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		anyFailed.Store(true)
	}
})

var _ = ReportAfterSuite("what Capsule and tenantgen did", func(r Report) {
	timeline.print()
})

// lockProbePort takes an exclusive lock for the fixed probe port for the rest of the
// process, waiting for another run to finish; the kernel drops it when the process ends.
func lockProbePort() {
	GinkgoHelper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "tenantgen-capsule-10080.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	Expect(err).NotTo(HaveOccurred())
	deadline := time.Now().Add(10 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			Fail("another test run holds the Capsule probe-port lock for more than 10 minutes")
		}
		time.Sleep(time.Second)
	}
	DeferCleanup(func() { _ = f.Close() })
	if l, err := net.Listen("tcp", ":10080"); err != nil {
		Fail(fmt.Sprintf("port 10080 (Capsule's fixed health probe) is in use by another process: %v", err))
	} else {
		_ = l.Close()
	}
}

// startCapsule runs the manager as Capsule's chart would, minus what needs a cluster:
// a kubeconfig of a system:masters user, NAMESPACE/SERVICE_ACCOUNT, a CapsuleConfiguration
// "default" with an admission stanza and no webhooks (so the apiserver never calls it),
// a throwaway self-signed webhook certificate and free ports.
func startCapsule(bin string) {
	GinkgoHelper()
	ctx := context.Background()
	dir := GinkgoT().TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	Expect(env.WriteKubeconfig(kubeconfig)).To(Succeed())
	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o700)).To(Succeed())
	writeSelfSignedCert(certDir)

	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "capsule-system"}})).To(Succeed())
	Expect(k8s.Create(ctx, obj(`
apiVersion: capsule.clastix.io/v1beta2
kind: CapsuleConfiguration
metadata:
  name: default
spec:
  admission:
    validating: {name: capsule-validating, client: {url: "https://127.0.0.1:1/validate"}}
    mutating: {name: capsule-mutating, client: {url: "https://127.0.0.1:1/mutate"}}
`))).To(Succeed())

	var err error
	capsuleLog, err = os.Create(filepath.Join(dir, "capsule.log"))
	Expect(err).NotTo(HaveOccurred())
	capsuleMetrics = fmt.Sprintf("127.0.0.1:%d", freePort())
	cmd := exec.Command(bin,
		"--webhook-port", fmt.Sprint(freePort()),
		"--metrics-addr", capsuleMetrics,
		"--webhook-cert-path", certDir,
		"--configuration-name", "default",
	)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "NAMESPACE=capsule-system", "SERVICE_ACCOUNT=capsule")
	cmd.Stdout, cmd.Stderr = capsuleLog, capsuleLog
	t0 := time.Now()
	Expect(cmd.Start()).To(Succeed())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	DeferCleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if anyFailed.Load() || os.Getenv("CAPSULE_LOG") != "" {
			dumpCapsuleLog()
		}
	})

	healthy := func() bool {
		resp, err := http.Get("http://" + capsuleProbe + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(60 * time.Second)
	for !healthy() {
		select {
		case err := <-exited:
			dumpCapsuleLog()
			Fail(fmt.Sprintf("the Capsule manager exited at start: %v", err))
		default:
		}
		if time.Now().After(deadline) {
			dumpCapsuleLog()
			Fail("the Capsule manager was not healthy within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	timeline.add("Capsule v0.14.0 manager started and healthy in %s (pid %d)", time.Since(t0).Round(time.Millisecond), cmd.Process.Pid)
}

// capsuleReconciles is how many reconciles a controller of the Capsule manager ran
// (controller-runtime's controller_runtime_reconcile_total, summed over results).
func capsuleReconciles(controller string) int {
	GinkgoHelper()
	resp, err := http.Get("http://" + capsuleMetrics + "/metrics")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	total := 0
	re := regexp.MustCompile(`(?m)^controller_runtime_reconcile_total\{([^}]*)\} (\d+)`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		if strings.Contains(m[1], `controller="`+controller+`"`) {
			n, _ := strconv.Atoi(m[2])
			total += n
		}
	}
	return total
}

// tenantgenReconciles is the same count for a controller of tenantgen's in-process manager.
func tenantgenReconciles(controller string) int {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					total += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return total
}

func dumpCapsuleLog() {
	b, err := os.ReadFile(capsuleLog.Name())
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 200 {
		lines = lines[len(lines)-200:]
	}
	// To stdout: go test prints a failing package's output.
	fmt.Printf("---- last lines of the Capsule manager's log (%s) ----\n%s\n", capsuleLog.Name(), strings.Join(lines, "\n"))
}

// startTenantgen runs tenantgen's controller in-process, counting its writes.
func startTenantgen() {
	GinkgoHelper()
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, counter: writes}
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr, _, err := controller.NewManager(ctx, cfg, controller.ManagerOptions{
		MetricsAddr: "0", ProbeAddr: "0", Options: controller.Options{Workers: 4},
	})
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
	DeferCleanup(func() {
		cancel()
		Eventually(done, 30*time.Second).Should(BeClosed())
	})
}

func freePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// writeSelfSignedCert writes tls.crt and tls.key for the webhook server's certificate
// watcher; nothing ever connects to it.
func writeSelfSignedCert(dir string) {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "capsule-webhook.test"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)).To(Succeed())
}

// writeCounter records the mutating requests sent through countingTransport.
type writeCounter struct {
	mu   sync.Mutex
	reqs []string
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.reqs)
}

func (w *writeCounter) since(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.reqs[n:]...)
}

type countingTransport struct {
	next    http.RoundTripper
	counter *writeCounter
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		t.counter.mu.Lock()
		t.counter.reqs = append(t.counter.reqs, req.Method+" "+req.URL.RequestURI())
		t.counter.mu.Unlock()
	}
	return t.next.RoundTrip(req)
}

// report collects lines about what each controller did, printed after the suite.
type report struct {
	mu    sync.Mutex
	lines []string
}

func (r *report) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	r.lines = append(r.lines, line)
	GinkgoWriter.Println("REPORT:", line)
}

func (r *report) print() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	b.WriteString("==== Capsule v0.14.0 + tenantgen e2e ====\n")
	for _, l := range r.lines {
		b.WriteString("  " + l + "\n")
	}
	// To stdout, so that `go test` shows it even when the suite passes.
	fmt.Print(b.String())
}
