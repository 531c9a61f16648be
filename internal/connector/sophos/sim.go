package sophos

import (
	"crypto/sha256"
	"encoding/hex"
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
	SimClientID     = "bannin-sim-sophos-client"
	SimClientSecret = "bannin-sim-sophos-secret"
	SimTenantID     = "5ca1ab1e-0000-4b1d-9e55-50f05c0ffee5"
	// tokenTTL is Sophos's token lifetime (expires_in 3600).
	tokenTTL = time.Hour
)

// Sim simulates the parts of the Sophos Central API bannin uses: the
// OAuth2 token issuer, whoami, the SIEM alerts list with cursor paging and
// its 24-hour window, endpoint isolation (status, per endpoint, bulk), the
// Common API alert and its actions, and blocked items. It is an
// http.Handler; serve it with httptest.NewServer or `bannin sim sophos
// --listen`. The token issuer, the global host and the data region are all
// the simulator's own URL unless WithDataRegion names another. All methods
// are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency (FailNext)
	tokens        *simkit.Tokens
	feed          simkit.Feed
	ledger        simkit.Ledger

	mu         sync.Mutex
	now        func() time.Time
	retryAfter time.Duration
	tenant     string
	idType     string
	region     string // data region URL; "" means the request's own URL
	limit      simkit.RateLimit
	endpoints  map[string]*simEndpoint
	feedKey    map[string]string // alert id → its key in feed
	feedIDs    []string          // alert ids in list order
	alertEP    map[string]string // alert id → endpoint id
	alertType  map[string]string // alert id → type
	blocked    map[string]blockedItem
	seq        int
	requests   int

	mux *http.ServeMux
}

type simEndpoint struct {
	id, name      string
	comment       string
	lastEnabledAt time.Time
}

type blockedItem struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	Props     map[string]string `json:"properties"`
	Comment   string            `json:"comment"`
	CreatedAt string            `json:"createdAt"`
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithCredentials sets the client id and secret the simulator accepts.
func WithCredentials(id, secret string) SimOption {
	return func(s *Sim) { s.tokens = simkit.NewTokens(id, secret, "sophos-sim", tokenTTL, s.clock) }
}

// WithSimClock sets the simulator's clock (token expiry, the 24-hour
// window, assigned created_at, ledger times), so replays run on virtual
// time.
func WithSimClock(now func() time.Time) SimOption { return func(s *Sim) { s.now = now } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with injected 429s and 503s
// (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// WithIDType makes whoami report another kind of credential ("partner",
// "organization"), for which bannin must refuse to work.
func WithIDType(t string) SimOption { return func(s *Sim) { s.idType = t } }

// WithDataRegion makes whoami name url as the tenant's data region; tenant
// calls reaching the simulator under another host then answer 404, as
// Sophos's global host does.
func WithDataRegion(url string) SimOption {
	return func(s *Sim) { s.region = strings.TrimRight(url, "/") }
}

// WithRateLimit answers 429 (with Retry-After) past max API calls per
// window.
func WithRateLimit(max int, window time.Duration) SimOption {
	return func(s *Sim) { s.limit = simkit.RateLimit{Max: max, Window: window, Now: s.clock} }
}

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{
		now: time.Now, retryAfter: 2 * time.Second, tenant: SimTenantID, idType: "tenant",
		endpoints: map[string]*simEndpoint{}, feedKey: map[string]string{}, alertEP: map[string]string{}, alertType: map[string]string{},
		blocked: map[string]blockedItem{},
	}
	s.tokens = simkit.NewTokens(SimClientID, SimClientSecret, "sophos-sim", tokenTTL, s.clock)
	for _, o := range opts {
		o(s)
	}
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// clock reads the simulator's clock. s.now is set only by options, before
// the simulator serves, so it needs no lock (and the token issuer and rate
// limit may call it under s.mu).
func (s *Sim) clock() time.Time { return s.now() }

// Credentials implements connector.Simulator.
func (s *Sim) Credentials() (id, secret string) { return s.tokens.Credentials() }

// Inject queues SIEM alert objects (items of GET /siem/v1/alerts), or whole
// list answers {"items":[…]}. A missing id is assigned; created_at (when
// Sophos Central stored the alert, which the list is ordered and windowed
// by) is set to the clock's time when it is missing or older than the
// SIEM API's 24-hour window, as for an alert the console received now.
// The endpoint named by data.endpoint_id is learned, not isolated.
// Payloads are otherwise kept as sent (compacted). Inject stops at the
// first payload it cannot take; those before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	for i, p := range payloads {
		f, err := jsonfield.Parse(p)
		if err != nil {
			return fmt.Errorf("sophos sim: inject payload %d: %w", i, err)
		}
		items := [][]byte{p}
		if raws, ok := jsonfield.RawArray(f["items"]); ok && !f.Has("id") {
			items = items[:0]
			for _, r := range raws {
				items = append(items, r)
			}
		}
		for _, it := range items {
			if err := s.inject(it); err != nil {
				return fmt.Errorf("sophos sim: inject payload %d: %w", i, err)
			}
		}
	}
	return nil
}

