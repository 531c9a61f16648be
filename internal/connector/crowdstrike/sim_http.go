package crowdstrike

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /oauth2/token", s.token)
	m.Handle("GET /alerts/queries/alerts/v2", s.authed(ScopeAlertsRead, s.queryAlerts))
	m.Handle("POST /alerts/entities/alerts/v2", s.authed(ScopeAlertsRead, s.alertEntities))
	m.Handle("GET /devices/entities/devices/v2", s.authed(ScopeHostsRead, s.deviceDetails))
	m.Handle("POST /devices/entities/devices-actions/v2", s.authed(ScopeHostsWrite, s.deviceAction))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// ServeHTTP answers one API call: optional latency, then an injected
// failure if one is pending, then the endpoint.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, ok := s.Before(w, r, func(w http.ResponseWriter, status int, msg string) { s.fail(w, status, msg) })
	if !ok {
		return
	}
	if status != 0 {
		s.fail(w, status, "injected failure: "+http.StatusText(status))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// reply writes CrowdStrike's envelope {"meta","resources","errors"}.
func (s *Sim) reply(w http.ResponseWriter, status int, meta map[string]any, resources any, errs []apiErr) {
	s.mu.Lock()
	s.traces++
	trace := fmt.Sprintf("sim-%08d", s.traces)
	s.mu.Unlock()
	if meta == nil {
		meta = map[string]any{}
	}
	meta["query_time"] = 0.001
	meta["powered_by"] = "bannin-sim"
	meta["trace_id"] = trace
	if errs == nil {
		errs = []apiErr{}
	}
	h := w.Header()
	h.Set("X-Cs-Traceid", trace)
	h.Set("X-Ratelimit-Limit", "6000")
	if h.Get("X-Ratelimit-Remaining") == "" {
		h.Set("X-Ratelimit-Remaining", "5999")
	}
	simkit.WriteJSON(w, status, map[string]any{"meta": meta, "resources": resources, "errors": errs})
}

// apiErr is one entry of CrowdStrike's errors array.
type apiErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

func (s *Sim) fail(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusTooManyRequests {
		s.mu.Lock()
		after, now := s.retryAfter, s.now()
		s.mu.Unlock()
		simkit.SetRetryAfter(w, after)
		w.Header().Set("X-Ratelimit-Retryafter", strconv.FormatInt(now.Add(after).Unix(), 10))
		w.Header().Set("X-Ratelimit-Remaining", "0")
	}
	s.reply(w, status, nil, nil, []apiErr{{Code: status, Message: msg}})
}

// token implements POST /oauth2/token. Credentials may come as form fields
// or as HTTP Basic auth.
func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	id, secret, err := simkit.ClientCredentials(w, r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.tokens.Check(id, secret) {
		s.fail(w, http.StatusUnauthorized, "access denied, invalid client credentials")
		return
	}
	simkit.WriteJSON(w, http.StatusCreated, map[string]any{ // CrowdStrike answers 201 Created
		"access_token": s.tokens.Mint(), "token_type": "bearer", "expires_in": int(s.tokens.TTL().Seconds()),
	})
}

// authed checks the bearer token and the scope before calling h.
func (s *Sim) authed(scope string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !s.tokens.Valid(simkit.Bearer(r)):
			s.fail(w, http.StatusUnauthorized, "access denied, invalid bearer token")
		case s.tokens.Denied(scope):
			s.fail(w, http.StatusForbidden, "access denied, authorization failed")
		default:
			h(w, r)
		}
	})
}

// queryAlerts implements GET /alerts/queries/alerts/v2.
func (s *Sim) queryAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pred, err := parseFQL(q.Get("filter"))
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	field, desc, err := parseSort(q.Get("sort"))
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, offset, err := paging(q)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	page, total := s.matching(pred, field, desc, offset, limit)
	pg := map[string]any{"offset": offset, "limit": limit, "total": total}
	if end := offset + len(page); end < total {
		pg["after"] = encodeAfter(end)
	}
	s.reply(w, http.StatusOK, map[string]any{"pagination": pg}, page, nil)
}

