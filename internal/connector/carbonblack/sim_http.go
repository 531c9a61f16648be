package carbonblack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// maxWindow bounds start+rows of a search, as Carbon Black's result
// window does.
const maxWindow = 10000

func (s *Sim) routes() {
	m := http.NewServeMux()
	org := "/{org}"
	m.Handle("POST "+strings.Replace(pathAlertSearch, "/%s", org, 1), s.authed(PermAlertsRead, s.searchAlerts))
	m.Handle("POST "+strings.Replace(pathDeviceSearch, "/%s", org, 1), s.authed(PermDevicesRead, s.searchDevices))
	m.Handle("POST "+strings.Replace(pathDeviceAction, "/%s", org, 1), s.authed(PermQuarantine, s.deviceActions))
	m.Handle("POST "+strings.Replace(pathOverrideFind, "/%s", org, 1), s.authed(PermReputationsRead, s.searchOverrides))
	m.Handle("POST "+strings.Replace(pathOverrides, "/%s", org, 1), s.authed(PermReputationsAdd, s.addOverride))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.Method+" "+r.URL.Path)
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
		s.fail(w, status, "INVALID_REQUEST", msg)
	})
	if !ok {
		return
	}
	if status != 0 {
		s.fail(w, status, strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")), "injected failure")
		return
	}
	s.mu.Lock()
	allowed, wait := s.limit.Allow()
	s.mu.Unlock()
	if !allowed {
		simkit.SetRetryAfter(w, wait)
		simkit.WriteJSON(w, http.StatusTooManyRequests, errBody("TOO_MANY_REQUESTS", "rate limit exceeded"))
		return
	}
	s.mux.ServeHTTP(w, r)
}

func errBody(code, msg string) map[string]any {
	return map[string]any{"success": false, "error_code": code, "message": msg}
}

// fail writes Carbon Black's error shape; a 429 or 503 carries Retry-After.
func (s *Sim) fail(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		s.mu.Lock()
		after := s.retryAfter
		s.mu.Unlock()
		simkit.SetRetryAfter(w, after)
	}
	simkit.WriteJSON(w, status, errBody(code, msg))
}

// authed checks the X-Auth-Token ("<secret>/<API id>"), the org key of the
// path and the permission before calling h.
func (s *Sim) authed(perm string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimSpace(r.Header.Get(AuthHeader))
		i := strings.LastIndexByte(tok, '/')
		switch {
		case i < 0 || !s.keys.Check(tok[i+1:], tok[:i]):
			s.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid API key")
		case r.PathValue("org") != s.org:
			s.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "API key is not valid for org "+r.PathValue("org"))
		case s.keys.Denied(perm):
			s.fail(w, http.StatusForbidden, "FORBIDDEN", "access level lacks "+perm)
		default:
			h(w, r)
		}
	})
}

// alertSearch is the body of an alerts search.
type alertSearch struct {
	TimeRange *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"time_range"`
	Criteria map[string]json.RawMessage `json:"criteria"`
	Start    int                        `json:"start"`
	Rows     *int                       `json:"rows"`
	Sort     []sortField                `json:"sort"`
}

// parse checks the search and returns its time bounds (zero: open) and
// rows.
func (q alertSearch) parse() (from, to time.Time, rows int, err error) {
	rows = 20
	if q.Rows != nil {
		rows = *q.Rows
	}
	switch {
	case rows < 1 || rows > maxWindow:
		return from, to, 0, fmt.Errorf("rows must be 1 to %d", maxWindow)
	case q.Start < 0 || q.Start+rows > maxWindow:
		return from, to, 0, fmt.Errorf("start+rows must not exceed %d", maxWindow)
	}
	for _, sf := range q.Sort {
		if sf.Field != "backend_update_timestamp" || !strings.EqualFold(sf.Order, "ASC") {
			return from, to, 0, fmt.Errorf("the simulator sorts by backend_update_timestamp ASC only")
		}
	}
	if tr := q.TimeRange; tr != nil {
		from, to = jsonfield.ParseTime(tr.Start), jsonfield.ParseTime(tr.End)
		if (tr.Start != "" && from.IsZero()) || (tr.End != "" && to.IsZero()) {
			return from, to, 0, fmt.Errorf("time_range start and end must be ISO 8601 times")
		}
	}
	return from, to, rows, nil
}

// searchAlerts implements POST alerts/_search: {"results":[…],
// "num_found":N}. time_range applies to backend_update_timestamp, both ends
// inclusive; criteria are accepted and not applied.
func (s *Sim) searchAlerts(w http.ResponseWriter, r *http.Request) {
	var q alertSearch
	if err := simkit.ReadJSON(w, r, &q); err != nil {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		return
	}
	from, to, rows, err := q.parse()
	if err != nil {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		return
	}
	s.mu.Lock()
	items, total := s.alerts.ReadOffset(func(it simkit.Item) bool {
		id, _, _ := strings.Cut(it.ID, "@")
		return s.latest[id] == it.ID && (from.IsZero() || !it.Created.Before(from)) && (to.IsZero() || !it.Created.After(to))
	}, q.Start, rows)
	s.mu.Unlock()
	results := make([]json.RawMessage, len(items))
	for i, it := range items {
		results[i] = it.Raw
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"results": results, "num_found": total})
}

// ids reads a list of device ids sent as numbers or strings.
func ids(raws []json.RawMessage) ([]string, bool) {
	var out []string
	for _, raw := range raws {
		id := strings.Trim(strings.TrimSpace(string(raw)), `"`)
		if !isDigits(id) {
			return nil, false
		}
		out = append(out, id)
	}
	return out, len(out) > 0
}

