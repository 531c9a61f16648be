// Package connector declares what bannin needs from a vendor integration —
// decoding its payloads, pulling them from its API, receiving what it pushes,
// and acting on endpoints through it — and the registry that maps a vendor
// name to its integration.
package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Decoder turns one raw vendor payload (one JSON object) into zero or more
// normalised alerts. It fails with an error wrapping ErrBadPayload when the
// payload is not what the vendor sends; such payloads are quarantined.
type Decoder interface {
	Decode(payload []byte) ([]alert.Alert, error)
}

// Framer is implemented by decoders whose payloads are not JSON (syslog
// lines, e-mail messages): it cuts a file of them into payloads, for
// `bannin normalize` and replay.
type Framer interface {
	Frame(body []byte) ([][]byte, error)
}

// ErrBadPayload marks a payload that can never be decoded as it stands.
var ErrBadPayload = errors.New("bad payload")

// Page is what one pull from a vendor API returns.
type Page struct {
	Payloads [][]byte // raw alert payloads, one JSON object each, oldest first
	Cursor   string   // where the next pull resumes; store it with the payloads
	More     bool     // another page is ready now
}

// Source pulls alerts from a vendor API, resuming from a cursor the caller
// keeps durably. Pull must not skip or repeat given the cursor it returned.
type Source interface {
	Pull(ctx context.Context, cursor string) (Page, error)
}

// Target names the endpoint an action is for.
type Target struct {
	HostID   string // the vendor's id for the endpoint (CrowdStrike AID)
	HostName string
}

// Result is the outcome of an action the vendor accepted.
type Result struct {
	// Already is true when the endpoint was already in the asked state and no
	// call was needed.
	Already bool
	Detail  string
}

// Responder acts on endpoints through the vendor's API. Every call carries an
// idempotency key; repeating a call for an endpoint already in the asked
// state is a no-op.
type Responder interface {
	Isolate(ctx context.Context, t Target, key string) (Result, error)
	Release(ctx context.Context, t Target, key string) (Result, error)
}

// Remote actions beyond isolation that some vendors offer.
const (
	ActKillProcess    = "kill_process"    // end a running process (Process.PID or the hash)
	ActQuarantineFile = "quarantine_file" // move a file out of reach (Path or SHA256)
	ActBlocklistHash  = "blocklist_hash"  // forbid a hash from running anywhere in the estate
	ActRemediate      = "remediate"       // the vendor's own clean-up of a threat
	ActRollback       = "rollback"        // undo a threat's changes (SentinelOne rollback)
)

// Act asks for one remote action. The fields a vendor needs depend on the
// action; ThreatID is the vendor's id for its detection (SentinelOne
// threat id, MDE alert id) when the action is about one.
type Act struct {
	Kind     string
	ThreatID string
	PID      string
	Path     string
	SHA256   string
	Comment  string
}

// Actor is implemented by responders that offer remote actions beyond
// isolation. Actions lists the kinds it supports; Do fails with an error
// wrapping ErrUnsupported for any other.
type Actor interface {
	Actions() []string
	Do(ctx context.Context, t Target, a Act, key string) (Result, error)
}

// ErrUnsupported marks an action the vendor does not offer.
var ErrUnsupported = errors.New("action not offered by this vendor")

// RetryableError is a vendor failure worth trying again (429, 5xx, time-out).
// After is the wait the vendor asked for (Retry-After), or zero.
type RetryableError struct {
	After time.Duration
	Err   error
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Config is what a source's connector needs to reach the vendor.
type Config struct {
	URL          string
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client
}

// Simulator is a vendor's API, built into bannin for demos, replays and tests.
type Simulator interface {
	http.Handler
	// Credentials returns a client id and secret the simulator accepts.
	Credentials() (id, secret string)
	// Inject queues raw alert payloads for the pull API to return.
	Inject(payloads ...[]byte) error
	// AddDevice makes an endpoint known to the simulated console, as every
	// sensor of a real estate is.
	AddDevice(hostID, hostName string)
	// Contained reports whether the simulator holds the host isolated.
	Contained(hostID string) bool
	// Calls returns how many containment calls the simulator received per
	// idempotency key (or host, when the vendor has no key).
	Calls() map[string]int
	// FailNext makes the next n API calls answer with the given HTTP status.
	FailNext(n, status int)
}

// Vendor is one integration in the registry.
type Vendor struct {
	Name          string
	Decoder       Decoder
	NewSource     func(Config) (Source, error)
	NewResponder  func(Config) (Responder, error)
	NewSimulator  func() Simulator
	NewListeners  ListenerFactory
	SeverityScale string // one line for docs: how the vendor's rating maps to 0–100
}

var (
	mu       sync.RWMutex
	registry = map[string]Vendor{}
)

// Register adds a vendor. It panics on an empty or duplicate name: both are
// programming errors found at start-up.
func Register(v Vendor) {
	mu.Lock()
	defer mu.Unlock()
	if v.Name == "" || v.Decoder == nil {
		panic("connector: Register needs a name and a decoder")
	}
	if _, dup := registry[v.Name]; dup {
		panic(fmt.Sprintf("connector: vendor %q registered twice", v.Name))
	}
	registry[v.Name] = v
}

// Lookup returns the vendor registered under name.
func Lookup(name string) (Vendor, error) {
	mu.RLock()
	defer mu.RUnlock()
	v, ok := registry[name]
	if !ok {
		return Vendor{}, fmt.Errorf("unknown vendor %q (known: %v)", name, namesLocked())
	}
	return v, nil
}

// Names lists the registered vendors in order.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	var ns []string
	for n := range registry {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
