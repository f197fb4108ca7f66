package connection

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

// A dial made while nothing listens returns as soon as a listener appears,
// and the outage is logged once when lost and once when regained.
func TestDialWaitsForTheServer(t *testing.T) {
	// Reserve a port, then close it: dials are refused until we listen again.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var mu sync.Mutex
	var logs bytes.Buffer
	d := &Dialer{Retry: 20 * time.Millisecond, Log: funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(args + "\n")
	}, funcr.Options{})}

	back := make(chan time.Time, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		l2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		back <- time.Now()
		c, _ := l2.Accept()
		if c != nil {
			c.Close()
		}
		l2.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial failed instead of waiting: %v", err)
	}
	conn.Close()
	delay := time.Since(<-back)
	// A few 20 ms retries, with room for a busy machine; client-go's own
	// backoff would wait 0.8 to 30 s.
	if delay > 2*time.Second {
		t.Errorf("connected %s after the server came back, want within a few retries", delay)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if strings.Count(out, "lost the connection") != 1 || strings.Count(out, "regained the connection") != 1 {
		t.Errorf("want one lost and one regained message, got:\n%s", out)
	}
	if !d.Lost().IsZero() {
		t.Error("still reported as lost after connecting")
	}
}

// A dial gives up when its context ends, naming the dial error.
func TestDialHonoursTheContext(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	d := &Dialer{Retry: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.DialContext(ctx, "tcp", addr)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's deadline in the error, got %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("dial outlived its context by %s", el)
	}
	if d.Lost().IsZero() {
		t.Error("outage not recorded")
	}
}
