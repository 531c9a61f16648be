package cybereason

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// Default simulator credentials (the API user's name and password).
const (
	SimUser     = "bannin-api@sim.cybereason.local"
	SimPassword = "bannin-sim-password"
)

// Sim simulates the parts of the Cybereason API bannin uses: the form login
// and its JSESSIONID session, the MalOp inbox, the sensors list, the
// isolate and un-isolate commands, MalOp details (root-cause elements) and
// remediation. It is an http.Handler; serve it with httptest.NewServer or
// `bannin sim cybereason --listen`. All methods are safe for concurrent use.
type Sim struct {
	simkit.Faults // injected failures and latency on REST calls (FailNext)
	// LoginFaults injects failures into POST /login.html only.
	LoginFaults simkit.Faults

	sessions     *simkit.Tokens
	ledger       simkit.Ledger
	remediations simkit.Ledger
	feed         simkit.Feed
	now          func() time.Time
	retryAfter   time.Duration
	expired      int // how a REST call without a live session is answered

	mu       sync.Mutex
	current  map[string]string    // MalOp guid → feed id of its latest version
	details  map[string][]element // MalOp guid → its elements (crimes/unified)
	sensors  map[string]*simSensor
	limit    simkit.RateLimit
	seq      int
	requests int

	mux http.Handler
}

// simSensor is one sensor of the simulated estate, keyed by machine guid.
type simSensor struct {
	pylumID, guid, name, os, ip string
	isolated, online            bool
}

// SimOption configures a Sim.
type SimOption func(*Sim)

// WithCredentials sets the user name and password the login accepts.
func WithCredentials(user, password string) SimOption {
	return func(s *Sim) { s.sessions = simkit.NewTokens(user, password, "SIMSESSION", s.sessions.TTL(), s.now) }
}

// WithClock sets the simulator's clock (session expiry, assigned MalOp
// times, ledger times), so replays run on virtual time.
func WithClock(now func() time.Time) SimOption {
	return func(s *Sim) {
		s.now = now
		id, pw := s.sessions.Credentials()
		s.sessions = simkit.NewTokens(id, pw, "SIMSESSION", s.sessions.TTL(), now)
	}
}

// WithSessionTTL sets how long a login session lives (default 30 minutes).
func WithSessionTTL(d time.Duration) SimOption {
	return func(s *Sim) {
		id, pw := s.sessions.Credentials()
		s.sessions = simkit.NewTokens(id, pw, "SIMSESSION", d, s.now)
	}
}

// WithExpiredAnswer sets how a REST call without a live session is
// answered: 302 (a redirect to /login.html, the default), 401, or 200 (the
// login page as HTML, as some consoles do).
func WithExpiredAnswer(status int) SimOption { return func(s *Sim) { s.expired = status } }

// WithLatency delays every answer by d (or until the request is cancelled).
func WithLatency(d time.Duration) SimOption { return func(s *Sim) { s.SetLatency(d) } }

// WithRetryAfter sets the Retry-After sent with 429s (default 2 s).
func WithRetryAfter(d time.Duration) SimOption { return func(s *Sim) { s.retryAfter = d } }

// WithRateLimit answers 429 once n REST calls were made within window.
func WithRateLimit(n int, window time.Duration) SimOption {
	return func(s *Sim) { s.limit = simkit.RateLimit{Max: n, Window: window} }
}

// NewSim returns an empty simulator.
func NewSim(opts ...SimOption) *Sim {
	s := &Sim{
		now: time.Now, retryAfter: 2 * time.Second, expired: 302,
		current: map[string]string{}, details: map[string][]element{}, sensors: map[string]*simSensor{},
	}
	s.sessions = simkit.NewTokens(SimUser, SimPassword, "SIMSESSION", 30*time.Minute, s.now)
	for _, o := range opts {
		o(s)
	}
	s.limit.Now = s.now
	s.routes()
	return s
}

var _ connector.Simulator = (*Sim)(nil)

// Credentials implements connector.Simulator: the user name and password.
func (s *Sim) Credentials() (id, secret string) { return s.sessions.Credentials() }

// Sessions is the login session issuer: ExpireAll ends every session,
// Deny withholds a role (RoleMalops, RoleSensors, RoleIsolation), Issued
// counts logins.
func (s *Sim) Sessions() *simkit.Tokens { return s.sessions }

