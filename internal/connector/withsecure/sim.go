package withsecure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// Credentials a simulator accepts unless WithCredentials sets others.
const (
	SimClientID     = "bannin-sim-withsecure-client"
	SimClientSecret = "bannin-sim-withsecure-secret-0123456789"
)

// Sim simulates the parts of the WithSecure Elements API bannin uses: the
// OAuth2 client-credentials token endpoint with scopes, the form-encoded
// security-events list with anchor paging, the device list with
// isolationStatus, and device operations (isolateFromNetwork,
// releaseFromNetworkIsolation) answered with a 207 multistatus. Like the
// real API it refuses requests without a User-Agent (400). It is an
// http.Handler; serve it with httptest.NewServer or
// `bannin sim withsecure --listen`. All methods are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency (FailNext)
	tokens        *simkit.Tokens
	feed          simkit.Feed
	ledger        simkit.Ledger

	mu         sync.Mutex
	now        func() time.Time
	retryAfter time.Duration
	limit      simkit.RateLimit
	granted    map[string][]string // token → scopes it was minted for
	devices    map[string]*simDevice
	opFail     map[string]opFailure
	ops        []simOperation
	seq        int
	requests   int
	tx         int

	id, secret string
	ttl        time.Duration
	mux        *http.ServeMux
}

type simDevice struct {
	id, name, isolation string
}

// opFailure is a per-target failure an operation answers with.
type opFailure struct {
	status  int
	details string
}