// inject queues one alert. The list is kept in created_at order and, for
// alerts with the same created_at, in the order they arrived, as Sophos's
// cursor follows insertion: the feed key is the arrival number, not the
// alert id.
func (s *Sim) inject(p []byte) error {
	now := s.clock()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(p)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		return fmt.Errorf("not a JSON object")
	}
	f, _ := jsonfield.Parse(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := f.Str("id")
	if id == "" {
		id = simUUID("alert", s.seq)
		m["id"] = id
	}
	if _, dup := s.feedKey[id]; dup {
		return fmt.Errorf("alert id %q injected twice", id)
	}
	created := f.Time("created_at")
	if created.IsZero() || created.Before(now.Add(-Window)) {
		created = now.UTC().Truncate(time.Millisecond)
		m["created_at"] = created.Format("2006-01-02T15:04:05.000Z")
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%012d", s.seq)
	if err := s.feed.Add(simkit.Item{ID: key, Created: created, Raw: raw}); err != nil {
		return err
	}
	s.feedKey[id] = key
	s.alertType[id] = f.Str("type")
	data := f.Obj("data")
	if ep := data.Str("endpoint_id"); ep != "" {
		s.alertEP[id] = ep
		s.learnLocked(ep, f.Str("location"))
	}
	return nil
}

// alertByID returns an injected alert's payload.
func (s *Sim) alertByID(id string) (json.RawMessage, bool) {
	s.mu.Lock()
	key, ok := s.feedKey[id]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	it, ok := s.feed.Get(key)
	return it.Raw, ok
}

// simUUID makes a stable UUID-shaped id.
func simUUID(kind string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s-%d", kind, n))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

func (s *Sim) learnLocked(id, name string) {
	e := s.endpoints[id]
	if e == nil {
		e = &simEndpoint{id: id}
		s.endpoints[id] = e
	}
	if name != "" {
		e.name = name
	}
}

// AddDevice implements connector.Simulator: an endpoint the console knows,
// not isolated.
func (s *Sim) AddDevice(endpointID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnLocked(endpointID, hostName)
}

// Contained implements connector.Simulator: the endpoint is isolated.
func (s *Sim) Contained(hostID string) bool { return s.ledger.Contained(hostID) }

// Calls implements connector.Simulator: accepted isolation, alert-action
// and blocked-item calls per idempotency key (read from the comment, see
// KeyTag), else action+":"+endpoint id.
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every such call in arrival order.
func (s *Sim) Ledger() []simkit.Entry { return s.ledger.Entries() }

// MoveTenant gives the credential's tenant a new id, as when a client
// holds a tenant id that no longer matches: tenant calls with the old
// X-Tenant-ID answer 401 whatever the token.
func (s *Sim) MoveTenant(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenant = id
}

// ExpireTokens makes every token issued so far invalid, as when it times
// out after an hour.
func (s *Sim) ExpireTokens() { s.tokens.ExpireAll() }

// TokensIssued counts the tokens issued so far.
func (s *Sim) TokensIssued() int { return s.tokens.Issued() }

// DenyRole withholds a role (RoleReadOnly: every read; RoleManagement:
// isolation, alert actions, blocked items): such calls answer 403.
func (s *Sim) DenyRole(role string) { s.tokens.Deny(role) }

// Requests counts the API requests the simulator received.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AlertIDs lists the injected alert ids in list order.
func (s *Sim) AlertIDs() []string {
	s.mu.Lock()
	byKey := make(map[string]string, len(s.feedKey))
	for id, key := range s.feedKey {
		byKey[key] = id
	}
	s.mu.Unlock()
	keys := s.feed.IDs()
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = byKey[k]
	}
	return ids
}

// Blocked reports whether a SHA-256 is a blocked item.
func (s *Sim) Blocked(sha string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.blocked[strings.ToLower(sha)]
	return ok
}

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	id, secret := s.Credentials()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Sophos Central API simulator (tenant %s)\n", s.tenant)
	fmt.Fprintf(&b, "  POST %s  form grant_type=client_credentials&scope=token&client_id=%s&client_secret=%s\n", pathToken, id, secret)
	fmt.Fprintf(&b, "  GET  %s  → id, idType, apiHosts.dataRegion (this URL)\n", pathWhoami)
	fmt.Fprintf(&b, "  GET  %s?limit=&from_date=<unix s, last 24 h>&cursor=   (header %s)\n", pathSIEMAlerts, tenantHeader)
	fmt.Fprintf(&b, "  GET|PATCH %s/{id}/isolation  {\"enabled\":bool,\"comment\":…}; POST %s {\"enabled\",\"comment\",\"ids\"}\n", pathEndpoints, pathBulkIsolate)
	fmt.Fprintf(&b, "  GET  %s/{id}; POST %s/{id}/actions {\"action\":\"cleanPua\",\"message\":…}\n", pathAlerts, pathAlerts)
	fmt.Fprintf(&b, "  POST %s {\"type\":\"sha256\",\"properties\":{\"sha256\":…},\"comment\":…}\n", pathBlockedItems)
	ids := make([]string, 0, len(s.endpoints))
	for id := range s.endpoints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(&b, "  %d alerts, %d endpoints\n", s.feed.Len(), len(ids))
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s  %s  isolated=%v\n", id, s.endpoints[id].name, s.ledger.Contained(id))
	}
	return b.String()
}

// allowedActions is what the Common API lets a caller do with an alert of
// this type.
func allowedActions(typ string) []string {
	t := strings.ToLower(typ)
	switch {
	case strings.Contains(t, "pua"):
		return []string{"acknowledge", "cleanPua", "authPua"}
	case strings.Contains(t, "threat"), strings.Contains(t, "malware"), strings.Contains(t, "virus"):
		return []string{"acknowledge", "cleanVirus"}
	}
	return []string{"acknowledge"}
}
