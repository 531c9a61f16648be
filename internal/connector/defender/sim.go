package defender

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

// Credentials the simulator accepts unless options set others.
const (
	SimTenant   = "8f1c1a0e-5b7d-4c4e-9a43-0d3b7e1c2f11"
	SimClientID = "3b1e5c8a-7d2f-4e61-b0c9-5a4d2e8f9c01"
	SimSecret   = "bannin-sim-mde-secret-0123456789"
)

// Sim simulates the parts of the MDE API bannin uses, and the Entra ID v1
// token endpoint in front of it, on one base URL: POST /{tenant}/oauth2/token,
// GET /api/alerts (OData $filter on lastUpdateTime/alertCreationTime,
// $orderby, $top, $skip, @odata.nextLink), GET /api/machines/{id},
// GET /api/machineactions[/{id}], POST /api/machines/{id}/isolate,
// unisolate and StopAndQuarantineFile, GET /api/files/{hash}, and GET and
// POST /api/indicators. It limits API calls to 100 a minute as MDE does.
// It is an http.Handler; all methods are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency on API calls (FailNext)
	tokens        *simkit.Tokens
	ledger        simkit.Ledger
	tenant        string

	mu          sync.Mutex
	now         func() time.Time
	retryAfter  time.Duration
	limit       simkit.RateLimit
	alerts      simkit.Feed       // every version of every alert, by lastUpdateTime
	current     map[string]string // alert id → feed id of its current version
	seq         int
	machines    map[string]*simMachine
	actions     []MachineAction
	pending     bool // actions stay Pending until CompleteActions
	failActions int  // the next n actions end Failed
	files       map[string]simFile
	indicators  []Indicator
	requests    int

	mux *http.ServeMux
}

type simMachine struct {
	id, name, os string
	isolated     bool
}

type simFile struct{ sha1, sha256 string }

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithClock sets the simulator's clock (assigned times, token expiry, the
// rate-limit window), so replays and tests run on virtual time.
func WithClock(now func() time.Time) SimOption { return func(s *Sim) { s.now = now } }

// WithLatency delays every API answer by d (or until the request is
// cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with injected 429s and 503s
// (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// WithRateLimit sets the API call limit (default 100 per minute, MDE's);
// max 0 turns it off.
func WithRateLimit(max int, window time.Duration) SimOption {
	return func(s *Sim) { s.limit.Max, s.limit.Window = max, window }
}

// WithPendingActions leaves machine actions Pending until CompleteActions,
// as a real device takes a while to pick them up.
func WithPendingActions() SimOption { return func(s *Sim) { s.pending = true } }

// WithTokenTTL sets how long issued tokens live (default an hour).
func WithTokenTTL(d time.Duration) SimOption {
	return func(s *Sim) { s.tokens = simkit.NewTokens(SimClientID, SimSecret, "mde-sim", d, s.clock) }
}

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{
		tenant: SimTenant, now: time.Now, retryAfter: 2 * time.Second,
		limit:   simkit.RateLimit{Max: 100, Window: time.Minute},
		current: map[string]string{}, machines: map[string]*simMachine{}, files: map[string]simFile{},
	}
	s.tokens = simkit.NewTokens(SimClientID, SimSecret, "mde-sim", time.Hour, s.clock)
	for _, o := range opts {
		o(s)
	}
	s.limit.Now = s.now
	s.routes()
	return s
}

// clock reads the configured clock, which options may set after the token
// issuer was made.
func (s *Sim) clock() time.Time { return s.now() }

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator: the client id is
// "<tenant>/<client id>", as Config.ClientID takes it.
func (s *Sim) Credentials() (id, secret string) { return s.tenant + "/" + SimClientID, SimSecret }

