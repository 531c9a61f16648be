// Package simkit holds what every vendor simulator needs besides the
// vendor's own API: injected failures and latency, so that connectors are
// tested against the same faults whatever the vendor.
package simkit

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// MaxBody bounds a request body the simulators read.
const MaxBody = 4 << 20

// Faults injects failures and latency into a simulator's answers. The zero
// value injects nothing; it is safe for concurrent use.
type Faults struct {
	mu      sync.Mutex
	n       int
	status  int
	latency time.Duration
}

// FailNext makes the next n requests answer status.
func (f *Faults) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.status = n, status
}

// SetLatency delays every answer by d.
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// Before runs ahead of each request: it waits out the latency (or until the
// client gives up) and takes one pending failure. It returns the status to
// fail with (0: none), and ok false when the request should not be answered
// (the client went away) or its body could not be read (then fail has
// already been called with 400).
func (f *Faults) Before(w http.ResponseWriter, r *http.Request, fail func(w http.ResponseWriter, status int, msg string)) (status int, ok bool) {
	f.mu.Lock()
	latency := f.latency
	if f.n > 0 {
		f.n--
		status = f.status
	}
	f.mu.Unlock()
	if latency > 0 {
		// Read the body first: net/http notices a client that hangs up
		// (and cancels r.Context) only once the body is consumed.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			fail(w, http.StatusBadRequest, "unreadable body")
			return 0, false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return 0, false
		}
	}
	return status, true
}
