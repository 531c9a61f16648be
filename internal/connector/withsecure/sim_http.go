package withsecure

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

func (s *Sim) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+pathToken, s.handleToken)
	s.mux.HandleFunc("POST "+pathEvents, s.authed(ScopeRead, s.handleEvents))
	s.mux.HandleFunc("GET "+pathDevices, s.authed(ScopeRead, s.handleDevices))
	s.mux.HandleFunc("POST "+pathOperations, s.authed(ScopeWrite, s.handleOperations))
	s.mux.HandleFunc("GET "+pathOperations, s.authed(ScopeRead, s.handleListOperations))
}

// ServeHTTP implements http.Handler. Every answer carries X-Transaction,
// as the real API's do.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.tx++
	w.Header().Set("X-Transaction", fmt.Sprintf("0000-sim%012x", s.tx))
	s.mu.Unlock()
	if strings.TrimSpace(r.UserAgent()) == "" {
		s.fail(w, http.StatusBadRequest, "User-Agent header is required")
		return
	}
	status, ok := s.Before(w, r, s.fail)
	if !ok {
		return
	}
	if status != 0 {
		s.fail(w, status, "injected failure")
		return
	}
	s.mu.Lock()
	allowed, wait := s.limit.Allow()
	s.mu.Unlock()
	if !allowed {
		simkit.SetRetryAfter(w, wait)
		s.fail(w, http.StatusTooManyRequests, "rate limit exceeded")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// fail answers an error in the Elements API's shape. 429 and 503 carry
// Retry-After.
func (s *Sim) fail(w http.ResponseWriter, status int, msg string) {
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && w.Header().Get("Retry-After") == "" {
		s.mu.Lock()
		d := s.retryAfter
		s.mu.Unlock()
		simkit.SetRetryAfter(w, d)
	}
	simkit.WriteJSON(w, status, map[string]any{"code": status, "message": msg, "transactionId": w.Header().Get("X-Transaction")})
}

// handleToken is the OAuth2 client-credentials grant. The scopes asked
// for must be the API's; the token carries them.
func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	id, secret, err := simkit.ClientCredentials(w, r)
	if err != nil {
		simkit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	if !s.tokens.Check(id, secret) {
		simkit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{ScopeRead}
	}
	for _, sc := range scopes {
		if sc != ScopeRead && sc != ScopeWrite {
			simkit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope", "error_description": "unknown scope " + sc})
			return
		}
	}
	tok := s.tokens.Mint()
	s.mu.Lock()
	s.granted[tok] = scopes
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(s.tokens.TTL() / time.Second)})
}

// authed checks the bearer token and that it carries scope (and that the
// scope is not withheld).
func (s *Sim) authed(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := simkit.Bearer(r)
		if tok == "" || !s.tokens.Valid(tok) {
			s.fail(w, http.StatusUnauthorized, "invalid or expired access token")
			return
		}
		s.mu.Lock()
		has := slices.Contains(s.granted[tok], scope)
		s.mu.Unlock()
		if !has || s.tokens.Denied(scope) {
			s.fail(w, http.StatusForbidden, "insufficient scope: "+scope+" required")
			return
		}
		h(w, r)
	}
}

// handleEvents is the security-events list. The body is form-encoded.
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		s.fail(w, http.StatusUnsupportedMediaType, "body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, simkit.MaxBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "invalid form body")
		return
	}
	q, msg := parseEventsQuery(r.PostForm)
	if msg != "" {
		s.fail(w, http.StatusBadRequest, msg)
		return
	}
	page, err := s.feed.Read(simkit.Query{Cursor: q.anchor, Limit: q.limit, Keep: q.keep})
	if err != nil {
		s.fail(w, http.StatusBadRequest, "invalid anchor")
		return
	}
	items := make([]json.RawMessage, len(page.Items))
	for i, it := range page.Items {
		items[i] = it.Raw
	}
	var next any
	if page.More {
		next = page.Next
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "nextAnchor": next})
}

// eventsQuery is a parsed security-events request.
type eventsQuery struct {
	limit  int
	anchor string
	keep   func(simkit.Item) bool
}

