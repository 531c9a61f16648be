package crowdstrike

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// Default simulator settings.
const (
	SimClientID     = "bannin-sim-client"
	SimClientSecret = "bannin-sim-secret"
	simCID          = "5e5e5e5e5e5e4a4a9b9b5e5e5e5e5e5e"
)

// Containment states the simulator reports in a device's status.
const (
	StatusNormal    = "normal"
	StatusContained = "contained"
)

// Sim simulates the parts of the CrowdStrike Falcon API bannin uses: OAuth2
// tokens, the Alerts API (query ids, then fetch entities) and the Hosts API
// (device details, contain and lift_containment). It is an http.Handler;
// serve it with httptest.NewServer or `bannin sim crowdstrike --listen`.
// All methods are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency (FailNext)
	tokens        *simkit.Tokens
	feed          simkit.Feed   // alerts in (created_timestamp, composite_id) order
	ledger        simkit.Ledger // contain and lift_containment calls, containment state

	mu         sync.Mutex
	id, secret string // options, until NewSim makes tokens
	ttl        time.Duration
	now        func() time.Time
	retryAfter time.Duration

	byID    map[string]*simAlert      // composite id → alert, for FQL and entities
	order   []string                  // composite ids in injection order
	devices map[string]map[string]any // AID → device fields learned from alerts
	seq     int                       // alerts injected, for assigned composite ids
	traces  int                       // answers sent, for trace ids

	mux *http.ServeMux
}

// LedgerEntry is one containment call the simulator received.
type LedgerEntry struct {
	At     time.Time
	AID    string
	Action string // "contain" or "lift_containment"
	Key    string // X-Bannin-Idempotency-Key, else action+":"+AID
	Status int    // HTTP status answered
}

