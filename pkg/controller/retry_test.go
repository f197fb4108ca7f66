package controller

import (
	"errors"
	"testing"
	"time"
)

func TestPairRetry(t *testing.T) {
	r := newPairRetry()
	p, q := Pair{GTR: "g", Tenant: "a"}, Pair{GTR: "g", Tenant: "b"}
	r.noteError(p, &pairError{reason: "RenderFailed", problem: "boom"})
	r.noteError(q, errors.New("the server is currently unable to handle the request"))
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		if got := r.When(p); got != want {
			t.Errorf("recorded failure, retry %d: %s, want %s", i, got, want)
		}
	}
	for i, want := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond} {
		if got := r.When(q); got != want {
			t.Errorf("transient error, retry %d: %s, want %s", i, got, want)
		}
	}
	for range 20 {
		r.When(p)
	}
	if got := r.When(p); got != maxFailureRetry {
		t.Errorf("capped at %s, got %s", maxFailureRetry, got)
	}
	r.Forget(p)
	if r.NumRequeues(p) != 0 {
		t.Error("Forget resets the count")
	}
	r.noteError(p, &pairError{})
	if got := r.When(p); got != failureRetry {
		t.Errorf("after Forget: %s, want %s", got, failureRetry)
	}
}