func parseEventsQuery(form map[string][]string) (eventsQuery, string) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	q := eventsQuery{limit: 200, anchor: get("anchor")}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return q, "limit must be 1–200"
		}
		q.limit = n
	}
	if o := get("order"); o != "" && o != "asc" {
		return q, "the simulator supports order=asc only"
	}
	var start time.Time
	if v := get("persistenceTimestampStart"); v != "" {
		if start = jsonfield.ParseTime(v); start.IsZero() {
			return q, "persistenceTimestampStart is not an RFC 3339 time"
		}
	}
	exclusive := strings.EqualFold(get("exclusiveStart"), "true")
	groups := jsonfield.SplitList(get("engineGroup"))
	engines := jsonfield.SplitList(get("engine"))
	q.keep = func(it simkit.Item) bool {
		if !start.IsZero() && (it.Created.Before(start) || exclusive && it.Created.Equal(start)) {
			return false
		}
		if len(engines) == 0 && len(groups) == 0 {
			return true
		}
		f, err := jsonfield.Parse(it.Raw)
		if err != nil {
			return false
		}
		e := f.Str("engine")
		return slices.Contains(engines, e) || slices.Contains(groups, engineGroup(e))
	}
	return q, ""
}

// engineGroup is the group an engine belongs to in the simulator: EDR
// (Broad Context Detections), collaboration protection, else endpoint
// protection.
func engineGroup(engine string) string {
	switch strings.ToLower(engine) {
	case "edr", "broadcontextdetection":
		return "edr"
	case "ecp", "emailscan", "collaborationprotection":
		return "ecp"
	}
	return "epp"
}

// handleDevices lists devices, or the one deviceId names.
func (s *Sim) handleDevices(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query().Get("deviceId")
	s.mu.Lock()
	items := []map[string]any{}
	for id, d := range s.devices {
		if want != "" && id != want {
			continue
		}
		items = append(items, map[string]any{
			"id": d.id, "name": d.name, "type": "computer", "state": "active", "online": true,
			"isolationStatus": d.isolation,
		})
	}
	s.mu.Unlock()
	slices.SortFunc(items, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// handleOperations runs a device operation on each target and answers 207
// with one entry per target.
func (s *Sim) handleOperations(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Operation  string            `json:"operation"`
		Targets    []string          `json:"targets"`
		Parameters map[string]string `json:"parameters"`
	}
	if err := simkit.ReadJSON(w, r, &body); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case body.Operation != OpIsolate && body.Operation != OpRelease:
		s.fail(w, http.StatusBadRequest, "unsupported operation "+strconv.Quote(body.Operation))
		return
	case len(body.Targets) == 0 || len(body.Targets) > 5:
		s.fail(w, http.StatusBadRequest, "targets must name 1–5 devices")
		return
	}
	key := keyFrom(body.Parameters["message"])
	entries := make([]map[string]any, 0, len(body.Targets))
	for _, target := range body.Targets {
		entries = append(entries, s.operate(body.Operation, target, key, body.Parameters["message"]))
	}
	simkit.WriteJSON(w, http.StatusMultiStatus, map[string]any{"multistatus": entries})
}

// operate runs one operation on one device and returns its multistatus
// entry.
func (s *Sim) operate(op, deviceID, key, msg string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	status, details := http.StatusAccepted, ""
	d := s.devices[deviceID]
	if f, ok := s.opFail[deviceID]; ok {
		status, details = f.status, f.details
	} else if d == nil {
		status, details = http.StatusNotFound, "Device not found"
	}
	if key == "" {
		key = op + ":" + deviceID
	}
	s.ledger.Record(simkit.Entry{At: now, HostID: deviceID, Action: op, Key: key, Status: status})
	entry := map[string]any{"target": deviceID, "status": status}
	if status != http.StatusAccepted {
		entry["details"] = details
		return entry
	}
	s.seq++
	opID := fmt.Sprintf("a1b2c3d4-0000-4000-8000-%012d", s.seq)
	s.ops = append(s.ops, simOperation{ID: opID, DeviceID: deviceID, Name: op, Message: msg, Started: now})
	if op == OpIsolate {
		d.isolation = IsolationIsolated
	} else {
		d.isolation = IsolationNotIsolated
	}
	s.ledger.SetContained(deviceID, op == OpIsolate)
	entry["operationId"] = opID
	return entry
}

// handleListOperations lists the operations issued for deviceId. The
// simulator applies operations at once, so they are all finished.
func (s *Sim) handleListOperations(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query().Get("deviceId")
	s.mu.Lock()
	items := []map[string]any{}
	for _, op := range s.ops {
		if op.DeviceID == want {
			items = append(items, map[string]any{"id": op.ID, "operationName": op.Name, "status": "finished",
				"startedTimestamp": op.Started.UTC().Format(timeLayout)})
		}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}
