package sentinelone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// SimToken is the API token a simulator accepts unless WithToken sets
// another.
const SimToken = "bannin-sim-s1-apitoken-0123456789abcdef"

// Sim simulates the parts of the SentinelOne management API bannin uses:
// ApiToken auth, the threats and cloud-detection (STAR) alerts lists with
// cursor paging, the agents list (networkStatus) and the disconnect and
// connect agent actions, the threat mitigation actions and the blocklist
// (restrictions). It is an http.Handler; serve it with httptest.NewServer or
// `bannin sim sentinelone --listen`. All methods are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency (FailNext)
	ledger        simkit.Ledger
	// threats and alerts are the two lists, in (createdAt, id) order with
	// simkit's cursor (the sort key of the last item returned).
	threats simkit.Feed
	alerts  simkit.Feed

	mu         sync.Mutex
	token      string
	now        func() time.Time
	retryAfter time.Duration
	agents     map[string]*simAgent
	denied     map[string]bool
	// patched holds threats whose mitigation changed since injection, as
	// the console now shows them.
	patched      map[string]json.RawMessage
	restrictions []Restriction
	seq          int
	requests     int

	mux *http.ServeMux
}

// LedgerEntry is one action call the simulator received: HostID is the
// agent id (disconnect, connect).
type LedgerEntry = simkit.Entry

