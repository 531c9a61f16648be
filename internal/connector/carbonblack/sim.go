package carbonblack

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

// The credentials a simulator accepts unless WithCredentials sets others.
const (
	SimOrgKey = "BANNIN01"
	SimAPIID  = "SIMAPIID01"
	SimSecret = "BANNINSIMSECRETKEY0123456"
)

// Sim simulates the parts of the Carbon Black Cloud API bannin uses:
// X-Auth-Token API keys with access-level permissions, the Alerts v7
// search (time_range, start/rows, sort by backend_update_timestamp), the
// devices search (quarantined), device actions (QUARANTINE ON/OFF) and
// reputation overrides (ban a SHA-256). It is an http.Handler; serve it
// with httptest.NewServer or `bannin sim carbonblack`. All methods are safe
// for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency (FailNext, SetLatency)

	org    string
	keys   *simkit.Tokens // the API id/secret pair and the withheld permissions
	alerts simkit.Feed    // one item per alert version, sorted by backend_update_timestamp
	ledger simkit.Ledger  // device actions and bans, per action:device

	mu         sync.Mutex
	now        func() time.Time
	retryAfter time.Duration
	limit      simkit.RateLimit
	latest     map[string]string // alert id → feed key of its current version
	devices    map[string]*simDevice
	overrides  []override
	seq        int
	requests   int

	mux *http.ServeMux
}

type simDevice struct {
	id, name, os string
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithCredentials sets the org key, API id and secret the simulator
// accepts.
func WithCredentials(orgKey, apiID, secret string) SimOption {
	return func(s *Sim) { s.org, s.keys = orgKey, simkit.NewTokens(apiID, secret, "cb", time.Hour, nil) }
}

// WithClock sets the simulator's clock (assigned timestamps, rate-limit
// windows, ledger times), so that replays run on virtual time.
func WithClock(now func() time.Time) SimOption { return func(s *Sim) { s.now = now } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with 429s (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// WithRateLimit answers 429 once max calls were made in a window.
func WithRateLimit(max int, window time.Duration) SimOption {
	return func(s *Sim) { s.limit.Max, s.limit.Window = max, window }
}

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{now: time.Now, retryAfter: 2 * time.Second, latest: map[string]string{}, devices: map[string]*simDevice{}}
	WithCredentials(SimOrgKey, SimAPIID, SimSecret)(s)
	for _, o := range opts {
		o(s)
	}
	s.limit.Now = s.now
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator: the id is "<org key>/<API
// id>" and the secret the API secret key, as Config takes them.
func (s *Sim) Credentials() (id, secret string) {
	apiID, secret := s.keys.Credentials()
	return s.org + "/" + apiID, secret
}

// Inject queues Alerts v7 alert objects for the alerts search. A missing
// id is assigned; a missing backend_timestamp or backend_update_timestamp
// is the clock's time. An alert whose id is already there replaces it, as
// Carbon Black updates an alert in place (its backend_update_timestamp must
// then be newer; a missing one is the clock's time). The device named is
// learned, not quarantined. Inject stops at the first payload it cannot
// take; those before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	for i, p := range payloads {
		if err := s.inject(p); err != nil {
			return fmt.Errorf("carbonblack sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) inject(p []byte) error {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		return fmt.Errorf("takes Alerts v7 alert objects: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	now := s.now().UTC().Format(timeLayout)
	if id, _ := m["id"].(string); strings.TrimSpace(id) == "" {
		m["id"] = fmt.Sprintf("b4a71e00-0000-4000-8000-%012d", s.seq)
	}
	for _, k := range []string{"backend_timestamp", "backend_update_timestamp"} {
		if v, _ := m[k].(string); jsonfield.ParseTime(v).IsZero() {
			m[k] = now
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return err
	}
	id, updated := f.Str("id"), f.Time("backend_update_timestamp")
	key := id + "@" + updated.Format(time.RFC3339Nano)
	if prev, ok := s.latest[id]; ok {
		if it, _ := s.alerts.Get(prev); !updated.After(it.Created) {
			return fmt.Errorf("alert %s injected again without a newer backend_update_timestamp", id)
		}
	}
	if err := s.alerts.Add(simkit.Item{ID: key, Created: updated, Raw: raw}); err != nil {
		return err
	}
	s.latest[id] = key
	s.learnLocked(f.Str("device_id"), f.Str("device_name"), f.Str("device_os"))
	return nil
}

// learnLocked records a device; a known device keeps its state.
func (s *Sim) learnLocked(id, name, os string) {
	if !isDigits(id) {
		return
	}
	d := s.devices[id]
	if d == nil {
		d = &simDevice{id: id}
		s.devices[id] = d
	}
	if name != "" {
		d.name = name
	}
	if os != "" {
		d.os = os
	}
}

// AddDevice implements connector.Simulator: a device (integer id) the
// console knows without any alert, not quarantined.
func (s *Sim) AddDevice(deviceID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnLocked(deviceID, hostName, "")
}

// Contained implements connector.Simulator: the device is quarantined.
func (s *Sim) Contained(deviceID string) bool { return s.ledger.Contained(deviceID) }

// Calls implements connector.Simulator: accepted calls per action:device,
// with actions QUARANTINE_ON, QUARANTINE_OFF (device actions carry no
// idempotency key) and BAN_SHA256 (key BAN_SHA256:<hash>).
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every device action and ban the simulator received.
func (s *Sim) Ledger() []simkit.Entry { return s.ledger.Entries() }

// DenyPermission withholds a permission (PermAlertsRead, PermQuarantine, …)
// from the API key's access level: calls needing it answer 403.
func (s *Sim) DenyPermission(perm string) { s.keys.Deny(perm) }

// Requests returns how many API requests the simulator answered.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AlertIDs returns the current alerts' ids in search order
// (backend_update_timestamp, then id).
func (s *Sim) AlertIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, key := range s.alerts.IDs() {
		id, _, _ := strings.Cut(key, "@")
		if s.latest[id] == key {
			ids = append(ids, id)
		}
	}
	return ids
}

// Banned reports whether a BLACK_LIST override bans sha.
func (s *Sim) Banned(sha string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.overrides {
		if strings.EqualFold(o.SHA256Hash, sha) && o.OverrideList == "BLACK_LIST" {
			return true
		}
	}
	return false
}

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	id, secret := s.Credentials()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	apiID := strings.TrimPrefix(id, s.org+"/")
	fmt.Fprintf(&b, "Carbon Black Cloud API simulator (org key %s)\n", s.org)
	fmt.Fprintf(&b, "  client id %s, secret %s   (header %s: %s/%s)\n", id, secret, AuthHeader, secret, apiID)
	fmt.Fprintf(&b, "  POST %s  {time_range, criteria, start, rows, sort}\n", fmt.Sprintf(pathAlertSearch, s.org))
	fmt.Fprintf(&b, "  POST %s  {criteria:{id:[…]}} → quarantined\n", fmt.Sprintf(pathDeviceSearch, s.org))
	fmt.Fprintf(&b, "  POST %s  {action_type:QUARANTINE, device_id:[…], options:{toggle:ON|OFF}} → 204\n", fmt.Sprintf(pathDeviceAction, s.org))
	fmt.Fprintf(&b, "  POST %s[/_search]  reputation overrides (BLACK_LIST SHA256)\n", fmt.Sprintf(pathOverrides, s.org))
	ids := make([]string, 0, len(s.devices))
	for id := range s.devices {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(&b, "  %d alerts, %d devices\n", len(s.latest), len(ids))
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s  %s  quarantined=%v\n", id, s.devices[id].name, s.ledger.Contained(id))
	}
	return b.String()
}
