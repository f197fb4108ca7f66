// Package faults_test stops the tenantgen controller at chosen moments and
// cuts its connection to the apiserver, on a real kube-apiserver + etcd
// (envtest), and checks what product.md §6 promises: a controller killed at
// any moment leaves no orphan, deletes and recreates nothing, and completes
// its prunes after a restart; after an outage it catches up within seconds.
//
// Unlike test/controller, no controller runs for the whole suite: each spec
// starts (and kills) its own.
package faults_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/controller"
	"github.com/projectcapsule/tenantgen/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	// logs collects what the controllers log, for the specs that read it.
	logs = &logBuffer{}
)

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tenantgen faults: kills and outages (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(funcr.New(func(prefix, args string) {
		logs.add(prefix + " " + args)
		fmt.Fprintln(GinkgoWriter, prefix, args)
	}, funcr.Options{}))
	SetDefaultEventuallyTimeout(10 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	var err error
	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error())
	}
	k8s = env.Client
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
})

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// errKilled is what every request of a killed controller gets.
var errKilled = errors.New("the controller was killed")

// killSwitch models a SIGKILL at a chosen request: from the moment its
// trigger matches, no request of the controller reaches the apiserver any
// more, as if the process had vanished. The matching request itself goes
// through (after: true) or not (after: false).
type killSwitch struct {
	mu      sync.Mutex
	next    http.RoundTripper
	trigger func(*http.Request) bool
	after   bool
	dead    bool
	fired   chan struct{}
	// writes counts the controller's mutating requests before the kill.
	writes []string
}

func newKillSwitch() *killSwitch { return &killSwitch{fired: make(chan struct{})} }

// arm sets the trigger; nil disarms it.
func (k *killSwitch) arm(after bool, trigger func(*http.Request) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.trigger, k.after = trigger, after
}

func (k *killSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	k.mu.Lock()
	if k.dead {
		k.mu.Unlock()
		return nil, errKilled
	}
	fire := k.trigger != nil && k.trigger(req)
	if fire && !k.after {
		k.dead = true
		close(k.fired)
		k.mu.Unlock()
		return nil, errKilled
	}
	if isWrite(req) {
		k.writes = append(k.writes, req.Method+" "+req.URL.Path)
	}
	k.mu.Unlock()
	resp, err := k.next.RoundTrip(req)
	if fire {
		k.mu.Lock()
		k.dead = true
		close(k.fired)
		k.mu.Unlock()
	}
	return resp, err
}

func isWrite(req *http.Request) bool {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// running is a controller started by a spec.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	kill   *killSwitch
}

// start runs a controller against cfg (the apiserver, or a proxy to it), its
// requests going through a kill switch.
func start(cfg *rest.Config) *running {
	GinkgoHelper()
	k := newKillSwitch()
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { k.next = rt; return k })
	ctx, cancel := context.WithCancel(context.Background())
	mgr, _, err := controller.NewManager(ctx, cfg, controller.ManagerOptions{
		MetricsAddr: "0", ProbeAddr: "0",
		Options: controller.Options{Workers: 4, SkipNameValidation: true},
	})
	Expect(err).NotTo(HaveOccurred())
	r := &running{cancel: cancel, done: make(chan struct{}), kill: k}
	go func() {
		defer GinkgoRecover()
		defer close(r.done)
		_ = mgr.Start(ctx) // a killed manager ends with errors: that is the point
	}()
	return r
}

// stop ends the controller (after a kill, only its goroutines are left).
func (r *running) stop() {
	GinkgoHelper()
	r.cancel()
	Eventually(r.done, 30*time.Second).Should(BeClosed())
}

// killedBy waits until the kill switch fired, then stops the controller.
func (r *running) killedBy(timeout time.Duration) {
	GinkgoHelper()
	Eventually(r.kill.fired, timeout).Should(BeClosed(), "the kill point was never reached")
	r.stop()
}
