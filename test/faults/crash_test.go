package faults_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
)

// Kill points, as the requests at which the controller dies.
func inventoryWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch: // created, then replaced
		return strings.Contains(r.URL.Path, "/tenantinventories")
	}
	return false
}

func objectApply(r *http.Request) bool {
	return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/configmaps/")
}

func objectDelete(r *http.Request) bool {
	return r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/configmaps/")
}

// nth matches the n-th request that pred matches.
func nth(n int, pred func(*http.Request) bool) func(*http.Request) bool {
	var mu sync.Mutex
	seen := 0
	return func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if pred(r) {
			seen++
			return seen == n
		}
		return false
	}
}

// firstAfter matches the first request matching pred once one matching
// before went through.
func firstAfter(before, pred func(*http.Request) bool) func(*http.Request) bool {
	var mu sync.Mutex
	armed := false
	return func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if armed && pred(r) {
			return true
		}
		if before(r) {
			armed = true
		}
		return false
	}
}

// tenantsOf creates n tenants for a spec.
func tenantsOf(ctx SpecContext, id string, n int) []string {
	var out []string
	for range n {
		t := uniq("ct")
		createTenant(ctx, id, t)
		out = append(out, t)
	}
	return out
}

// objectsOf are the keys of the ConfigMaps the spec's GTR renders for tenants.
func objectsOf(tenants []string, per int) []string {
	var out []string
	for _, t := range tenants {
		for i := range per {
			out = append(out, fmt.Sprintf("%s-prod/cm%d", t, i))
		}
	}
	sort.Strings(out) // as keys() returns them: "x-10" sorts before "x-9"
	return out
}

// sameUIDs checks that the objects that existed before the restart and are
// still rendered kept their uid: nothing was deleted and recreated.
func sameUIDs(before, after map[string]types.UID, tenants []string) {
	GinkgoHelper()
	for key, uid := range before {
		for _, t := range tenants {
			if strings.HasPrefix(key, t+"-prod/") {
				Expect(after).To(HaveKeyWithValue(key, uid), "%s was deleted and recreated", key)
			}
		}
	}
}

var _ = Describe("a controller killed while it works", func() {
	const per = 2

	DescribeTable("leaves no orphan and prunes completely after a restart, for tenants that left while it was down",
		func(ctx SpecContext, after bool, trigger func() func(*http.Request) bool) {
			id := uniq("crash")
			tenants := tenantsOf(ctx, id, 4)
			configMapGTR(ctx, id, per)

			By("the first controller dies at the kill point")
			r := start(env.Config)
			r.kill.arm(after, trigger())
			r.killedBy(20 * time.Second)
			before := generated(ctx, id)
			unrecorded := expectFindable(ctx, id)
			GinkgoWriter.Printf("at the kill: %d objects exist, %d in no inventory; %d writes were sent: %v\n", len(before), unrecorded, len(r.kill.writes), r.kill.writes)
			if len(before) > 0 {
				// The last apply before the kill cannot have been recorded:
				// the restart must find it by its labels.
				Expect(unrecorded).To(BeNumerically(">", 0))
			}

			By("while it is down, two tenants leave the selector")
			unselect(ctx, tenants[2])
			unselect(ctx, tenants[3])

			By("the restarted controller converges: the staying tenants keep their objects, the others are pruned")
			r2 := start(env.Config)
			DeferCleanup(r2.stop)
			ready(ctx, id, 2)
			Eventually(func() []string { return keys(generated(ctx, id)) }).Should(Equal(objectsOf(tenants[:2], per)))
			afterRestart := generated(ctx, id)
			sameUIDs(before, afterRestart, tenants[:2])
			expectNoOrphans(ctx, id)
			Eventually(func() []string { return keys(recorded(ctx, id)) }).Should(Equal(objectsOf(tenants[:2], per)))
			for key, uid := range recorded(ctx, id) {
				Expect(uid).To(Equal(afterRestart[key]), "%s: recorded uid", key)
			}

			By("deleting the GlobalTenantResource prunes the rest")
			Expect(k8s.Delete(ctx, &v1alpha1.GlobalTenantResource{ObjectMeta: objMeta(id)})).To(Succeed())
			gone(ctx, id)
			Expect(generated(ctx, id)).To(BeEmpty())
			Expect(recorded(ctx, id)).To(BeEmpty())
		},
		Entry("right after recording its kinds, before any object is applied", false, func() func(*http.Request) bool { return nth(1, objectApply) }),
		Entry("between two applies", true, func() func(*http.Request) bool { return nth(3, objectApply) }),
		Entry("after the applies, before the inventory records their uids", false, func() func(*http.Request) bool {
			return firstAfter(objectApply, inventoryWrite)
		}),
	)

	It("finishes a prune it was killed in, and one of a tenant that left while it was down", func(ctx SpecContext) {
		id := uniq("crash")
		tenants := tenantsOf(ctx, id, 4)
		configMapGTR(ctx, id, per)
		r := start(env.Config)
		ready(ctx, id, 4)
		before := generated(ctx, id)
		Expect(before).To(HaveLen(4 * per))

		By("two tenants leave; the controller dies after its first delete")
		r.kill.arm(true, nth(1, objectDelete))
		unselect(ctx, tenants[2])
		unselect(ctx, tenants[3])
		r.killedBy(20 * time.Second)
		Expect(len(generated(ctx, id))).To(BeNumerically("<", 4*per), "one delete went through")
		expectFindable(ctx, id)

		By("a third tenant leaves while it is down")
		unselect(ctx, tenants[1])
		r2 := start(env.Config)
		DeferCleanup(r2.stop)
		ready(ctx, id, 1)
		Eventually(func() []string { return keys(generated(ctx, id)) }).Should(Equal(objectsOf(tenants[:1], per)))
		sameUIDs(before, generated(ctx, id), tenants[:1])
		Eventually(func() []string { return keys(recorded(ctx, id)) }).Should(Equal(objectsOf(tenants[:1], per)))
		Expect(k8s.Delete(ctx, &v1alpha1.GlobalTenantResource{ObjectMeta: objMeta(id)})).To(Succeed())
		gone(ctx, id)
	})

	It("prunes everything of a GlobalTenantResource deleted while it was down", func(ctx SpecContext) {
		id := uniq("crash")
		tenantsOf(ctx, id, 3)
		configMapGTR(ctx, id, per)
		r := start(env.Config)
		r.kill.arm(true, nth(4, objectApply))
		r.killedBy(20 * time.Second)
		Expect(generated(ctx, id)).NotTo(BeEmpty())
		expectFindable(ctx, id)

		Expect(k8s.Delete(ctx, &v1alpha1.GlobalTenantResource{ObjectMeta: objMeta(id)})).To(Succeed())
		r2 := start(env.Config)
		DeferCleanup(r2.stop)
		gone(ctx, id)
		Expect(generated(ctx, id)).To(BeEmpty())
		Eventually(func() map[string]types.UID { return recorded(ctx, id) }).Should(BeEmpty())
		list := &v1alpha1.TenantInventoryList{}
		Expect(k8s.List(ctx, list, client.MatchingLabels{v1alpha1.LabelGlobalTenantResource: id})).To(Succeed())
		Expect(list.Items).To(BeEmpty())
	})
})
