package sophos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST "+pathToken, s.issueToken)
	m.Handle("GET "+pathWhoami, s.authed(RoleReadOnly, false, s.whoami))
	m.Handle("GET "+pathSIEMAlerts, s.authed(RoleReadOnly, true, s.listAlerts))
	m.Handle("GET "+pathEndpoints+"/{id}/isolation", s.authed(RoleReadOnly, true, s.isolationStatus))
	m.Handle("PATCH "+pathEndpoints+"/{id}/isolation", s.authed(RoleManagement, true, s.isolateOne))
	m.Handle("POST "+pathBulkIsolate, s.authed(RoleManagement, true, s.isolateBulk))
	m.Handle("GET "+pathAlerts+"/{id}", s.authed(RoleReadOnly, true, s.getAlert))
	m.Handle("POST "+pathAlerts+"/{id}/actions", s.authed(RoleManagement, true, s.alertAction))
	m.Handle("POST "+pathBlockedItems, s.authed(RoleManagement, true, s.blockItem))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, "notFound", "no such endpoint: "+r.Method+" "+r.URL.Path)
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
		s.fail(w, status, "badRequest", msg)
	})
	if !ok {
		return
	}
	if status != 0 {
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			simkit.SetRetryAfter(w, s.retryAfter)
		}
		s.fail(w, status, strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", ""), "injected failure")
		return
	}
	s.mu.Lock()
	allowed, wait := s.limit.Allow()
	s.mu.Unlock()
	if !allowed {
		simkit.SetRetryAfter(w, wait)
		s.fail(w, http.StatusTooManyRequests, "tooManyRequests", "rate limit exceeded")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// fail answers Sophos's error shape.
func (s *Sim) fail(w http.ResponseWriter, status int, code, msg string) {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	simkit.WriteJSON(w, status, map[string]string{
		"error": code, "message": msg,
		"correlationId": simUUID("correlation", n), "requestId": simUUID("request", n),
		"createdAt": s.clock().UTC().Format(time.RFC3339),
	})
}

// issueToken implements POST /api/v2/oauth2/token.
func (s *Sim) issueToken(w http.ResponseWriter, r *http.Request) {
	id, secret, err := simkit.ClientCredentials(w, r)
	if err != nil {
		simkit.WriteJSON(w, http.StatusBadRequest, map[string]string{"errorCode": "oauth.invalid_request", "message": err.Error()})
		return
	}
	if sc := r.PostForm.Get("scope"); sc != "token" {
		simkit.WriteJSON(w, http.StatusBadRequest, map[string]string{"errorCode": "oauth.invalid_scope", "message": "scope must be token, not " + strconv.Quote(sc)})
		return
	}
	if !s.tokens.Check(id, secret) {
		simkit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"errorCode": "oauth.invalid_client_secret", "message": "Unauthorized"})
		return
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": s.tokens.Mint(), "errorCode": "success", "expires_in": int(tokenTTL.Seconds()),
		"message": "OK", "token_type": "bearer",
	})
}

// authed checks the bearer token, the role the call needs and, for tenant
// calls, the data region host and X-Tenant-ID.
func (s *Sim) authed(role string, tenantCall bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.tokens.Valid(simkit.Bearer(r)) {
			s.fail(w, http.StatusUnauthorized, "Unauthorized", "missing, unknown or expired bearer token")
			return
		}
		if tenantCall {
			s.mu.Lock()
			region, tenant := s.region, s.tenant
			s.mu.Unlock()
			if region != "" && selfURL(r) != region {
				s.fail(w, http.StatusNotFound, "notFound", "tenant APIs are served by the data region "+region)
				return
			}
			if r.Header.Get(tenantHeader) != tenant {
				s.fail(w, http.StatusUnauthorized, "Unauthorized", "missing or unknown "+tenantHeader)
				return
			}
		}
		if s.tokens.Denied(role) {
			s.fail(w, http.StatusForbidden, "Forbidden", "the API credential's role does not allow this")
			return
		}
		h(w, r)
	})
}

// selfURL is the URL the request reached, as the simulator reports it.
func selfURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// whoami implements GET /whoami/v1.
func (s *Sim) whoami(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	region, tenant, idType := s.region, s.tenant, s.idType
	s.mu.Unlock()
	if region == "" {
		region = selfURL(r)
	}
	hosts := map[string]string{"global": selfURL(r)}
	if idType == "tenant" {
		hosts["dataRegion"] = region
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"id": tenant, "idType": idType, "apiHosts": hosts})
}

