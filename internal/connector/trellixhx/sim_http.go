package trellixhx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+pathToken, s.login)
	m.Handle("DELETE "+pathToken, s.authed("", s.logout))
	m.Handle("GET "+pathAlerts, s.authed(ScopeAlerts, s.listAlerts))
	m.Handle("GET "+pathAlerts+"/{id}", s.authed(ScopeAlerts, s.getAlert))
	c := pathHosts + "{agent}/containment"
	m.Handle("GET "+c, s.authed(ScopeHosts, s.containment))
	m.Handle("POST "+c, s.authed(ScopeContainRequest, s.requestContainment))
	m.Handle("PATCH "+c, s.authed(ScopeContainApprove, s.approveContainment))
	m.Handle("DELETE "+c, s.authed(ScopeContainRelease, s.releaseContainment))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// ServeHTTP answers one API call: optional latency, then an injected
// failure if one is pending, then the rate limit, then the endpoint.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	status, ok := s.Before(w, r, func(w http.ResponseWriter, status int, msg string) {
		fail(w, status, "Bad Request", msg)
	})
	if !ok {
		return
	}
	if status != 0 {
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			simkit.SetRetryAfter(w, s.retryAfter)
		}
		fail(w, status, http.StatusText(status), "injected failure")
		return
	}
	s.mu.Lock()
	allowed, wait := s.limit.Allow()
	s.mu.Unlock()
	if !allowed {
		simkit.SetRetryAfter(w, wait)
		fail(w, http.StatusTooManyRequests, "Too Many Requests", "rate limit exceeded")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// fail writes HX's error envelope.
func fail(w http.ResponseWriter, status int, message, detail string) {
	simkit.WriteJSON(w, status, map[string]any{
		"details": []map[string]any{{"type": "error", "code": status, "message": detail}},
		"message": message,
	})
}

// ok writes HX's success envelope around data.
func ok(w http.ResponseWriter, status int, data any) {
	simkit.WriteJSON(w, status, map[string]any{"data": data, "message": "OK", "details": []any{}})
}

// login implements GET /hx/api/v3/token: HTTP Basic auth; the session token
// comes back in X-FeApi-Token with 204 No Content.
func (s *Sim) login(w http.ResponseWriter, r *http.Request) {
	user, pass, has := r.BasicAuth()
	if !has || !s.tokens.Check(user, pass) {
		fail(w, http.StatusUnauthorized, "Unauthorized", "invalid user name or password")
		return
	}
	tok := s.tokens.Mint()
	s.mu.Lock()
	s.lastUse[tok] = s.now()
	s.mu.Unlock()
	w.Header().Set(TokenHeader, tok)
	w.WriteHeader(http.StatusNoContent)
}

// logout implements DELETE /hx/api/v3/token.
func (s *Sim) logout(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.lastUse, strings.TrimSpace(r.Header.Get(TokenHeader)))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// authed checks the session token (minted, not logged out, used within the
// idle time) and the scope before calling h; each call renews the session.
func (s *Sim) authed(scope string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimSpace(r.Header.Get(TokenHeader))
		valid := tok != "" && s.tokens.Valid(tok)
		s.mu.Lock()
		last, live := s.lastUse[tok]
		now := s.now()
		valid = valid && live && now.Sub(last) < s.idle
		if valid {
			s.lastUse[tok] = now
		} else {
			delete(s.lastUse, tok)
		}
		s.mu.Unlock()
		switch {
		case !valid:
			fail(w, http.StatusUnauthorized, "Unauthorized", "invalid or expired session token")
		case scope != "" && s.tokens.Denied(scope):
			fail(w, http.StatusForbidden, "Forbidden", "the user's role does not allow "+scope)
		default:
			h(w, r)
		}
	})
}

// alertQuery is a list query.
type alertQuery struct {
	offset, limit int
	from          time.Time
	strict        bool // gt rather than gte
}

func parseAlertQuery(r *http.Request) (alertQuery, error) {
	q := r.URL.Query()
	aq := alertQuery{limit: 50}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return aq, fmt.Errorf("limit must be 1 to %d", MaxPageSize)
		}
		aq.limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return aq, fmt.Errorf("offset must be a number ≥ 0")
		}
		aq.offset = n
	}
	if v := q.Get("sort"); v != "" && v != sortReported {
		return aq, fmt.Errorf("the simulator sorts by %q only", sortReported)
	}
	if v := q.Get("filterQuery"); v != "" {
		var fq filter
		if err := json.Unmarshal([]byte(v), &fq); err != nil || fq.Field != "reported_at" || len(fq.Arg) != 1 ||
			(fq.Operator != "gte" && fq.Operator != "gt") {
			return aq, fmt.Errorf(`filterQuery must be {"operator":"gte"|"gt","field":"reported_at","arg":["<time>"]}`)
		}
		if aq.from = jsonfield.ParseTime(fq.Arg[0]); aq.from.IsZero() {
			return aq, fmt.Errorf("filterQuery arg must be a time")
		}
		aq.strict = fq.Operator == "gt"
	}
	return aq, nil
}