// Inject implements connector.Simulator. It takes MDE alert objects (items
// of /api/alerts, evidence as an array or one object) or OData pages
// {"value":[…]} of them. A missing id, alertCreationTime or lastUpdateTime
// is assigned (the clock's time). An alert whose id is already there is an
// update: it replaces the earlier version and, if its lastUpdateTime is not
// later, gets the clock's time, so the list returns it again. The machine
// and the file hashes the alert names are learned. Inject stops at the
// first payload it cannot take; those before it stay.
func (s *Sim) Inject(payloads ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range payloads {
		if err := s.injectLocked(p); err != nil {
			return fmt.Errorf("defender sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) injectLocked(p []byte) error {
	f, err := jsonfield.Parse(p)
	if err != nil {
		return err
	}
	if !f.Has("id") && !f.Has("machineId") && f.Has("value") {
		items, ok := jsonfield.RawArray(f["value"])
		if !ok {
			return fmt.Errorf("value is not an array")
		}
		for _, it := range items {
			if err := s.injectLocked(it); err != nil {
				return err
			}
		}
		return nil
	}
	if isGraph(f) || !(f.Has("machineId") || f.Has("computerDnsName")) {
		return fmt.Errorf("takes MDE alert objects (machineId, computerDnsName), not Graph alerts or other objects")
	}
	m, err := toMap(p)
	if err != nil {
		return err
	}
	s.seq++
	now := s.now().UTC()
	changed := false
	set := func(k string, v any) { m[k], changed = v, true }
	id := f.Str("id")
	if id == "" {
		id = fmt.Sprintf("da%018d_%d", now.UnixNano()/100%1e18, 1_000_000+s.seq)
		set("id", id)
	}
	if f.Time("alertCreationTime").IsZero() {
		set("alertCreationTime", timeText(now))
	}
	updated := f.Time("lastUpdateTime")
	if prev, ok := s.alerts.Get(s.current[id]); ok && !updated.After(prev.Created) {
		// An update must come later than the version it replaces.
		updated = now
		if !now.After(prev.Created) {
			updated = prev.Created.Add(100 * time.Nanosecond) // MDE's precision
		}
		set("lastUpdateTime", timeText(updated))
	} else if updated.IsZero() {
		updated = now
		set("lastUpdateTime", timeText(updated))
	}
	raw := compact(p) // kept as sent unless a field was assigned
	if changed {
		if raw, err = json.Marshal(m); err != nil {
			return err
		}
	}
	item := simkit.Item{ID: fmt.Sprintf("%s#%08d", id, s.seq), Created: updated, Raw: raw}
	if err := s.alerts.Add(item); err != nil {
		return err
	}
	s.current[id] = item.ID
	s.learnLocked(f)
	return nil
}

// toMap decodes an object keeping numbers exact.
func toMap(p []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// timeText writes a time as MDE does: UTC with seven fraction digits.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// learnLocked records the machine and file hashes an alert names.
func (s *Sim) learnLocked(f jsonfield.Object) {
	if id := f.Str("machineId"); id != "" {
		m := s.machines[id]
		if m == nil {
			m = &simMachine{id: id}
			s.machines[id] = m
		}
		if n := f.Str("computerDnsName"); n != "" {
			m.name = n
		}
	}
	items, ok := jsonfield.RawArray(f["evidence"])
	if !ok && jsonfield.IsObject(f["evidence"]) {
		items = []json.RawMessage{f["evidence"]}
	}
	for _, r := range items {
		if e, err := jsonfield.Parse(r); err == nil {
			s.addFileLocked(e.Str("sha1"), e.Str("sha256"))
		}
	}
}

func (s *Sim) addFileLocked(sha1, sha256 string) {
	sha1, sha256 = strings.ToLower(sha1), strings.ToLower(sha256)
	if len(sha1) != 40 || len(sha256) != 64 {
		return
	}
	f := simFile{sha1: sha1, sha256: sha256}
	s.files[sha1], s.files[sha256] = f, f
}

// UpdateAlert changes fields of an alert (status, assignedTo, …) and sets
// its lastUpdateTime to the clock's time, as an analyst's edit does; the
// list then returns it again.
func (s *Sim) UpdateAlert(id string, fields map[string]any) error {
	s.mu.Lock()
	it, ok := s.alerts.Get(s.current[id])
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("defender sim: no alert %q", id)
	}
	m, err := toMap(it.Raw)
	if err != nil {
		return err
	}
	for k, v := range fields {
		m[k] = v
	}
	delete(m, "lastUpdateTime")
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.Inject(b)
}

// AlertIDs returns the alert ids in list order (lastUpdateTime, then id).
func (s *Sim) AlertIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, fid := range s.alerts.IDs() {
		id := alertOf(fid)
		if s.current[id] == fid {
			ids = append(ids, id)
		}
	}
	return ids
}

// alertOf returns the alert id of a feed id.
func alertOf(feedID string) string {
	if i := strings.LastIndexByte(feedID, '#'); i >= 0 {
		return feedID[:i]
	}
	return feedID
}

// AddDevice implements connector.Simulator: a machine the tenant knows,
// not isolated.
func (s *Sim) AddDevice(machineID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.machines[machineID]
	if m == nil {
		m = &simMachine{id: machineID}
		s.machines[machineID] = m
	}
	if hostName != "" {
		m.name = hostName
	}
}

// AddFile makes a file known to GET /api/files/{hash}.
func (s *Sim) AddFile(sha1, sha256 string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addFileLocked(sha1, sha256)
}

// Contained implements connector.Simulator: the machine is isolated (an
// isolate action succeeded and no unisolate since).
func (s *Sim) Contained(hostID string) bool { return s.ledger.Contained(hostID) }

// Calls implements connector.Simulator: accepted action calls per
// idempotency key (the KeyMarker in the Comment, else action:machineId).
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every action call received, in order.
func (s *Sim) Ledger() []simkit.Entry { return s.ledger.Entries() }

// MachineActions returns every machine action, oldest first.
func (s *Sim) MachineActions() []MachineAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MachineAction(nil), s.actions...)
}

