package cybereason

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

const loginPage = "<!DOCTYPE html><html><head><title>Cybereason</title></head><body><form method=\"post\" action=\"/login.html\"></form></body></html>\n"

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST "+pathLogin, s.handleLogin)
	m.HandleFunc("GET "+pathLogin, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, loginPage)
	})
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>Cybereason console (bannin simulator)</title></head></html>\n")
	})
	m.Handle("POST "+pathInbox, s.rest(RoleMalops, s.handleInbox))
	m.Handle("POST "+pathSensors, s.rest(RoleSensors, s.handleSensors))
	m.Handle("POST "+pathIsolate, s.rest(RoleIsolation, s.command("isolate", true)))
	m.Handle("POST "+pathUnisolate, s.rest(RoleIsolation, s.command("un-isolate", false)))
	m.Handle("POST "+pathCrimes, s.rest(RoleMalops, s.handleCrimes))
	m.Handle("POST "+pathRemediate, s.rest(RoleRemediate, s.handleRemediate))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// ServeHTTP answers one request.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	s.mux.ServeHTTP(w, r)
}

func fail(w http.ResponseWriter, status int, msg string) {
	simkit.WriteJSON(w, status, map[string]any{"status": "FAILURE", "message": msg})
}

// handleLogin is the form login: a good user name and password get a
// session cookie and a redirect to the console; anything else a redirect
// back to the login page with ?error, and no cookie.
func (s *Sim) handleLogin(w http.ResponseWriter, r *http.Request) {
	status, ok := s.LoginFaults.Before(w, r, fail)
	if !ok {
		return
	}
	if status != 0 {
		s.injected(w, status)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, simkit.MaxBody)
	if err := r.ParseForm(); err != nil {
		fail(w, http.StatusBadRequest, "invalid form body")
		return
	}
	if !s.sessions.Check(r.PostForm.Get("username"), r.PostForm.Get("password")) {
		http.Redirect(w, r, pathLogin+"?error", http.StatusFound)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: s.sessions.Mint(), Path: "/", HttpOnly: true, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusFound)
}

// rest wraps a REST endpoint: latency and injected failures, the session,
// the rate limit, then the role the endpoint needs.
func (s *Sim) rest(role string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, ok := s.Before(w, r, fail)
		if !ok {
			return
		}
		if status != 0 {
			s.injected(w, status)
			return
		}
		c, err := r.Cookie(SessionCookie)
		if err != nil || !s.sessions.Valid(c.Value) {
			s.noSession(w, r)
			return
		}
		s.mu.Lock()
		allowed, wait := s.limit.Allow()
		s.mu.Unlock()
		if !allowed {
			simkit.SetRetryAfter(w, wait)
			fail(w, http.StatusTooManyRequests, "too many requests")
			return
		}
		if s.sessions.Denied(role) {
			fail(w, http.StatusForbidden, "Access is denied")
			return
		}
		h(w, r)
	})
}

// injected answers a failure asked for with FailNext.
func (s *Sim) injected(w http.ResponseWriter, status int) {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		simkit.SetRetryAfter(w, s.retryAfter)
	case status >= 300 && status < 400:
		w.Header().Set("Location", pathLogin)
		w.WriteHeader(status)
		return
	}
	fail(w, status, "injected failure: "+http.StatusText(status))
}

// noSession answers a REST call without a live session as configured.
func (s *Sim) noSession(w http.ResponseWriter, r *http.Request) {
	switch s.expired {
	case http.StatusUnauthorized:
		fail(w, http.StatusUnauthorized, "session expired")
	case http.StatusOK:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, loginPage)
	default:
		http.Redirect(w, r, pathLogin, http.StatusFound)
	}
}