// simOperation is one accepted device operation.
type simOperation struct {
	ID, DeviceID, Name, Message string
	Started                     time.Time
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithCredentials sets the API client id and secret the simulator accepts.
func WithCredentials(id, secret string) SimOption {
	return func(s *Sim) { s.id, s.secret = id, secret }
}

// WithClock sets the simulator's clock (token expiry, assigned times,
// ledger times), so replays run on virtual time.
func WithClock(now func() time.Time) SimOption { return func(s *Sim) { s.now = now } }

// WithTokenTTL sets how long minted tokens live (default 30 minutes).
func WithTokenTTL(d time.Duration) SimOption { return func(s *Sim) { s.ttl = d } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with 429s (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// WithRateLimit answers 429 once max calls were made in a window. The
// Elements API's own limits are not published; the default is none.
func WithRateLimit(max int, window time.Duration) SimOption {
	return func(s *Sim) { s.limit = simkit.RateLimit{Max: max, Window: window} }
}

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{
		now: time.Now, retryAfter: 2 * time.Second, id: SimClientID, secret: SimClientSecret, ttl: 30 * time.Minute,
		granted: map[string][]string{}, devices: map[string]*simDevice{}, opFail: map[string]opFailure{},
	}
	for _, o := range opts {
		o(s)
	}
	s.limit.Now = s.now
	s.tokens = simkit.NewTokens(s.id, s.secret, "ws-sim", s.ttl, s.now)
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator.
func (s *Sim) Credentials() (id, secret string) { return s.tokens.Credentials() }

// Inject implements connector.Simulator: it queues security events (items
// of the security-events list). A missing id is assigned, and a missing
// persistenceTimestamp (and serverTimestamp) is the clock's time, so inject
// in order for ascending times. The device named is learned, not isolated.
// Payloads are otherwise kept as sent (compacted). Inject stops at the
// first payload it cannot take; those before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	for i, p := range payloads {
		if err := s.inject(p); err != nil {
			return fmt.Errorf("withsecure sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) inject(p []byte) error {
	f, err := jsonfield.Parse(p)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	raw := compact(p)
	if f.Str("id") == "" || f.Time("persistenceTimestamp").IsZero() {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			return err
		}
		if f.Str("id") == "" {
			m["id"] = fmt.Sprintf("0c4b2fe9-c1d7-36d5-bec0-%012d_%d", s.seq, s.seq)
		}
		if f.Time("persistenceTimestamp").IsZero() {
			ts := s.now().UTC().Format(timeLayout)
			m["persistenceTimestamp"] = ts
			if f.Time("serverTimestamp").IsZero() {
				m["serverTimestamp"] = ts
			}
		}
		if raw, err = json.Marshal(m); err != nil {
			return err
		}
		if f, err = jsonfield.Parse(raw); err != nil {
			return err
		}
	}
	it := simkit.Item{ID: f.Str("id"), Created: f.Time("persistenceTimestamp"), Raw: raw}
	if err := s.feed.Add(it); err != nil {
		return err
	}
	dev := f.Obj("device")
	s.learnLocked(dev.Str("id"), dev.Str("name"))
	return nil
}

// timeLayout is how the Elements API writes times: UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// learnLocked records a device; a known device keeps its state.
func (s *Sim) learnLocked(id, name string) {
	if id == "" {
		return
	}
	d := s.devices[id]
	if d == nil {
		d = &simDevice{id: id, isolation: IsolationNotIsolated}
		s.devices[id] = d
	}
	if name != "" {
		d.name = name
	}
}

// AddDevice implements connector.Simulator: a device the organization has,
// not isolated.
func (s *Sim) AddDevice(hostID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnLocked(hostID, hostName)
}

// Contained implements connector.Simulator: the device is isolated.
func (s *Sim) Contained(hostID string) bool { return s.ledger.Contained(hostID) }

// SetIsolation sets a known device's isolationStatus (isolated,
// notIsolated), as if an operator had changed it in the portal.
func (s *Sim) SetIsolation(deviceID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.devices[deviceID]; d != nil {
		d.isolation = status
		s.ledger.SetContained(deviceID, status == IsolationIsolated)
	}
}

// Calls implements connector.Simulator: accepted operations per
// idempotency key (read from the isolation message, see KeyMarker), else
// per operation+":"+deviceId.
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every operation per target in arrival order, with the
// status of its multistatus entry.
func (s *Sim) Ledger() []simkit.Entry { return s.ledger.Entries() }

// FailOperation makes operations on deviceID answer the multistatus entry
// status (404, 409, 400, …) with details, until cleared with status 0.
func (s *Sim) FailOperation(deviceID string, status int, details string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.opFail, deviceID)
		return
	}
	s.opFail[deviceID] = opFailure{status: status, details: details}
}

// ExpireTokens makes every token issued so far invalid; clients must
// fetch a new one.
func (s *Sim) ExpireTokens() { s.tokens.ExpireAll() }

// DenyScope withholds a scope from the API client: calls that need it
// answer 403.
func (s *Sim) DenyScope(scope string) { s.tokens.Deny(scope) }

// TokensIssued counts the tokens minted so far.
func (s *Sim) TokensIssued() int { return s.tokens.Issued() }

// Requests returns how many API requests the simulator received.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// EventIDs returns the ids of the injected events in list order
// (persistenceTimestamp, then id).
func (s *Sim) EventIDs() []string { return s.feed.IDs() }

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "WithSecure Elements API simulator\n")
	fmt.Fprintf(&b, "  client id: %s  secret: %s   (User-Agent header required on every call)\n", s.id, s.secret)
	fmt.Fprintf(&b, "  POST %s  Basic auth, grant_type=client_credentials&scope=%s %s\n", pathToken, ScopeRead, ScopeWrite)
	fmt.Fprintf(&b, "  POST %s  form: limit≤200, engineGroup, persistenceTimestampStart, exclusiveStart, order=asc, anchor\n", pathEvents)
	fmt.Fprintf(&b, "  GET  %s?deviceId=<id>   → items[].isolationStatus\n", pathDevices)
	fmt.Fprintf(&b, "  POST %s  {\"operation\":\"%s\"|\"%s\",\"targets\":[\"<deviceId>\"]} → 207 multistatus\n", pathOperations, OpIsolate, OpRelease)
	ids := make([]string, 0, len(s.devices))
	for id := range s.devices {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(&b, "  %d events, %d devices\n", s.feed.Len(), len(ids))
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s  %s  %s\n", id, s.devices[id].name, s.devices[id].isolation)
	}
	return b.String()
}