// searchDevices implements POST devices/_search with criteria id.
func (s *Sim) searchDevices(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Criteria struct {
			ID []json.RawMessage `json:"id"`
		} `json:"criteria"`
	}
	if err := simkit.ReadJSON(w, r, &q); err != nil {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		return
	}
	want, ok := ids(q.Criteria.ID)
	if !ok {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "the simulator needs criteria.id, a list of device ids")
		return
	}
	results := []map[string]any{}
	s.mu.Lock()
	for _, id := range want {
		if d := s.devices[id]; d != nil {
			results = append(results, map[string]any{
				"id": json.Number(d.id), "name": d.name, "os": d.os, "status": "REGISTERED",
				"quarantined": s.ledger.Contained(id),
			})
		}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"results": results, "num_found": len(results)})
}

// deviceActions implements POST device_actions. QUARANTINE sets the
// device's state at once (the real sensor follows at its next check-in);
// BACKGROUND_SCAN, BYPASS and UPDATE_POLICY are accepted and only logged.
// Unknown device ids are ignored, and the answer is 204 No Content.
func (s *Sim) deviceActions(w http.ResponseWriter, r *http.Request) {
	var q struct {
		ActionType string            `json:"action_type"`
		DeviceID   []json.RawMessage `json:"device_id"`
		Options    struct {
			Toggle string `json:"toggle"`
		} `json:"options"`
	}
	if err := simkit.ReadJSON(w, r, &q); err != nil {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		return
	}
	want, ok := ids(q.DeviceID)
	toggle := strings.ToUpper(q.Options.Toggle)
	switch {
	case !ok:
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "device_id must be a list of device ids")
		return
	case q.ActionType == "QUARANTINE" && toggle != "ON" && toggle != "OFF":
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "QUARANTINE needs options.toggle ON or OFF")
		return
	case q.ActionType != "QUARANTINE" && q.ActionType != "BACKGROUND_SCAN" && q.ActionType != "BYPASS" && q.ActionType != "UPDATE_POLICY":
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "unknown action_type "+q.ActionType)
		return
	}
	action := q.ActionType
	if toggle != "" {
		action += "_" + toggle
	}
	s.mu.Lock()
	for _, id := range want {
		if s.devices[id] == nil {
			continue
		}
		s.ledger.Record(simkit.Entry{At: s.now(), HostID: id, Action: action, Status: http.StatusNoContent})
		if q.ActionType == "QUARANTINE" {
			s.ledger.SetContained(id, toggle == "ON")
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// searchOverrides implements POST reputations/overrides/_search: criteria
// override_list and override_type, query matched against the hash and
// file name.
func (s *Sim) searchOverrides(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Criteria struct {
			OverrideList string `json:"override_list"`
			OverrideType string `json:"override_type"`
		} `json:"criteria"`
		Query string `json:"query"`
	}
	if err := simkit.ReadJSON(w, r, &q); err != nil {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		return
	}
	results := []override{}
	s.mu.Lock()
	for _, o := range s.overrides {
		if (q.Criteria.OverrideList == "" || o.OverrideList == q.Criteria.OverrideList) &&
			(q.Criteria.OverrideType == "" || o.OverrideType == q.Criteria.OverrideType) &&
			(q.Query == "" || strings.Contains(o.SHA256Hash, strings.ToLower(q.Query)) || strings.Contains(o.Filename, q.Query)) {
			results = append(results, o)
		}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"results": results, "num_found": len(results)})
}

// addOverride implements POST reputations/overrides for SHA256 overrides:
// it answers the override with its id. An override of the same list and
// hash is answered as it stands, not added twice.
func (s *Sim) addOverride(w http.ResponseWriter, r *http.Request) {
	var o override
	if err := simkit.ReadJSON(w, r, &o); err != nil {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		return
	}
	o.SHA256Hash = strings.ToLower(o.SHA256Hash)
	switch {
	case o.OverrideList != "BLACK_LIST" && o.OverrideList != "WHITE_LIST":
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "override_list must be BLACK_LIST or WHITE_LIST")
		return
	case o.OverrideType != "SHA256" || len(o.SHA256Hash) != 64 || strings.Trim(o.SHA256Hash, "0123456789abcdef") != "":
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "the simulator takes override_type SHA256 with a sha256_hash")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.overrides {
		if have.OverrideList == o.OverrideList && have.SHA256Hash == o.SHA256Hash {
			simkit.WriteJSON(w, http.StatusOK, have)
			return
		}
	}
	s.seq++
	o.ID = fmt.Sprintf("%032x", s.seq)
	s.overrides = append(s.overrides, o)
	s.ledger.Record(simkit.Entry{At: s.now(), HostID: o.SHA256Hash, Action: "BAN_SHA256", Status: http.StatusOK})
	simkit.WriteJSON(w, http.StatusOK, o)
}
