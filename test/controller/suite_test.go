// Package controller_test runs the tenantgen controller in-process against a real
// kube-apiserver + etcd (envtest, see test/testenv) with the real Gateway API, Envoy
// Gateway, cert-manager and Capsule CRDs (Capsule's from its Go module), and checks the behaviour of
// product.md §3 by looking only at what the apiserver shows: generated objects,
// GlobalTenantResource status, and the writes the controller sends.
//
// Every spec creates its own uniquely named tenants, namespaces and
// GlobalTenantResources and deletes the tenants and GlobalTenantResources when it
// ends (Ginkgo shuffles top-level containers). GlobalTenantResources use a resync
// period of one hour unless a spec is about the resync, so what a spec observes
// is the event-driven path.
package controller_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

var (
	env *testenv.Env
	// k8s is the tests' own admin client; its requests are not counted as controller writes.
	k8s client.Client
	// writes counts the mutating requests the controller sends.
	writes = &writeCounter{}
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tenantgen controller (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(5 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	SetDefaultConsistentlyDuration(time.Second)
	SetDefaultConsistentlyPollingInterval(50 * time.Millisecond)

	var err error
	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error())
	}
	k8s = env.Client
	GinkgoWriter.Printf("envtest: control plane %s, %d CRDs installed in %s\n",
		env.Timings.ControlPlane, len(env.CRDs), env.Timings.CRDs)

	// The controller's config counts every mutating request it (or any client
	// derived from it, impersonating ones included) sends.
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, counter: writes}
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr, _, err := controller.NewManager(ctx, cfg, controller.ManagerOptions{
		MetricsAddr: "0", ProbeAddr: "0", LeaderElection: false,
		Options: controller.Options{Workers: 4},
	})
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
	// Generated Gateways and Issuers are healthy only once their controllers
	// say so: the stand-in plays Envoy Gateway and cert-manager, except for
	// the objects whose status a spec sets itself (manualLabel).
	standIn, err := testenv.StartStandIn(ctx, env.Config, testenv.StandInOptions{
		Filter: func(u *unstructured.Unstructured) bool { return u.GetLabels()[manualLabel] == "" },
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		standIn.Stop()
		cancel()
		Eventually(done, 30*time.Second).Should(BeClosed())
		Expect(env.Stop()).To(Succeed())
	})
})

// writeCounter records the mutating requests sent through countingTransport.
type writeCounter struct {
	mu   sync.Mutex
	reqs []string
}

func (w *writeCounter) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reqs = append(w.reqs, s)
}

// count returns how many writes were sent so far.
func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.reqs)
}

// since returns the writes sent after the first n.
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
		t.counter.add(req.Method + " " + req.URL.RequestURI())
	}
	return t.next.RoundTrip(req)
}
