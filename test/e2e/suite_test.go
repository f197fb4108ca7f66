// Package e2e holds the envtest suites of tenantgen: a real kube-apiserver + etcd with
// tenantgen's, Capsule's and the upstream Gateway API, Envoy Gateway and cert-manager CRDs.
package e2e

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/projectcapsule/tenantgen/test/testenv"
)

var env *testenv.Env

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tenantgen e2e (envtest)")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testenv.Start()
	if err != nil {
		Fail(err.Error()) // plain message: Gomega's dump of a wrapped error is hard to read
	}
	GinkgoWriter.Printf("envtest: control plane %s, %d CRDs installed in %s, go mod download %s\n",
		env.Timings.ControlPlane, len(env.CRDs), env.Timings.CRDs, env.Timings.ModuleDownload)
})

var _ = AfterSuite(func() {
	Expect(env.Stop()).To(Succeed())
})