// handleInbox answers the MalOps whose latest version was updated within
// [startTime, endTime].
func (s *Sim) handleInbox(w http.ResponseWriter, r *http.Request) {
	var q struct {
		StartTime *int64 `json:"startTime"`
		EndTime   *int64 `json:"endTime"`
	}
	if err := simkit.ReadJSON(w, r, &q); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.StartTime == nil || q.EndTime == nil || *q.EndTime < *q.StartTime {
		fail(w, http.StatusBadRequest, "startTime and endTime (epoch ms, startTime <= endTime) are required")
		return
	}
	from, to := millis(*q.StartTime), millis(*q.EndTime)
	s.mu.Lock()
	items, _ := s.feed.ReadOffset(func(it simkit.Item) bool {
		guid, _, _ := strings.Cut(it.ID, "@")
		return s.current[guid] == it.ID && !it.Created.Before(from) && !it.Created.After(to)
	}, 0, 1<<30)
	s.mu.Unlock()
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		out[i] = it.Raw
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"malops": out})
}

// sensorJSON is one item of the sensors list.
type sensorJSON struct {
	PylumID     string `json:"pylumId"`
	SensorID    string `json:"sensorId"`
	GUID        string `json:"guid"`
	MachineName string `json:"machineName"`
	FQDN        string `json:"fqdn"`
	OSType      string `json:"osType"`
	Status      string `json:"status"`
	Isolated    bool   `json:"isolated"`
	InternalIP  string `json:"internalIpAddress"`
}

// handleSensors answers a sensors query: filters on machineName, guid or
// pylumId with Equals (case-insensitive for names) or ContainsIgnoreCase,
// paged by limit and offset.
func (s *Sim) handleSensors(w http.ResponseWriter, r *http.Request) {
	var q sensorQuery
	if err := simkit.ReadJSON(w, r, &q); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	q.Offset = max(0, q.Offset)
	s.mu.Lock()
	var all []sensorJSON
	for _, se := range s.sensors {
		if matches(se, q.Filters) {
			all = append(all, se.json())
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].PylumID < all[j].PylumID })
	total := len(all)
	page := all[min(q.Offset, total):min(q.Offset+q.Limit, total)]
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"sensors": page, "totalResults": total, "hasMoreResults": q.Offset+len(page) < total,
	})
}

func (se *simSensor) json() sensorJSON {
	status := SensorOffline
	if se.online {
		status = SensorOnline
	}
	return sensorJSON{PylumID: se.pylumID, SensorID: "5e5e5e5e5e5e5e5e5e5e5e5e:" + se.pylumID, GUID: se.guid,
		MachineName: se.name, FQDN: se.name, OSType: strings.ToUpper(osName(se.os)), Status: status,
		Isolated: se.isolated, InternalIP: se.ip}
}

func matches(se *simSensor, filters []sensorFilter) bool {
	for _, f := range filters {
		var v string
		switch f.FieldName {
		case "machineName", "fqdn":
			v = se.name
		case "guid":
			v = se.guid
		case "pylumId":
			v = se.pylumID
		default:
			return false
		}
		ok := false
		for _, want := range f.Values {
			switch f.Operator {
			case "ContainsIgnoreCase":
				ok = ok || strings.Contains(strings.ToLower(v), strings.ToLower(want))
			default: // Equals
				ok = ok || strings.EqualFold(v, want)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// command answers isolate or un-isolate: {"<pylumId>":"Succeeded"} for
// each online sensor it changes, "Failed" for a sensor that is offline or
// unknown.
func (s *Sim) command(action string, isolate bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body commandBody
		if err := simkit.ReadJSON(w, r, &body); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		if len(body.PylumIDs) == 0 {
			fail(w, http.StatusBadRequest, "pylumIds is required")
			return
		}
		ans := map[string]string{}
		var hosts []string
		s.mu.Lock()
		for _, p := range body.PylumIDs {
			se := s.sensorLocked(p)
			if se == nil || se.pylumID != p || !se.online {
				ans[p] = CommandFailed
				continue
			}
			se.isolated = isolate
			s.ledger.SetContained(se.guid, isolate)
			ans[p] = CommandSucceeded
			hosts = append(hosts, se.guid)
		}
		s.mu.Unlock()
		key := r.Header.Get(IdempotencyHeader)
		if key == "" && len(hosts) > 0 {
			key = action + ":" + strings.Join(hosts, ",")
		}
		s.ledger.Record(simkit.Entry{At: s.now(), HostID: strings.Join(hosts, ","), Action: action, Key: key, Status: http.StatusOK})
		simkit.WriteJSON(w, http.StatusOK, ans)
	}
}
