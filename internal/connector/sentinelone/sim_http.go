package sentinelone

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

const maxSimBody = 4 << 20

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+pathThreats, s.authed(PermThreatsView, s.listHandler(true)))
	m.Handle("GET "+pathAlerts, s.authed(PermAlertsView, s.listHandler(false)))
	m.Handle("GET "+pathAgents, s.authed(PermEndpointsView, s.listAgents))
	m.Handle("POST "+pathDisconnect, s.authed(PermEndpointsDisconn, s.agentAction("disconnect", NetDisconnected)))
	m.Handle("POST "+pathConnect, s.authed(PermEndpointsReconn, s.agentAction("connect", NetConnected)))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, 4040000, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// ServeHTTP answers one API call: optional latency, then an injected
// failure if one is pending, then the endpoint.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	status, ok := s.Before(w, r, func(w http.ResponseWriter, status int, msg string) {
		s.fail(w, status, 4000010, "Validation Error", msg)
	})
	if !ok {
		return
	}
	if status != 0 {
		s.fail(w, status, status*10000, http.StatusText(status), "injected failure")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail writes SentinelOne's error shape {"errors":[{code,title,detail}]}.
func (s *Sim) fail(w http.ResponseWriter, status, code int, title, detail string) {
	if status == http.StatusTooManyRequests {
		s.mu.Lock()
		after := s.retryAfter
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": code, "title": title, "detail": detail}}})
}

// authed checks the ApiToken header and the permission before calling h.
func (s *Sim) authed(perm string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "ApiToken ")
		s.mu.Lock()
		valid := ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.token)) == 1
		denied := s.denied[perm]
		s.mu.Unlock()
		switch {
		case !valid:
			s.fail(w, http.StatusUnauthorized, 4010010, "Authentication Failed", "Invalid or expired API token")
		case denied:
			s.fail(w, http.StatusForbidden, 4030010, "Forbidden", "Insufficient permissions")
		default:
			h(w, r)
		}
	})
}

// pageKey is the simulator's nextCursor: the sort key of the last item of
// the page, so that paging stays exact while items are added.
type pageKey struct {
	T  time.Time `json:"t"`
	ID string    `json:"id"`
}

func encodeCursor(it *simItem) string {
	b, _ := json.Marshal(pageKey{T: it.created, ID: it.id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*simItem, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var k pageKey
	if err != nil || json.Unmarshal(b, &k) != nil || k.ID == "" {
		return nil, fmt.Errorf("invalid cursor")
	}
	return &simItem{id: k.ID, created: k.T}, nil
}

// listFilter is a list query: time bounds on createdAt, a cursor, a limit.
type listFilter struct {
	gt, gte, lt, lte time.Time
	after            *simItem
	limit            int
}

func parseListQuery(q url.Values, threats bool) (listFilter, error) {
	lf := listFilter{limit: 10}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return lf, fmt.Errorf("limit must be 1 to 1000")
		}
		lf.limit = n
	}
	sortBys := map[string]bool{"": true, "createdAt": true}
	if !threats {
		sortBys["alertInfoCreatedAt"] = true
	}
	if !sortBys[q.Get("sortBy")] {
		return lf, fmt.Errorf("the simulator sorts by createdAt only")
	}
	if o := q.Get("sortOrder"); o != "" && o != "asc" {
		return lf, fmt.Errorf("the simulator sorts ascending only")
	}
	for key, dst := range map[string]*time.Time{"createdAt__gt": &lf.gt, "createdAt__gte": &lf.gte, "createdAt__lt": &lf.lt, "createdAt__lte": &lf.lte} {
		if v := q.Get(key); v != "" {
			if *dst = jsonfield.ParseTime(v); dst.IsZero() {
				return lf, fmt.Errorf("%s must be an RFC 3339 time", key)
			}
		}
	}
	if v := q.Get("cursor"); v != "" {
		k, err := decodeCursor(v)
		if err != nil {
			return lf, err
		}
		lf.after = k
	}
	return lf, nil
}

func (lf listFilter) match(it *simItem) bool {
	t := it.created
	return (lf.gt.IsZero() || t.After(lf.gt)) && (lf.gte.IsZero() || !t.Before(lf.gte)) &&
		(lf.lt.IsZero() || t.Before(lf.lt)) && (lf.lte.IsZero() || !t.After(lf.lte))
}

// listHandler implements GET threats and GET cloud-detection/alerts:
// {"data":[…],"pagination":{"nextCursor":…,"totalItems":N}}; nextCursor is
// null on the last page.
func (s *Sim) listHandler(threats bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lf, err := parseListQuery(r.URL.Query(), threats)
		if err != nil {
			s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", err.Error())
			return
		}
		s.mu.Lock()
		items := s.threats
		if !threats {
			items = s.alerts
		}
		total := 0
		data := []json.RawMessage{}
		var last *simItem
		more := false
		for _, it := range items {
			if !lf.match(it) {
				continue
			}
			total++
			if lf.after != nil && !itemLess(lf.after, it) {
				continue
			}
			if len(data) == lf.limit {
				more = true
				continue
			}
			data = append(data, it.raw)
			last = it
		}
		s.mu.Unlock()
		var next *string
		if more {
			c := encodeCursor(last)
			next = &c
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"data":       data,
			"pagination": map[string]any{"nextCursor": next, "totalItems": total},
		})
	}
}

// listAgents implements GET agents?ids=a,b.
func (s *Sim) listAgents(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for _, v := range r.URL.Query()["ids"] {
		ids = append(ids, jsonfield.SplitList(v)...)
	}
	if len(ids) == 0 {
		s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", "the simulator needs ids")
		return
	}
	data := []map[string]any{}
	s.mu.Lock()
	for _, id := range ids {
		if a := s.agents[id]; a != nil {
			data = append(data, map[string]any{
				"id": a.id, "computerName": a.name, "osName": a.os, "networkStatus": a.status,
				"isActive": true, "isDecommissioned": false,
			})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"data": data, "pagination": map[string]any{"nextCursor": nil, "totalItems": len(data)},
	})
}

// agentAction implements POST agents/actions/disconnect and connect with
// {"filter":{"ids":[…]},"data":{}}. The state changes at once (the real
// agent passes through disconnecting or connecting); an empty filter,
// which on the real console selects every agent, is refused.
func (s *Sim) agentAction(action, want string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Filter struct {
				IDs []string `json:"ids"`
			} `json:"filter"`
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSimBody))
		if err != nil || json.Unmarshal(b, &body) != nil || len(body.Filter.IDs) == 0 {
			s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", `body must be {"filter":{"ids":["<agentId>"]}}`)
			return
		}
		key := r.Header.Get(IdempotencyHeader)
		affected := 0
		s.mu.Lock()
		for _, id := range body.Filter.IDs {
			k := key
			if k == "" {
				k = action + ":" + id
			}
			a := s.agents[id]
			if a != nil {
				a.status = want
				affected++
			}
			s.calls[k]++
			s.ledger = append(s.ledger, LedgerEntry{At: s.now(), AgentID: id, Action: action, Key: k, Status: http.StatusOK})
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]int{"affected": affected}})
	}
}
