// Package connection keeps the controller's link to the apiserver patient.
//
// When the apiserver is unreachable, client-go's informers retry with an
// exponential backoff that reaches 30 s: after an outage of that length a
// change could wait another 30 s before its watch event arrived. A Dialer
// instead waits inside the dial, retrying every Retry, so every request
// (informers' list and watch included) goes through within Retry of the
// apiserver answering again. It also logs losing and regaining the
// connection, once each, instead of nothing.
package connection

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Dialer dials the apiserver, waiting for it while it does not answer.
type Dialer struct {
	// Retry is the pause between two attempts (default 250ms).
	Retry time.Duration
	// MaxWait bounds the wait of one dial whose context has no deadline
	// (default 2 minutes).
	MaxWait time.Duration
	// Log receives "lost" and "regained" messages.
	Log logr.Logger
	// Dial is the underlying dialer (default a net.Dialer with a 10 s timeout).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)

	mu        sync.Mutex
	lostSince time.Time // zero while connected
	lastErr   error
}

// DialContext has the signature of rest.Config.Dial.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	retry, maxWait := d.Retry, d.MaxWait
	if retry <= 0 {
		retry = 250 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 2 * time.Minute
	}
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxWait)
		defer cancel()
	}
	for {
		conn, err := dial(ctx, network, address)
		if err == nil {
			d.connected(address)
			return conn, nil
		}
		d.failed(address, err)
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// Lost reports since when the apiserver has not answered (zero when it does).
func (d *Dialer) Lost() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lostSince
}

func (d *Dialer) failed(address string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lostSince.IsZero() {
		d.lostSince = time.Now()
		d.Log.Info("lost the connection to the apiserver; requests wait for it", "address", address, "error", err.Error())
	}
	d.lastErr = err
}

func (d *Dialer) connected(address string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.lostSince.IsZero() {
		d.Log.Info("regained the connection to the apiserver", "address", address,
			"after", time.Since(d.lostSince).Round(time.Millisecond).String(), "lastError", d.lastErr.Error())
		d.lostSince = time.Time{}
	}
}