// listAlerts implements GET /siem/v1/alerts: cursor (which takes
// precedence), else from_date (unix seconds within the last 24 hours, else
// 24 hours ago); limit 1–1000, default 200. next_cursor names the last
// alert returned, so the list resumes exactly.
func (s *Sim) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			s.fail(w, http.StatusBadRequest, "badRequest", "limit must be 1 to 1000")
			return
		}
		limit = n
	}
	now := s.clock()
	from := now.Add(-Window)
	if v := q.Get("from_date"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || time.Unix(n, 0).Before(now.Add(-Window)) || time.Unix(n, 0).After(now) {
			s.fail(w, http.StatusBadRequest, "badRequest", "from_date must be a unix time within the last 24 hours")
			return
		}
		from = time.Unix(n, 0)
	}
	query := simkit.Query{Cursor: q.Get("cursor"), Limit: limit}
	if query.Cursor == "" {
		query.Keep = func(it simkit.Item) bool { return !it.Created.Before(from) }
	}
	p, err := s.feed.Read(query)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "badRequest", "invalid cursor")
		return
	}
	items := make([]json.RawMessage, len(p.Items))
	for i, it := range p.Items {
		items[i] = it.Raw
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "has_more": p.More, "next_cursor": p.Next})
}

// endpoint returns a known endpoint, or answers 404.
func (s *Sim) endpoint(w http.ResponseWriter, id string) (simEndpoint, bool) {
	s.mu.Lock()
	e := s.endpoints[id]
	s.mu.Unlock()
	if e == nil {
		s.fail(w, http.StatusNotFound, "resourceNotFound", "endpoint "+id+" not found")
		return simEndpoint{}, false
	}
	return *e, true
}

// isolationState is the answer of the isolation status call.
func (s *Sim) isolationState(e simEndpoint) map[string]any {
	st := map[string]any{"enabled": s.ledger.Contained(e.id)}
	if !e.lastEnabledAt.IsZero() {
		st["lastEnabledAt"] = e.lastEnabledAt.UTC().Format(time.RFC3339)
		st["lastEnabledBy"] = map[string]string{"id": SimClientID, "type": "service"}
	}
	if e.comment != "" {
		st["comment"] = e.comment
	}
	return st
}

// isolationStatus implements GET /endpoint/v1/endpoints/{id}/isolation.
func (s *Sim) isolationStatus(w http.ResponseWriter, r *http.Request) {
	if e, ok := s.endpoint(w, r.PathValue("id")); ok {
		simkit.WriteJSON(w, http.StatusOK, s.isolationState(e))
	}
}

type isolationBody struct {
	Enabled *bool    `json:"enabled"`
	Comment string   `json:"comment"`
	IDs     []string `json:"ids"`
}

func (s *Sim) readIsolation(w http.ResponseWriter, r *http.Request, bulk bool) (isolationBody, bool) {
	var b isolationBody
	if err := simkit.ReadJSON(w, r, &b); err != nil {
		s.fail(w, http.StatusBadRequest, "badRequest", err.Error())
		return b, false
	}
	if b.Enabled == nil || (bulk && len(b.IDs) == 0) {
		s.fail(w, http.StatusBadRequest, "badRequest", "enabled (and for bulk, ids) are required")
		return b, false
	}
	return b, true
}

// setIsolation records one accepted isolation change.
func (s *Sim) setIsolation(id string, on bool, comment string, status int) {
	now := s.clock()
	s.mu.Lock()
	if e := s.endpoints[id]; e != nil {
		e.comment = comment
		if on {
			e.lastEnabledAt = now
		}
	}
	s.mu.Unlock()
	s.ledger.SetContained(id, on)
	s.ledger.Record(simkit.Entry{At: now, HostID: id, Action: map[bool]string{true: "isolate", false: "release"}[on],
		Key: KeyOf(comment), Status: status})
}

// isolateOne implements PATCH /endpoint/v1/endpoints/{id}/isolation.
func (s *Sim) isolateOne(w http.ResponseWriter, r *http.Request) {
	e, ok := s.endpoint(w, r.PathValue("id"))
	if !ok {
		return
	}
	b, ok := s.readIsolation(w, r, false)
	if !ok {
		return
	}
	s.setIsolation(e.id, *b.Enabled, b.Comment, http.StatusOK)
	e, _ = s.endpoint(w, e.id)
	simkit.WriteJSON(w, http.StatusOK, s.isolationState(e))
}

