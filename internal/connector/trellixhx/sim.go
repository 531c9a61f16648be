package trellixhx

import (
	"bytes"
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

// Default simulator settings.
const (
	SimUser     = "bannin-api"
	SimPassword = "bannin-sim-hx-password"
	// SimIdleTimeout is how long an HX session lives without use.
	SimIdleTimeout = 15 * time.Minute
	// simSessionTTL bounds a session however busy; HX's own bound is
	// [unverified].
	simSessionTTL = 24 * time.Hour
)

// Scopes the simulator can withhold (DenyScope), each answering 403 on the
// calls that need it, as HX does for an API user without the role.
const (
	ScopeAlerts         = "alerts.read"         // GET alerts (api_analyst)
	ScopeHosts          = "hosts.read"          // GET …/containment (api_analyst)
	ScopeContainRequest = "containment.request" // POST …/containment (api_analyst)
	ScopeContainApprove = "containment.approve" // PATCH …/containment (api_admin)
	ScopeContainRelease = "containment.release" // DELETE …/containment (api_admin)
)

// Sim simulates the parts of the HX REST API bannin uses: session login
// with HTTP Basic auth (token in X-FeApi-Token, expiring after 15 minutes
// idle), the alerts list with offset paging sorted by reported_at, and host
// containment (request, approve, status, release). It is an http.Handler;
// serve it with httptest.NewServer. All methods are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency (FailNext)

	tokens *simkit.Tokens
	feed   simkit.Feed
	ledger simkit.Ledger

	mu          sync.Mutex
	now         func() time.Time
	idle        time.Duration
	retryAfter  time.Duration
	limit       simkit.RateLimit
	autoApprove bool
	lastUse     map[string]time.Time // session token → last call; absent: logged out
	hosts       map[string]*simHost
	seq         int
	requests    int

	mux *http.ServeMux
}

type simHost struct {
	id, name string
	state    string
	updated  time.Time
}

// SimOption configures a Sim.
type SimOption func(*simConfig)

type simConfig struct {
	user, pass  string
	now         func() time.Time
	idle        time.Duration
	latency     time.Duration
	retryAfter  time.Duration
	limit       simkit.RateLimit
	autoApprove bool
}

// WithCredentials sets the API user name and password the simulator accepts.
func WithCredentials(user, pass string) SimOption {
	return func(c *simConfig) { c.user, c.pass = user, pass }
}

// WithClock sets the simulator's clock (session idle time, assigned
// reported_at, ledger times), so replays run on virtual time.
func WithClock(now func() time.Time) SimOption { return func(c *simConfig) { c.now = now } }

// WithIdleTimeout sets how long a session lives unused (default 15 minutes).
func WithIdleTimeout(d time.Duration) SimOption { return func(c *simConfig) { c.idle = d } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(c *simConfig) { c.latency = d } }

// WithRetryAfter sets the Retry-After sent with injected 429s and 503s
// (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(c *simConfig) { c.retryAfter = d } }

// WithRateLimit answers 429 with Retry-After once max calls were made in a
// window. HX's own limits are [unverified]; without this there is none.
func WithRateLimit(max int, window time.Duration) SimOption {
	return func(c *simConfig) { c.limit = simkit.RateLimit{Max: max, Window: window} }
}