// Inject queues MalOps (MalopInboxModel objects, or an inbox answer
// {"malops":[…]}) for the inbox. A missing guid, lastUpdateTime or
// creationTime is assigned (the clock's time). A MalOp whose guid is known
// replaces it, as an update does. Every machine named gets a sensor,
// online unless connected is false, isolated as the MalOp says. Inject
// stops at the first payload it cannot take; those before it stay queued.
func (s *Sim) Inject(payloads ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range payloads {
		if err := s.injectLocked(p); err != nil {
			return fmt.Errorf("cybereason sim: inject payload %d: %w", i, err)
		}
	}
	return nil
}

func (s *Sim) injectLocked(p []byte) error {
	f, err := jsonfield.Parse(p)
	if err != nil {
		return err
	}
	if !f.Has("guid") && f.Has("malops") {
		raws, ok := jsonfield.RawArray(f["malops"])
		if !ok {
			return fmt.Errorf("malops is not an array")
		}
		for _, raw := range raws {
			if err := s.injectLocked(raw); err != nil {
				return err
			}
		}
		return nil
	}
	m, err := decodeMap(p)
	if err != nil {
		return err
	}
	s.seq++
	now := s.now().UnixMilli()
	if f.Str("guid") == "" {
		m["guid"] = fmt.Sprintf("11.%019d", 4_000_000_000_000_000_000+int64(s.seq))
	}
	if _, ms := updateKey(f); ms == 0 {
		m["lastUpdateTime"] = now
	}
	if f.Time("creationTime").IsZero() {
		m["creationTime"] = m["lastUpdateTime"]
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if f, err = jsonfield.Parse(raw); err != nil {
		return err
	}
	guid, ms := updateKey(f)
	id := guid + "@" + strconv.Itoa(s.seq)
	if err := s.feed.Add(simkit.Item{ID: id, Created: millis(ms), Raw: raw}); err != nil {
		return err
	}
	s.current[guid] = id
	s.details[guid] = elementsOf(f)
	for _, mc := range machinesOf(f) {
		s.learnLocked(mc.guid, mc.name, mc.os, mc.isolated, machineOnline(f, mc.guid))
	}
	return nil
}

// machineOnline reads machines[guid].connected; a machine that does not
// say counts as online.
func machineOnline(f jsonfield.Object, guid string) bool {
	raws, _ := jsonfield.RawArray(f["machines"])
	for _, raw := range raws {
		if o, err := jsonfield.Parse(raw); err == nil && o.Str("guid") == guid {
			return !o.Has("connected") || o.Flag("connected")
		}
	}
	return true
}

// decodeMap reads an object keeping numbers exact.
func decodeMap(p []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// learnLocked records a sensor; a known one keeps its state.
func (s *Sim) learnLocked(guid, name, os string, isolated, online bool) *simSensor {
	if guid == "" {
		return nil
	}
	se := s.sensors[guid]
	if se == nil {
		se = &simSensor{guid: guid, pylumID: PylumID(guid, name), isolated: isolated, online: online,
			ip: fmt.Sprintf("10.20.%d.%d", len(s.sensors)/250, len(s.sensors)%250+2)}
		s.sensors[guid] = se
		s.ledger.SetContained(guid, isolated)
	}
	if name != "" {
		se.name = name
	}
	if os != "" {
		se.os = os
	}
	return se
}

// PylumID is the sensor id the simulator gives the machine guid: shaped
// like Cybereason's (PYLUMCLIENT_<group>_<NAME>_<MAC>), stable per guid.
func PylumID(guid, name string) string {
	h := sha256.Sum256([]byte(guid))
	n := strings.ToUpper(strings.NewReplacer(" ", "-", "\\", "-", "_", "-").Replace(name))
	if n == "" {
		n = "MACHINE"
	}
	return "PYLUMCLIENT_BANNIN_" + n + "_" + strings.ToUpper(hex.EncodeToString(h[:6]))
}

// AddDevice implements connector.Simulator: a sensor the console knows
// without any MalOp, online and not isolated. hostID is the machine guid.
func (s *Sim) AddDevice(hostID, hostName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnLocked(hostID, hostName, "", false, true)
}

// SetOnline sets whether a known machine's sensor is connected; isolating
// one that is not fails for it.
func (s *Sim) SetOnline(guid string, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se := s.sensors[guid]; se != nil {
		se.online = online
	}
}

// Contained implements connector.Simulator: the machine (by guid, or by
// name) is isolated.
func (s *Sim) Contained(hostID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.sensorLocked(hostID)
	return se != nil && se.isolated
}

func (s *Sim) sensorLocked(hostID string) *simSensor {
	if se := s.sensors[hostID]; se != nil {
		return se
	}
	for _, se := range s.sensors {
		if strings.EqualFold(se.name, hostID) || se.pylumID == hostID {
			return se
		}
	}
	return nil
}

// Calls implements connector.Simulator: isolate and un-isolate calls
// accepted per idempotency key (X-Bannin-Idempotency-Key, else
// action+":"+machine guid).
func (s *Sim) Calls() map[string]int { return s.ledger.Calls() }

// Ledger returns every isolate and un-isolate call in arrival order.
func (s *Sim) Ledger() []simkit.Entry { return s.ledger.Entries() }

// Requests returns how many requests the simulator received.
func (s *Sim) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// MalopIDs returns the guids of the MalOps held, in inbox order
// (lastUpdateTime, then guid).
func (s *Sim) MalopIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.feed.IDs() {
		guid, _, _ := strings.Cut(id, "@")
		if s.current[guid] == id {
			out = append(out, guid)
		}
	}
	return out
}

// Describe is a human-readable summary of the credentials and endpoints.
func (s *Sim) Describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	user, pw := s.sessions.Credentials()
	fmt.Fprintf(&b, "Cybereason API simulator\n")
	fmt.Fprintf(&b, "  POST %s  username=%s password=%s   → cookie %s\n", pathLogin, user, pw, SessionCookie)
	fmt.Fprintf(&b, "  POST %s  {\"startTime\":<ms>,\"endTime\":<ms>}   → {\"malops\":[…]}\n", pathInbox)
	fmt.Fprintf(&b, "  POST %s  {\"filters\":[{\"fieldName\":\"machineName\"|\"guid\"|\"pylumId\",\"operator\":\"Equals\",\"values\":[…]}]}\n", pathSensors)
	fmt.Fprintf(&b, "  POST %s | %s  {\"pylumIds\":[…]}\n", pathIsolate, pathUnisolate)
	fmt.Fprintf(&b, "  POST %s  {\"queryPath\":[{\"requestedType\":\"MalopProcess\",\"guidList\":[…]}]}\n", pathCrimes)
	fmt.Fprintf(&b, "  POST %s  {\"malopId\":…,\"actionsByMachine\":{\"<pylumId>\":[{\"targetId\":…,\"actionType\":\"KILL_PROCESS\"|\"QUARANTINE_FILE\"}]}}\n", pathRemediate)
	fmt.Fprintf(&b, "  POST %s  {\"queryPath\":[{\"requestedType\":\"MalopProcess\",\"guidList\":[…]}]}\n", pathCrimes)
	fmt.Fprintf(&b, "  POST %s  {\"malopId\":…,\"actionsByMachine\":{\"<pylumId>\":[{\"targetId\":…,\"actionType\":\"KILL_PROCESS\"|\"QUARANTINE_FILE\"}]}}\n", pathRemediate)
	guids := make([]string, 0, len(s.sensors))
	for g := range s.sensors {
		guids = append(guids, g)
	}
	sort.Strings(guids)
	fmt.Fprintf(&b, "  %d MalOps, %d sensors\n", len(s.current), len(guids))
	for _, g := range guids {
		se := s.sensors[g]
		fmt.Fprintf(&b, "    %s  %s  %s  isolated=%v online=%v\n", g, se.name, se.pylumID, se.isolated, se.online)
	}
	return b.String()
}

