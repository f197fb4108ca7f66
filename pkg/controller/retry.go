package controller

import (
	"errors"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// Retry of a failed pair, by the workqueue's rate limiter (so that
// controller-runtime's error metrics count every failure).
//
// A recorded failure (render, apply, prune: the tenant's status says why)
// is retried from failureRetry, doubling up to maxFailureRetry: it is often
// fixed outside tenantgen's sight (an RBAC grant, a CRD installed), so the
// resync would be too slow, and starting at milliseconds would let a
// template that runs into its renderTimeout hold a worker most of the time.
// Any other error (the apiserver refused an inventory write, a conflict) is
// transient and retried from transientRetry, as controller-runtime does.
const (
	failureRetry    = 5 * time.Second
	maxFailureRetry = 5 * time.Minute
	transientRetry  = 5 * time.Millisecond
)

// pairRetry is the pairs' rate limiter: the kind of a pair's last error
// (see noteError) picks the backoff.
type pairRetry struct {
	recorded, transient workqueue.TypedRateLimiter[Pair]
	mu                  sync.Mutex
	wasRecorded         map[Pair]bool
}

func newPairRetry() *pairRetry {
	return &pairRetry{
		recorded:    workqueue.NewTypedItemExponentialFailureRateLimiter[Pair](failureRetry, maxFailureRetry),
		transient:   workqueue.NewTypedItemExponentialFailureRateLimiter[Pair](transientRetry, maxFailureRetry),
		wasRecorded: map[Pair]bool{},
	}
}

// noteError tells the limiter what the pair's reconcile returned, before
// controller-runtime asks it When to retry.
func (r *pairRetry) noteError(p Pair, err error) {
	var pe *pairError
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && errors.As(err, &pe) {
		r.wasRecorded[p] = true
	} else {
		delete(r.wasRecorded, p)
	}
}

func (r *pairRetry) When(p Pair) time.Duration {
	r.mu.Lock()
	recorded := r.wasRecorded[p]
	r.mu.Unlock()
	if recorded {
		return r.recorded.When(p)
	}
	return r.transient.When(p)
}

func (r *pairRetry) Forget(p Pair) {
	r.recorded.Forget(p)
	r.transient.Forget(p)
	r.mu.Lock()
	delete(r.wasRecorded, p)
	r.mu.Unlock()
}

func (r *pairRetry) NumRequeues(p Pair) int {
	return r.recorded.NumRequeues(p) + r.transient.NumRequeues(p)
}