// WithAutoApprove makes a containment request take effect without approval,
// as on an appliance configured so.
func WithAutoApprove() SimOption { return func(c *simConfig) { c.autoApprove = true } }

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	c := simConfig{user: SimUser, pass: SimPassword, now: time.Now, idle: SimIdleTimeout, retryAfter: 2 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	c.limit.Now = c.now
	s := &Sim{
		tokens: simkit.NewTokens(c.user, c.pass, "hxsim", simSessionTTL, c.now),
		now:    c.now, idle: c.idle, retryAfter: c.retryAfter, limit: c.limit, autoApprove: c.autoApprove,
		lastUse: map[string]time.Time{}, hosts: map[string]*simHost{},
	}
	s.SetLatency(c.latency)
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator: the API user's name and
// password.
func (s *Sim) Credentials() (id, secret string) { return s.tokens.Credentials() }

// Inject queues HX alert objects (entries of /hx/api/v3/alerts) for the
// alerts list. A missing _id or reported_at is assigned: increasing ids and
// the clock's time (inject in order for ascending times). agent._id is
// required; the host is learned, uncontained (or in agent.containment_state
// when that is one of the states), so that it can be contained. Payloads
// are otherwise kept as sent (compacted). Inject stops at the first payload
// it cannot take; those before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	for i, p := range payloads {
		if err := s.inject(p); err != nil {
			return fmt.Errorf("trellixhx sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) inject(p []byte) error {
	f, err := jsonfield.Parse(p)
	if err != nil {
		return err
	}
	agent := f.Obj("agent")
	if agent.Str("_id") == "" {
		return fmt.Errorf("takes HX alerts with agent._id (Trellix EDR cloud events are not served by HX)")
	}
	raw := compact(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	var m map[string]any
	edit := func(k string, v any) error {
		if m == nil {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				return err
			}
		}
		m[k] = v
		return nil
	}
	if f.Str("_id") == "" {
		if err := edit("_id", 1000+s.seq); err != nil {
			return err
		}
	}
	if f.Time("reported_at").IsZero() {
		if err := edit("reported_at", hxTime(s.now())); err != nil {
			return err
		}
	}
	if m != nil {
		if raw, err = json.Marshal(m); err != nil {
			return err
		}
		if f, err = jsonfield.Parse(raw); err != nil {
			return err
		}
	}
	it := simkit.Item{ID: f.Str("_id"), Created: f.Time("reported_at"), Raw: raw}
	if err := s.feed.Add(it); err != nil {
		return err
	}
	h := s.learnLocked(agent.Str("_id"), agent.First("hostname"))
	if st := strings.ToLower(agent.Str("containment_state")); knownStates[st] && h.updated.IsZero() {
		h.state = st
	}
	return nil
}

var knownStates = map[string]bool{StateNormal: true, StateContainRequested: true, StateContaining: true, StateContained: true, StateUncontaining: true}

// hxTime formats t as HX writes times: UTC, milliseconds.
func hxTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// learnLocked records a host; a known host keeps its state.
func (s *Sim) learnLocked(id, name string) *simHost {
	h := s.hosts[id]
	if h == nil {
		h = &simHost{id: id, state: StateNormal}
		s.hosts[id] = h
	}
	if name != "" {
		h.name = name
	}
	return h
}

// AddDevice implements connector.Simulator: a host HX knows, uncontained.
func (s *Sim) AddDevice(hostID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnLocked(hostID, hostName)
}

// Contained implements connector.Simulator: the host's containment state is
// contained (an unapproved request is not).
func (s *Sim) Contained(hostID string) bool { return s.State(hostID) == StateContained }

// State returns a host's containment state, or "" for an unknown host.
func (s *Sim) State(hostID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hosts[hostID]; h != nil {
		return h.state
	}
	return ""
}

// SetState sets a known host's containment state, e.g. to containing as
// while an approved request is on its way to the agent.
func (s *Sim) SetState(hostID, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hosts[hostID]; h != nil {
		h.state, h.updated = state, s.now()
	}
}

// Calls implements connector.Simulator: containment requests (POST) and
// releases (DELETE) accepted per idempotency key (X-Bannin-Idempotency-Key,
// else "contain:"/"uncontain:"+agent id). Approvals (PATCH) count under
// "approve:"+key, so that one isolation shows one call under its key.
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every containment call received, in order.
func (s *Sim) Ledger() []simkit.Entry { return s.ledger.Entries() }

// DenyScope makes the calls needing scope (ScopeAlerts, …) answer 403, as
// for an API user without the role.
func (s *Sim) DenyScope(scope string) { s.tokens.Deny(scope) }

// ExpireSessions ends every session, as HX does after 15 minutes idle.
func (s *Sim) ExpireSessions() { s.tokens.ExpireAll() }

// Logins counts the sessions opened so far.
func (s *Sim) Logins() int { return s.tokens.Issued() }

// Requests returns how many API requests the simulator answered.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AlertIDs returns the ids of the injected alerts in list order
// (reported_at, then id).
func (s *Sim) AlertIDs() []string { return s.feed.IDs() }

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	user, pass := s.Credentials()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Trellix Endpoint Security (HX) API simulator\n")
	fmt.Fprintf(&b, "  API user: %s / %s   (GET %s with HTTP Basic → header %s)\n", user, pass, pathToken, TokenHeader)
	fmt.Fprintf(&b, "  GET  %s?offset=&limit=&sort=reported_at+ascending&filterQuery={\"operator\":\"gte\",\"field\":\"reported_at\",\"arg\":[…]}\n", pathAlerts)
	fmt.Fprintf(&b, "  GET|POST|PATCH|DELETE %s<agent_id>/containment\n", pathHosts)
	ids := make([]string, 0, len(s.hosts))
	for id := range s.hosts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(&b, "  %d alerts, %d hosts\n", s.feed.Len(), len(ids))
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s  %s  %s\n", id, s.hosts[id].name, s.hosts[id].state)
	}
	return b.String()
}

// NewAlert returns an HX IOC alert about a process on the host agentID,
// without _id or reported_at (Inject assigns them): a demo and test
// payload in the shape bannin expects of HX (see testdata).
func NewAlert(hostName, agentID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"agent":  map[string]any{"_id": agentID, "url": pathHosts + agentID, "containment_state": StateNormal, "hostname": hostName},
		"source": "IOC", "resolution": "ALERT", "is_false_positive": false,
		"event_type": "processEvent",
		"event_at":   "2026-03-01T09:59:58.120Z", "matched_at": "2026-03-01T09:59:59.500Z",
		"event_values": map[string]any{
			"processEvent/process":        "powershell.exe",
			"processEvent/processPath":    `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
			"processEvent/processCmdLine": `powershell.exe -nop -w hidden -enc SQBFAFgA`,
			"processEvent/pid":            4242,
			"processEvent/parentProcess":  "winword.exe",
			"processEvent/parentPid":      3100,
			"processEvent/md5":            "7353f60b1739074eb17c5f4dddefe239",
			"processEvent/username":       `CORP\jdoe`,
		},
		"indicator": map[string]any{
			"_id": "9d4f0a57-8a6c-4a7e-bb0e-2f3c1f1b9a11", "category": "Custom",
			"display_name": "Encoded PowerShell from Office", "name": "ENCODED POWERSHELL FROM OFFICE", "signature": nil,
		},
	})
	return b
}
