package simkit

import (
	"maps"
	"sync"
	"time"
)

// Entry is one containment call a simulator received.
type Entry struct {
	At     time.Time
	HostID string
	Action string // the vendor's verb: "isolate", "unisolate", "contain", …
	Key    string // the idempotency key, else Action+":"+HostID
	Status int    // the HTTP status answered
}

// Ledger counts containment calls and keeps each endpoint's state, so that
// tests and the crash harness can check that every isolation was sent
// exactly once. Safe for concurrent use; the zero value is ready.
type Ledger struct {
	mu        sync.Mutex
	entries   []Entry
	calls     map[string]int
	contained map[string]bool
}

// Record logs a call. Only calls the vendor accepted (2xx) count in Calls.
func (l *Ledger) Record(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Key == "" {
		e.Key = e.Action + ":" + e.HostID
	}
	l.entries = append(l.entries, e)
	if e.Status >= 200 && e.Status < 300 {
		if l.calls == nil {
			l.calls = map[string]int{}
		}
		l.calls[e.Key]++
	}
}

// SetContained sets an endpoint's containment state.
func (l *Ledger) SetContained(hostID string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.contained == nil {
		l.contained = map[string]bool{}
	}
	l.contained[hostID] = on
}

// Contained reports an endpoint's containment state.
func (l *Ledger) Contained(hostID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.contained[hostID]
}

// Calls counts accepted calls per key.
func (l *Ledger) Calls() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.calls)
}

// Entries returns every call received, in order.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.entries...)
}