type simAgent struct {
	id, name, os string
	status       string // networkStatus
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithToken sets the API token the simulator accepts.
func WithToken(tok string) SimOption { return func(s *Sim) { s.token = tok } }

// WithClock sets the simulator's clock (assigned createdAt, ledger times),
// so replays run on virtual time.
func WithClock(now func() time.Time) SimOption { return func(s *Sim) { s.now = now } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with injected 429s (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{
		token: SimToken, now: time.Now, retryAfter: 2 * time.Second,
		agents: map[string]*simAgent{}, denied: map[string]bool{}, patched: map[string]json.RawMessage{},
	}
	for _, o := range opts {
		o(s)
	}
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator. SentinelOne has no client
// id: the secret is the API token.
func (s *Sim) Credentials() (id, secret string) { return "", s.token }

// Inject queues threat objects (items of /web/api/v2.1/threats) for the
// threats list, and STAR alert objects (alertInfo) for the alerts list. A
// missing id or created time (threatInfo.createdAt, alertInfo.createdAt) is
// assigned: 19-digit ids and the clock's time (inject in order for
// ascending times). The agent named is learned, connected, so that it can
// be disconnected. Payloads are otherwise kept as sent (compacted). Inject
// stops at the first payload it cannot take; those before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range payloads {
		if err := s.injectLocked(p); err != nil {
			return fmt.Errorf("sentinelone sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) injectLocked(p []byte) error {
	f, err := jsonfield.Parse(p)
	if err != nil {
		return err
	}
	isThreat := f.Has("threatInfo")
	if !isThreat && !f.Has("alertInfo") {
		return fmt.Errorf("takes threat (threatInfo) or STAR alert (alertInfo) objects")
	}
	raw := compact(p)
	s.seq++
	infoKey, idOf := "threatInfo", func(f jsonfield.Object) string { id, _ := threatKey(f); return id }
	if !isThreat {
		infoKey, idOf = "alertInfo", func(f jsonfield.Object) string { return f.Obj("alertInfo").Str("alertId") }
	}
	var m map[string]any
	changed := false
	edit := func() error {
		if m == nil {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				return err
			}
		}
		changed = true
		return nil
	}
	info := f.Obj(infoKey)
	if idOf(f) == "" {
		if err := edit(); err != nil {
			return err
		}
		id := strconv.FormatInt(1_900_000_000_000_000_000+int64(s.seq)*1_000_003, 10)
		if isThreat {
			m["id"] = id
			setIn(m, infoKey, "threatId", id)
		} else {
			setIn(m, infoKey, "alertId", id)
		}
	}
	if jsonfield.ParseTime(info.Str("createdAt")).IsZero() {
		if err := edit(); err != nil {
			return err
		}
		setIn(m, infoKey, "createdAt", timeText(s.now()))
	}
	if changed {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		raw = b
		if f, err = jsonfield.Parse(raw); err != nil {
			return err
		}
	}
	feed := &s.threats
	if !isThreat {
		feed = &s.alerts
	}
	if err := feed.Add(simkit.Item{ID: idOf(f), Created: f.Obj(infoKey).Time("createdAt"), Raw: raw}); err != nil {
		return fmt.Errorf("injected twice: %w", err)
	}
	rt := f.Obj("agentRealtimeInfo")
	if isThreat {
		s.learnLocked(rt.Str("agentId"), rt.Str("agentComputerName"), rt.First("agentOsName", "agentOsType"))
	} else {
		s.learnLocked(rt.Str("id"), rt.First("name", "computerName"), rt.Str("os"))
	}
	return nil
}

func setIn(m map[string]any, obj, key string, v any) {
	o, ok := m[obj].(map[string]any)
	if !ok {
		o = map[string]any{}
		m[obj] = o
	}
	o[key] = v
}

// learnLocked records an agent; a known agent keeps its network status.
func (s *Sim) learnLocked(id, name, os string) {
	if id == "" {
		return
	}
	a := s.agents[id]
	if a == nil {
		a = &simAgent{id: id, status: NetConnected}
		s.agents[id] = a
	}
	if name != "" {
		a.name = name
	}
	if os != "" {
		a.os = os
	}
}

// AddDevice implements connector.Simulator: an agent the console knows
// without any threat, connected.
func (s *Sim) AddDevice(agentID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnLocked(agentID, hostName, "")
}

// Contained implements connector.Simulator: the agent is disconnected from
// the network.
func (s *Sim) Contained(hostID string) bool { return s.ledger.Contained(hostID) }

// NetworkStatus returns a known agent's networkStatus.
func (s *Sim) NetworkStatus(agentID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.agents[agentID]; a != nil {
		return a.status, true
	}
	return "", false
}

// SetNetworkStatus sets a known agent's networkStatus, e.g. to
// "disconnecting" as while a disconnect is on its way to the agent.
func (s *Sim) SetNetworkStatus(agentID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.agents[agentID]; a != nil {
		s.setStatusLocked(a, status)
	}
}

// setStatusLocked sets an agent's networkStatus and keeps the ledger's
// containment state with it: contained is disconnected.
func (s *Sim) setStatusLocked(a *simAgent, status string) {
	a.status = status
	s.ledger.SetContained(a.id, status == NetDisconnected)
}

// Calls implements connector.Simulator: disconnect and connect calls
// received per idempotency key (X-Bannin-Idempotency-Key, else
// action+":"+agentID).
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every action call in arrival order.
func (s *Sim) Ledger() []LedgerEntry { return s.ledger.Entries() }

// Requests returns how many API requests the simulator answered.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// DenyPermission makes calls needing perm (PermThreatsView, …) answer 403,
// as for a token whose user's role lacks it.
func (s *Sim) DenyPermission(perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[perm] = true
}

// ThreatIDs returns the ids of the injected threats in list order
// (createdAt, then id).
func (s *Sim) ThreatIDs() []string { return s.threats.IDs() }

// AlertIDs returns the ids of the injected STAR alerts in list order
// (createdAt, then id).
func (s *Sim) AlertIDs() []string { return s.alerts.IDs() }

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "SentinelOne management API simulator\n")
	fmt.Fprintf(&b, "  API token: %s   (header Authorization: ApiToken <token>)\n", s.token)
	fmt.Fprintf(&b, "  GET  %s?limit=&cursor=&createdAt__gt[e]=&sortBy=createdAt&sortOrder=asc\n", pathThreats)
	fmt.Fprintf(&b, "  GET  %s?limit=&cursor=&createdAt__gt[e]=\n", pathAlerts)
	fmt.Fprintf(&b, "  GET  %s?ids=<agentId>[,…]   → id, computerName, networkStatus\n", pathAgents)
	fmt.Fprintf(&b, "  POST %s | %s  {\"filter\":{\"ids\":[\"<agentId>\"]}}\n", pathDisconnect, pathConnect)
	fmt.Fprintf(&b, "  POST %s{kill,quarantine,remediate,rollback-remediation}  {\"filter\":{\"ids\":[\"<threatId>\"]}}\n", pathMitigate)
	fmt.Fprintf(&b, "  GET|POST %s  (type black_hash)\n", pathRestrictions)
	ids := make([]string, 0, len(s.agents))
	for id := range s.agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(&b, "  %d threats, %d alerts, %d agents\n", s.threats.Len(), s.alerts.Len(), len(ids))
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s  %s  %s\n", id, s.agents[id].name, s.agents[id].status)
	}
	return b.String()
}