// listAlerts implements GET /hx/api/v3/alerts:
// {"data":{"entries":[…],"total":N,"offset":O,"limit":L},"message":"OK"}.
func (s *Sim) listAlerts(w http.ResponseWriter, r *http.Request) {
	aq, err := parseAlertQuery(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	keep := func(it simkit.Item) bool {
		if aq.from.IsZero() {
			return true
		}
		if aq.strict {
			return it.Created.After(aq.from)
		}
		return !it.Created.Before(aq.from)
	}
	items, total := s.feed.ReadOffset(keep, aq.offset, aq.limit)
	entries := make([]json.RawMessage, len(items))
	for i, it := range items {
		entries[i] = it.Raw
	}
	ok(w, http.StatusOK, map[string]any{"entries": entries, "total": total, "offset": aq.offset, "limit": aq.limit})
}

// getAlert implements GET /hx/api/v3/alerts/{id}.
func (s *Sim) getAlert(w http.ResponseWriter, r *http.Request) {
	it, found := s.feed.Get(r.PathValue("id"))
	if !found {
		fail(w, http.StatusNotFound, "Not Found", "no alert "+r.PathValue("id"))
		return
	}
	ok(w, http.StatusOK, it.Raw)
}

// host returns the host of the path, answering 404 for an unknown one.
func (s *Sim) host(w http.ResponseWriter, r *http.Request) *simHost {
	h := s.hosts[r.PathValue("agent")]
	if h == nil {
		fail(w, http.StatusNotFound, "Not Found", "no host with agent id "+r.PathValue("agent"))
	}
	return h
}

func (s *Sim) stateAnswer(h *simHost) map[string]any {
	return map[string]any{"_id": h.id, "state": h.state, "queued": h.state == StateContainRequested,
		"state_update_time": hxTime(h.updated)}
}

// containment implements GET …/containment.
func (s *Sim) containment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.host(w, r); h != nil {
		ok(w, http.StatusOK, s.stateAnswer(h))
	}
}

// record logs a containment call under the request's idempotency key.
func (s *Sim) record(r *http.Request, h *simHost, action string, status int) {
	key := r.Header.Get(IdempotencyHeader)
	if key != "" && action == "approve" {
		key = "approve:" + key
	}
	s.ledger.Record(simkit.Entry{At: s.now(), HostID: h.id, Action: action, Key: key, Status: status})
}

// requestContainment implements POST …/containment: 202, and the host
// waits for approval (contain_requested) unless requests are approved
// automatically.
func (s *Sim) requestContainment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(w, r)
	if h == nil {
		return
	}
	if h.state != StateNormal && h.state != StateUncontaining {
		s.record(r, h, "contain", http.StatusConflict)
		fail(w, http.StatusConflict, "Conflict", "host is already "+h.state)
		return
	}
	h.state, h.updated = StateContainRequested, s.now()
	if s.autoApprove {
		h.state = StateContained
	}
	s.record(r, h, "contain", http.StatusAccepted)
	ok(w, http.StatusAccepted, s.stateAnswer(h))
}

// approveContainment implements PATCH …/containment {"state":"contain"}.
// The simulated agent takes the approved containment at once.
func (s *Sim) approveContainment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State string `json:"state"`
	}
	if err := simkit.ReadJSON(w, r, &body); err != nil || body.State != "contain" {
		fail(w, http.StatusBadRequest, "Bad Request", `body must be {"state":"contain"}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(w, r)
	if h == nil {
		return
	}
	switch h.state {
	case StateContainRequested:
		h.state, h.updated = StateContained, s.now()
	case StateContaining, StateContained:
	default:
		s.record(r, h, "approve", http.StatusConflict)
		fail(w, http.StatusConflict, "Conflict", "no containment request to approve (host is "+h.state+")")
		return
	}
	s.record(r, h, "approve", http.StatusOK)
	ok(w, http.StatusOK, s.stateAnswer(h))
}

// releaseContainment implements DELETE …/containment: it lifts containment
// or cancels a pending request.
func (s *Sim) releaseContainment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(w, r)
	if h == nil {
		return
	}
	if h.state == StateNormal {
		s.record(r, h, "uncontain", http.StatusConflict)
		fail(w, http.StatusConflict, "Conflict", "host is not contained")
		return
	}
	h.state, h.updated = StateNormal, s.now()
	s.record(r, h, "uncontain", http.StatusOK)
	ok(w, http.StatusOK, s.stateAnswer(h))
}
