package controller

import (
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

// Pair is the work unit: one GlobalTenantResource rendered for one tenant
// (Tenant "" in scope None). One HTTPRoute change re-renders one pair, not
// every tenant.
type Pair struct {
	GTR    string
	Tenant string
}

// tenantResult is what the last reconcile of a pair left.
type tenantResult struct {
	// items is the tenant's part of the inventory.
	items []v1alpha1.ProcessedItem
	// problem is why the tenant is not Ready ("" when it is).
	problem string
	// removed marks a tenant whose objects were pruned; status drops it.
	removed bool
	// failures counts consecutive failed reconciles, for the retry backoff.
	failures int
}

// gtrState is what the controller keeps in memory for one GlobalTenantResource
// between the pair reconciles and the status write that sums them up. The
// inventory of record stays status.processedItems: on a restart the state is
// rebuilt from it.
type gtrState struct {
	uid        types.UID
	generation int64
	program    *render.Program
	compileErr error
	// triggered is the generation and requestedAt for which every pair was queued.
	triggered string
	tenants   map[string]*tenantResult
}

// store holds the gtrStates.
type store struct {
	mu   sync.Mutex
	gtrs map[string]*gtrState
}

func newStore() *store { return &store{gtrs: map[string]*gtrState{}} }

// program returns the compiled program of a GlobalTenantResource, compiling
// it when the generation changed (a new UID starts a new state). The program
// is immutable and safe to use without the store's lock.
func (s *store) program(gtr *v1alpha1.GlobalTenantResource) (*render.Program, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.gtrs[gtr.Name]
	if st == nil || st.uid != gtr.UID {
		st = &gtrState{uid: gtr.UID, tenants: map[string]*tenantResult{}}
		s.gtrs[gtr.Name] = st
	}
	if st.generation != gtr.Generation { // generations start at 1, so a new state compiles
		st.generation = gtr.Generation
		st.program, st.compileErr = render.Compile(gtr)
	}
	return st.program, st.compileErr
}

func (s *store) drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.gtrs, name)
}

// previous returns a tenant's inventory: from memory when this process has
// reconciled it, otherwise from the GlobalTenantResource's status.
func (s *store) previous(gtr *v1alpha1.GlobalTenantResource, tenant string) []v1alpha1.ProcessedItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.gtrs[gtr.Name]; st != nil && st.uid == gtr.UID {
		if r := st.tenants[tenant]; r != nil {
			return append([]v1alpha1.ProcessedItem(nil), r.items...)
		}
	}
	var out []v1alpha1.ProcessedItem
	for _, it := range gtr.Status.ProcessedItems {
		if it.Tenant == tenant {
			out = append(out, it)
		}
	}
	return out
}

// record stores the outcome of a pair reconcile. It reports whether the
// outcome changed (status needs a write) and whether the problem is new (worth
// an Event), and counts consecutive failures in r.failures.
func (s *store) record(gtr *v1alpha1.GlobalTenantResource, tenant string, r *tenantResult) (changed, newProblem bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.gtrs[gtr.Name]
	if st == nil || st.uid != gtr.UID {
		return false, false
	}
	sortItems(r.items)
	old := st.tenants[tenant]
	if r.problem != "" && old != nil && old.problem != "" {
		r.failures = old.failures + 1
	} else if r.problem != "" {
		r.failures = 1
	}
	st.tenants[tenant] = r
	changed = old == nil || old.problem != r.problem || old.removed != r.removed || !sameItems(old.items, r.items)
	return changed, r.problem != "" && (old == nil || old.problem != r.problem)
}

// snapshot returns a copy of the tenant results for a status write.
func (s *store) snapshot(name string) map[string]tenantResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]tenantResult{}
	if st := s.gtrs[name]; st != nil {
		for t, r := range st.tenants {
			out[t] = *r
		}
	}
	return out
}

// forgetRemoved drops the results of pruned tenants once a status write
// without them succeeded. Only tenants already removed in the snapshot that
// was written are dropped: a removal recorded while the write was under way
// has not reached status yet, and forgetting it would leave its items there.
func (s *store) forgetRemoved(name string, written map[string]tenantResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.gtrs[name]; st != nil {
		for t, r := range st.tenants {
			if r.removed && written[t].removed {
				delete(st.tenants, t)
			}
		}
	}
}

// failing returns the pairs whose last reconcile failed, to retry them when
// a namespace appears.
func (s *store) failing() []Pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pair
	for name, st := range s.gtrs {
		for t, r := range st.tenants {
			if r.problem != "" {
				out = append(out, Pair{GTR: name, Tenant: t})
			}
		}
	}
	return out
}

// trigger reports whether every pair of a GlobalTenantResource must be queued
// (first sight, new generation or new requestedAt annotation) and which
// tenants already have a result.
func (s *store) trigger(gtr *v1alpha1.GlobalTenantResource) (all bool, known map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.gtrs[gtr.Name]
	known = map[string]bool{}
	if st == nil {
		return true, known
	}
	for t := range st.tenants {
		known[t] = true
	}
	key := strconv.FormatInt(gtr.Generation, 10) + "/" + gtr.Annotations[AnnotationRequestedAt]
	if st.triggered != key {
		st.triggered = key
		return true, known
	}
	return false, known
}

func sortItems(items []v1alpha1.ProcessedItem) {
	sort.Slice(items, func(i, j int) bool { return itemKey(items[i]) < itemKey(items[j]) })
}

func itemKey(it v1alpha1.ProcessedItem) string {
	return it.Tenant + "\x00" + it.Group + "\x00" + it.Kind + "\x00" + it.Namespace + "\x00" + it.Name
}

func sameItems(a, b []v1alpha1.ProcessedItem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if itemKey(x) != itemKey(y) || x.UID != y.UID || x.Ready != y.Ready || x.Message != y.Message || x.Ownership != y.Ownership || x.Version != y.Version || x.Origin != y.Origin {
			return false
		}
	}
	return true
}
