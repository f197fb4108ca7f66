package budget

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func limitOf(t *testing.T, err error) string {
	t.Helper()
	var ex *Exceeded
	if !errors.As(err, &ex) {
		t.Fatalf("not an *Exceeded: %v", err)
	}
	return ex.Limit
}

func TestCharge(t *testing.T) {
	b := New(time.Hour, 100)
	if err := b.Charge(60); err != nil || b.Used() != 60 || b.Room() != 40 {
		t.Fatalf("charge 60 of 100: %v, used %d", err, b.Used())
	}
	err := b.Charge(41)
	if limitOf(t, err) != LimitMemory || b.Used() != 60 {
		t.Errorf("charge 41 with 40 left: %v, used %d", err, b.Used())
	}
	// Once exceeded, every check fails the same way, so a render stops.
	if err := b.Check(); limitOf(t, err) != LimitMemory || b.Err() == nil {
		t.Errorf("after the limit: %v", err)
	}
	if err := New(time.Hour, 100).Charge(-1); limitOf(t, err) != LimitMemory {
		t.Errorf("a negative charge (an overflow) must fail: %v", err)
	}
}

func TestDeadline(t *testing.T) {
	b := New(time.Millisecond, 100)
	time.Sleep(2 * time.Millisecond)
	if err := b.Check(); limitOf(t, err) != LimitTime || !strings.Contains(err.Error(), "render exceeded limits.renderTimeout") {
		t.Errorf("after the deadline: %v", err)
	}
}

func TestDepth(t *testing.T) {
	b := New(time.Hour, 100)
	for i := range MaxDepth {
		if err := b.Enter(); err != nil {
			t.Fatalf("level %d: %v", i, err)
		}
	}
	if err := b.Enter(); limitOf(t, err) != LimitDepth {
		t.Errorf("level %d: %v", MaxDepth+1, err)
	}
}

func TestValueSizeWalksSharedValues(t *testing.T) {
	b := New(time.Hour, 1<<30)
	v := any([]any{"x"})
	for range 60 {
		v = []any{v, v} // 16 bytes of slots per level, 2^60 leaves once printed
	}
	start := time.Now()
	_, err := b.ValueSize(v, 1<<20)
	if limitOf(t, err) != LimitMemory {
		t.Errorf("a shared value of 2^60 leaves: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the walk took %v: it must stop at its limit", d)
	}
	n, err := New(time.Hour, 1<<30).ValueSize(map[string]any{"a": "bc", "d": []any{int64(1), true}}, 1<<20)
	if err != nil || n <= 0 || n > 1000 {
		t.Errorf("a small value: %d, %v", n, err)
	}
}

func TestLenAndWidth(t *testing.T) {
	if err := New(time.Hour, 1).Len("until", MaxLen); err != nil {
		t.Errorf("MaxLen elements: %v", err)
	}
	if err := New(time.Hour, 1).Len("until", MaxLen+1); limitOf(t, err) != LimitLength {
		t.Errorf("MaxLen+1 elements: %v", err)
	}
	if err := New(time.Hour, 1).Width("printf", MaxWidth+1); limitOf(t, err) != LimitLength {
		t.Errorf("MaxWidth+1: %v", err)
	}
}