// Machine is one machine of a MalOp built by NewMalop.
type Machine struct {
	GUID, Name, OS string
}

// NewMalop returns a MalopInboxModel for Inject: a process root cause
// named rootCause, of severity (High, Medium, Low), on machines. Its guid
// and times are left for Inject to assign.
func NewMalop(rootCause, severity string, machines ...Machine) []byte {
	ms := make([]map[string]any, len(machines))
	users := make([]map[string]any, len(machines))
	for i, m := range machines {
		ms[i] = map[string]any{"@class": ".MachineInboxModel", "guid": m.GUID, "displayName": m.Name,
			"osType": m.OS, "connected": true, "isolated": false}
		users[i] = map[string]any{"guid": "U" + m.GUID, "displayName": m.Name + `\analyst`,
			"admin": false, "localSystem": false, "domainUser": false}
	}
	sum := sha256.Sum256([]byte(rootCause))
	b, _ := json.Marshal(map[string]any{
		"@class": ".MalopInboxModel", "displayName": rootCause, "primaryRootCauseName": rootCause,
		"rootCauseElementType": "Process", "rootCauseElementHashes": hex.EncodeToString(sum[:20]),
		"detectionEngines": []string{"EDR"}, "detectionTypes": []string{"calc_Custom_Rule"},
		"malopDetectionType": "CUSTOM_RULE", "severity": severity, "malopSeverity": severity,
		"priority": strings.ToUpper(severity), "status": "Active", "malopStatus": "Active",
		"machines": ms, "users": users, "edr": true, "escalated": false, "closed": false,
	})
	return b
}