type simAlert struct {
	f   jsonfield.Object
	raw json.RawMessage
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithCredentials sets the client id and secret the simulator accepts.
func WithCredentials(id, secret string) SimOption {
	return func(s *Sim) { s.id, s.secret = id, secret }
}

// WithClock sets the simulator's clock (token expiry, assigned
// created_timestamp, ledger times), so replays run on virtual time.
func WithClock(now func() time.Time) SimOption { return func(s *Sim) { s.now = now } }

// WithTokenTTL sets how long issued tokens stay valid (default 30 minutes,
// as CrowdStrike's expires_in 1799).
func WithTokenTTL(d time.Duration) SimOption { return func(s *Sim) { s.ttl = d } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with injected 429s (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{
		id: SimClientID, secret: SimClientSecret,
		now: time.Now, ttl: 1799 * time.Second, retryAfter: 2 * time.Second,
		byID: map[string]*simAlert{}, devices: map[string]map[string]any{},
	}
	for _, o := range opts {
		o(s)
	}
	s.tokens = simkit.NewTokens(s.id, s.secret, "simtoken", s.ttl, s.now)
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator.
func (s *Sim) Credentials() (id, secret string) { return s.tokens.Credentials() }

// Inject queues Alerts API alert objects for the pull API. A missing
// composite_id or created_timestamp is assigned (the clock's time; inject in
// order for ascending times), and the host named by agent_id/device is
// learned so that it can be contained. Payloads are kept as sent otherwise
// (compacted). Inject stops at the first payload it cannot take; those
// before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range payloads {
		if err := s.injectLocked(p); err != nil {
			return fmt.Errorf("crowdstrike sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) injectLocked(p []byte) error {
	f, err := jsonfield.Parse(p)
	if err != nil {
		return err
	}
	if f.Has("metadata") && f.Has("event") {
		return fmt.Errorf("takes Alerts API alert objects, not Event Streams events")
	}
	raw := compact(p)
	s.seq++
	seq := s.seq
	aid := f.First("agent_id", "source_endpoint_sensor_id")
	if aid == "" {
		aid = f.Obj("device").Str("device_id")
	}
	if !f.Has("created_timestamp") {
		raw = prepend(raw, "created_timestamp", timeText(s.now()))
	}
	if !f.Has("composite_id") {
		raw = prepend(raw, "composite_id", fmt.Sprintf("%s:ind:%s:%d-%d-%d", simCID, aid, 100000+seq, 5700+seq%100, seq))
	}
	if f, err = jsonfield.Parse(raw); err != nil {
		return err
	}
	id := f.Str("composite_id")
	if s.feed.Add(simkit.Item{ID: id, Created: f.Time("created_timestamp"), Raw: raw}) != nil {
		return fmt.Errorf("composite_id %q injected twice", id)
	}
	s.byID[id] = &simAlert{f: f, raw: raw}
	s.order = append(s.order, id)
	if aid != "" {
		s.learnLocked(aid, f)
	}
	return nil
}

// compact removes white space outside strings so alerts sit on one line in
// API answers; it returns p unchanged if that fails.
func compact(p []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return slices.Clone(p)
	}
	return b.Bytes()
}

// prepend adds "key":"value" as the first member of the object raw.
func prepend(raw json.RawMessage, key, value string) json.RawMessage {
	kv, _ := json.Marshal(map[string]string{key: value})
	body := bytes.TrimSpace(raw[1:])
	if len(body) > 0 && body[0] != '}' {
		kv[len(kv)-1] = ','
	} else {
		kv = kv[:len(kv)-1]
	}
	return append(kv, body...)
}

// deviceLocked returns the record of device aid, created if new.
func (s *Sim) deviceLocked(aid string) map[string]any {
	d := s.devices[aid]
	if d == nil {
		d = map[string]any{"device_id": aid, "cid": simCID}
		s.devices[aid] = d
	}
	return d
}

// learnLocked records the device an alert describes; its status is kept.
func (s *Sim) learnLocked(aid string, f jsonfield.Object) {
	d := s.deviceLocked(aid)
	var rec map[string]any
	if json.Unmarshal(f["device"], &rec) == nil {
		maps.Copy(d, rec)
	}
	if f.Obj("device").Str("hostname") == "" {
		if h := f.First("source_endpoint_host_name", "target_endpoint_host_name"); h != "" {
			d["hostname"] = h
		}
	}
	d["device_id"] = aid
	delete(d, "status") // the simulator's own state answers
}

// AddDevice registers a host the API knows without any alert, in status
// "normal".
func (s *Sim) AddDevice(aid, hostname string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deviceLocked(aid)["hostname"] = hostname
}

// Contained implements connector.Simulator.
func (s *Sim) Contained(hostID string) bool { return s.ledger.Contained(hostID) }

// statusOf is a device's status in the API's words.
func (s *Sim) statusOf(aid string) string {
	if s.ledger.Contained(aid) {
		return StatusContained
	}
	return StatusNormal
}

// DeviceStatus returns a known device's status ("normal", "contained").
func (s *Sim) DeviceStatus(aid string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.devices[aid] == nil {
		return "", false
	}
	return s.statusOf(aid), true
}

// Calls implements connector.Simulator: containment calls received per
// idempotency key (X-Bannin-Idempotency-Key, else action+":"+AID). Unlike
// simkit.Ledger.Calls it counts refused calls (unknown device, 404) too, as
// this simulator always has.
func (s *Sim) Calls() map[string]int {
	calls := map[string]int{}
	for _, e := range s.ledger.Entries() {
		calls[e.Key]++
	}
	return calls
}

// Ledger returns every contain and lift_containment call in arrival order.
func (s *Sim) Ledger() []LedgerEntry {
	var out []LedgerEntry
	for _, e := range s.ledger.Entries() {
		out = append(out, LedgerEntry{At: e.At, AID: e.HostID, Action: e.Action, Key: e.Key, Status: e.Status})
	}
	return out
}

// ExpireTokens invalidates every issued token, as if they had expired, so
// that a client's refresh-on-401 can be tested without waiting.
func (s *Sim) ExpireTokens() { s.tokens.ExpireAll() }

// TokensIssued returns how many tokens the simulator has issued.
func (s *Sim) TokensIssued() int { return s.tokens.Issued() }

// Scopes the simulator can deny, in CrowdStrike's console wording.
const (
	ScopeAlertsRead = "Alerts: Read"
	ScopeHostsRead  = "Hosts: Read"
	ScopeHostsWrite = "Hosts: Write"
)

// DenyScope makes calls needing scope answer 403, as for an API client
// created without it.
func (s *Sim) DenyScope(scope string) { s.tokens.Deny(scope) }

// AlertIDs returns the composite ids of the injected alerts in injection
// order.
func (s *Sim) AlertIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	id, secret := s.tokens.Credentials()
	fmt.Fprintf(&b, "CrowdStrike Falcon API simulator\n")
	fmt.Fprintf(&b, "  client id:     %s\n  client secret: %s\n", id, secret)
	fmt.Fprintf(&b, "  POST /oauth2/token                          form client_id, client_secret → bearer token (%d s)\n", int(s.tokens.TTL().Seconds()))
	fmt.Fprintf(&b, "  GET  /alerts/queries/alerts/v2              filter (FQL), sort, limit, offset, after → composite ids\n")
	fmt.Fprintf(&b, "  POST /alerts/entities/alerts/v2             {\"composite_ids\":[…]} → alerts\n")
	fmt.Fprintf(&b, "  GET  /devices/entities/devices/v2?ids=AID   → device_id, hostname, status\n")
	fmt.Fprintf(&b, "  POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment  {\"ids\":[AID]}\n")
	aids := slices.Sorted(maps.Keys(s.devices))
	fmt.Fprintf(&b, "  %d alerts, %d devices\n", s.feed.Len(), len(aids))
	for _, aid := range aids {
		fmt.Fprintf(&b, "    %s  %v  %s\n", aid, s.devices[aid]["hostname"], s.statusOf(aid))
	}
	return b.String()
}