// isolateBulk implements POST /endpoint/v1/endpoints/isolation. Unknown
// ids are left out of the answer (partial success).
func (s *Sim) isolateBulk(w http.ResponseWriter, r *http.Request) {
	b, ok := s.readIsolation(w, r, true)
	if !ok {
		return
	}
	items := []map[string]any{}
	for _, id := range b.IDs {
		s.mu.Lock()
		known := s.endpoints[id] != nil
		s.mu.Unlock()
		if !known {
			continue
		}
		s.setIsolation(id, *b.Enabled, b.Comment, http.StatusCreated)
		items = append(items, map[string]any{"id": id, "isolation": map[string]any{"enabled": *b.Enabled, "comment": b.Comment}})
	}
	simkit.WriteJSON(w, http.StatusCreated, map[string]any{"items": items})
}

// getAlert implements GET /common/v1/alerts/{id}.
func (s *Sim) getAlert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	raw, ok := s.alertByID(id)
	if !ok {
		s.fail(w, http.StatusNotFound, "resourceNotFound", "alert "+id+" not found")
		return
	}
	var a struct {
		Type, Severity, Description, When string
	}
	_ = json.Unmarshal(raw, &a)
	s.mu.Lock()
	ep := s.alertEP[id]
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"id": id, "type": a.Type, "severity": a.Severity, "description": a.Description, "raisedAt": a.When,
		"product": "endpoint", "allowedActions": allowedActions(a.Type),
		"managedAgent": map[string]string{"id": ep, "type": "computer"},
	})
}

// alertAction implements POST /common/v1/alerts/{id}/actions.
func (s *Sim) alertAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	typ, known := s.alertType[id]
	ep := s.alertEP[id]
	s.mu.Unlock()
	if !known {
		s.fail(w, http.StatusNotFound, "resourceNotFound", "alert "+id+" not found")
		return
	}
	var b struct {
		Action  string `json:"action"`
		Message string `json:"message"`
	}
	if err := simkit.ReadJSON(w, r, &b); err != nil {
		s.fail(w, http.StatusBadRequest, "badRequest", err.Error())
		return
	}
	if !slices.Contains(allowedActions(typ), b.Action) {
		s.fail(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("action %q is not allowed for this alert", b.Action))
		return
	}
	now := s.clock()
	s.ledger.Record(simkit.Entry{At: now, HostID: ep, Action: b.Action, Key: KeyOf(b.Message), Status: http.StatusCreated})
	simkit.WriteJSON(w, http.StatusCreated, map[string]any{
		"id": simUUID("action", len(s.ledger.Entries())), "alertId": id, "action": b.Action,
		"status": "requested", "requestedAt": now.UTC().Format(time.RFC3339), "message": b.Message,
	})
}

// blockItem implements POST /endpoint/v1/settings/blocked-items (type
// sha256 only); a hash already blocked answers 409.
func (s *Sim) blockItem(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Type       string            `json:"type"`
		Properties map[string]string `json:"properties"`
		Comment    string            `json:"comment"`
	}
	if err := simkit.ReadJSON(w, r, &b); err != nil {
		s.fail(w, http.StatusBadRequest, "badRequest", err.Error())
		return
	}
	h := strings.ToLower(b.Properties["sha256"])
	if b.Type != "sha256" || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		s.fail(w, http.StatusBadRequest, "badRequest", "the simulator takes type sha256 with properties.sha256 (64 hex digits)")
		return
	}
	now := s.clock()
	s.mu.Lock()
	_, dup := s.blocked[h]
	item := blockedItem{ID: simUUID("blocked", len(s.blocked)+1), Type: "sha256", Props: map[string]string{"sha256": h},
		Comment: b.Comment, CreatedAt: now.UTC().Format(time.RFC3339)}
	if !dup {
		s.blocked[h] = item
	}
	s.mu.Unlock()
	if dup {
		s.ledger.Record(simkit.Entry{At: now, HostID: h, Action: "block", Key: KeyOf(b.Comment), Status: http.StatusConflict})
		s.fail(w, http.StatusConflict, "conflict", "a blocked item with this sha256 already exists")
		return
	}
	s.ledger.Record(simkit.Entry{At: now, HostID: h, Action: "block", Key: KeyOf(b.Comment), Status: http.StatusCreated})
	simkit.WriteJSON(w, http.StatusCreated, item)
}
