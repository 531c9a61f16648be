package sentinelone

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+pathThreats, s.authed(PermThreatsView, s.listHandler(true)))
	m.Handle("GET "+pathAlerts, s.authed(PermAlertsView, s.listHandler(false)))
	m.Handle("GET "+pathAgents, s.authed(PermEndpointsView, s.listAgents))
	m.Handle("POST "+pathDisconnect, s.authed(PermEndpointsDisconn, s.agentAction("disconnect", NetDisconnected)))
	m.Handle("POST "+pathConnect, s.authed(PermEndpointsReconn, s.agentAction("connect", NetConnected)))
	for action, perm := range mitigatePerms {
		m.Handle("POST "+pathMitigate+action, s.authed(perm, s.mitigate(action)))
	}
	m.Handle("GET "+pathRestrictions, s.authed(PermBlocklistView, s.listRestrictions))
	m.Handle("POST "+pathRestrictions, s.authed(PermBlocklistCreate, s.createRestriction))
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

// fail writes SentinelOne's error shape {"errors":[{code,title,detail}]}.
func (s *Sim) fail(w http.ResponseWriter, status, code int, title, detail string) {
	if status == http.StatusTooManyRequests {
		s.mu.Lock()
		after := s.retryAfter
		s.mu.Unlock()
		simkit.SetRetryAfter(w, after)
	}
	simkit.WriteJSON(w, status, map[string]any{"errors": []map[string]any{{"code": code, "title": title, "detail": detail}}})
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
			s.fail(w, http.StatusForbidden, 4030010, "Forbidden", "Insufficient permissions: "+perm)
		default:
			h(w, r)
		}
	})
}

// listFilter is a list query: time bounds on createdAt, ids, a cursor
// (simkit's: the sort key of the last item returned), a limit.
type listFilter struct {
	gt, gte, lt, lte time.Time
	ids              map[string]bool
	cursor           string
	limit            int
}

func parseListQuery(q url.Values, threats bool) (listFilter, error) {
	lf := listFilter{limit: 10, cursor: q.Get("cursor")}
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
	for _, v := range q["ids"] {
		for _, id := range jsonfield.SplitList(v) {
			if lf.ids == nil {
				lf.ids = map[string]bool{}
			}
			lf.ids[id] = true
		}
	}
	return lf, nil
}

func (lf listFilter) keep(it simkit.Item) bool {
	t := it.Created
	return (lf.gt.IsZero() || t.After(lf.gt)) && (lf.gte.IsZero() || !t.Before(lf.gte)) &&
		(lf.lt.IsZero() || t.Before(lf.lt)) && (lf.lte.IsZero() || !t.After(lf.lte)) &&
		(lf.ids == nil || lf.ids[it.ID])
}

// listHandler implements GET threats and GET cloud-detection/alerts:
// {"data":[…],"pagination":{"nextCursor":…,"totalItems":N}}; nextCursor is
// null on the last page, as SentinelOne sends it.
func (s *Sim) listHandler(threats bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lf, err := parseListQuery(r.URL.Query(), threats)
		if err != nil {
			s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", err.Error())
			return
		}
		feed := &s.threats
		if !threats {
			feed = &s.alerts
		}
		page, err := feed.Read(simkit.Query{Cursor: lf.cursor, Keep: lf.keep, Limit: lf.limit})
		if err != nil {
			s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", err.Error())
			return
		}
		data := make([]json.RawMessage, len(page.Items))
		for i, it := range page.Items {
			data[i] = s.current(threats, it)
		}
		var next *string
		if page.More {
			next = &page.Next
		}
		simkit.WriteJSON(w, http.StatusOK, map[string]any{
			"data":       data,
			"pagination": map[string]any{"nextCursor": next, "totalItems": page.Total},
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
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
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
		if err := simkit.ReadJSON(w, r, &body); err != nil || len(body.Filter.IDs) == 0 {
			s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", `body must be {"filter":{"ids":["<agentId>"]}}`)
			return
		}
		key := r.Header.Get(IdempotencyHeader)
		affected := 0
		s.mu.Lock()
		for _, id := range body.Filter.IDs {
			if a := s.agents[id]; a != nil {
				s.setStatusLocked(a, want)
				affected++
			}
			s.ledger.Record(simkit.Entry{At: s.now(), HostID: id, Action: action, Key: key, Status: http.StatusOK})
		}
		s.mu.Unlock()
		simkit.WriteJSON(w, http.StatusOK, map[string]any{"data": map[string]int{"affected": affected}})
	}
}