// paging reads limit (default 100, at most 10000), offset and after; after
// is the opaque token of a previous answer and wins over offset.
func paging(q map[string][]string) (limit, offset int, err error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	limit = 100
	if v := get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 10000 {
			return 0, 0, fmt.Errorf("limit must be 1 to 10000")
		}
	}
	if v := get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, fmt.Errorf("offset must be a non-negative integer")
		}
	}
	if v := get("after"); v != "" {
		if offset, err = decodeAfter(v); err != nil {
			return 0, 0, fmt.Errorf("invalid after token")
		}
	}
	return limit, offset, nil
}

// alertEntities implements POST /alerts/entities/alerts/v2.
func (s *Sim) alertEntities(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs []string `json:"composite_ids"`
	}
	if err := simkit.ReadJSON(w, r, &body); err != nil || len(body.IDs) == 0 {
		s.fail(w, http.StatusBadRequest, "body must be {\"composite_ids\":[…]} with at least one id")
		return
	}
	if len(body.IDs) > 1000 {
		s.fail(w, http.StatusBadRequest, "at most 1000 composite_ids per request")
		return
	}
	resources := []json.RawMessage{}
	var errs []apiErr
	s.mu.Lock() // not s.feed.Get, which scans the feed for each id
	for _, id := range body.IDs {
		if a := s.byID[id]; a != nil {
			resources = append(resources, a.raw)
		} else {
			errs = append(errs, apiErr{Code: http.StatusNotFound, Message: "alert not found", ID: id})
		}
	}
	s.mu.Unlock()
	s.reply(w, http.StatusOK, nil, resources, errs)
}

// deviceDetails implements GET /devices/entities/devices/v2; ids may repeat
// or be comma-separated.
func (s *Sim) deviceDetails(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for _, v := range r.URL.Query()["ids"] {
		ids = append(ids, jsonfield.SplitList(v)...)
	}
	if len(ids) == 0 {
		s.fail(w, http.StatusBadRequest, "ids is required")
		return
	}
	resources := []map[string]any{}
	var errs []apiErr
	s.mu.Lock()
	for _, id := range ids {
		d := s.devices[id]
		if d == nil {
			errs = append(errs, apiErr{Code: http.StatusNotFound, Message: "device not found", ID: id})
			continue
		}
		rec := maps.Clone(d)
		rec["status"] = s.statusOf(id)
		resources = append(resources, rec)
	}
	s.mu.Unlock()
	status := http.StatusOK
	if len(resources) == 0 {
		status = http.StatusNotFound
	}
	s.reply(w, status, nil, resources, errs)
}

// deviceAction implements POST /devices/entities/devices-actions/v2 for
// contain and lift_containment. State changes at once (the real API passes
// through containment_pending); repeating a call is harmless.
func (s *Sim) deviceAction(w http.ResponseWriter, r *http.Request) {
	action := r.URL.Query().Get("action_name")
	contain, ok := map[string]bool{"contain": true, "lift_containment": false}[action]
	if !ok {
		s.fail(w, http.StatusBadRequest, "action_name must be contain or lift_containment")
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := simkit.ReadJSON(w, r, &body); err != nil || len(body.IDs) != 1 {
		s.fail(w, http.StatusBadRequest, "body must be {\"ids\":[\"<AID>\"]} with one id")
		return
	}
	aid := body.IDs[0]
	s.mu.Lock()
	known := s.devices[aid] != nil
	status := http.StatusAccepted
	if !known {
		status = http.StatusNotFound
	} else {
		s.ledger.SetContained(aid, contain)
	}
	// An empty key is action+":"+AID in the ledger.
	s.ledger.Record(simkit.Entry{At: s.now(), HostID: aid, Action: action, Key: r.Header.Get(IdempotencyHeader), Status: status})
	s.mu.Unlock()
	if !known {
		s.reply(w, status, nil, []any{}, []apiErr{{Code: status, Message: "device not found", ID: aid}})
		return
	}
	res := []map[string]string{{"id": aid, "path": "/devices/entities/devices/v2?ids=" + aid}}
	s.reply(w, status, map[string]any{"writes": map[string]int{"resources_affected": 1}}, res, nil)
}