// Indicators returns the submitted indicators.
func (s *Sim) Indicators() []Indicator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Indicator(nil), s.indicators...)
}

// CompleteActions makes every Pending action Succeeded and applies it.
func (s *Sim) CompleteActions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.actions {
		if s.actions[i].Status == StatusPending {
			s.actions[i].Status = StatusSucceeded
			s.applyLocked(s.actions[i])
		}
	}
}

// FailActions makes the next n machine actions end Failed, as when the
// device cannot carry them out.
func (s *Sim) FailActions(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failActions = n
}

// ExpireTokens makes every issued token invalid: the next API call answers
// 401 and the client must fetch a new token.
func (s *Sim) ExpireTokens() { s.tokens.ExpireAll() }

// TokensIssued counts the tokens issued so far.
func (s *Sim) TokensIssued() int { return s.tokens.Issued() }

// DenyPermission withholds an application permission (PermAlertRead, …):
// calls that need it answer 403.
func (s *Sim) DenyPermission(perm string) { s.tokens.Deny(perm) }

// Requests returns how many requests (token and API) the simulator answered.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Microsoft Defender for Endpoint API simulator (with its Entra ID token endpoint)\n")
	fmt.Fprintf(&b, "  client id: %s/%s   secret: %s\n", s.tenant, SimClientID, SimSecret)
	fmt.Fprintf(&b, "  POST /%s/oauth2/token  (client_credentials, resource=%s)\n", s.tenant, resourceCommercial)
	fmt.Fprintf(&b, "  GET  %s?$filter=lastUpdateTime ge <t>&$orderby=lastUpdateTime asc&$top=&$skip=&$expand=evidence\n", pathAlerts)
	fmt.Fprintf(&b, "  GET  %s?$filter=machineId eq '<id>'\n", pathMachineActions)
	fmt.Fprintf(&b, "  POST %s{id}/isolate | unisolate | StopAndQuarantineFile ; GET %s{sha} ; GET|POST %s\n", pathMachines, pathFiles, pathIndicators)
	ids := make([]string, 0, len(s.machines))
	for id := range s.machines {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(&b, "  %d alerts, %d machines (limit %d calls per %v)\n", len(s.current), len(ids), s.limit.Max, s.limit.Window)
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s  %s  isolated=%v\n", id, s.machines[id].name, s.ledger.Contained(id))
	}
	return b.String()
}
