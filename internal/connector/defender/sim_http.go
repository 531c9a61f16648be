package defender

import (
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
	m.HandleFunc("POST /{tenant}/oauth2/token", s.token)
	m.Handle("GET "+pathAlerts, s.authed(PermAlertRead, s.listAlerts))
	m.Handle("GET "+pathMachines+"{id}", s.authed(PermMachineRead, s.getMachine))
	m.Handle("GET "+pathMachineActions, s.authed(PermMachineRead, s.listActions))
	m.Handle("GET "+pathMachineActions+"/{id}", s.authed(PermMachineRead, s.getAction))
	m.Handle("POST "+pathMachines+"{id}/isolate", s.authed(PermMachineIsolate, s.machineAction(ActionIsolate)))
	m.Handle("POST "+pathMachines+"{id}/unisolate", s.authed(PermMachineIsolate, s.machineAction(ActionUnisolate)))
	m.Handle("POST "+pathMachines+"{id}/StopAndQuarantineFile", s.authed(PermStopQuarantine, s.machineAction(ActionStopQuarantine)))
	m.Handle("GET "+pathFiles+"{hash}", s.authed(PermFileRead, s.getFile))
	m.Handle("GET "+pathIndicators, s.authed(PermIndicatorsWrite, s.listIndicators))
	m.Handle("POST "+pathIndicators, s.authed(PermIndicatorsWrite, s.postIndicator))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "ResourceNotFound", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// ServeHTTP answers one call. API calls (/api/…) first pass the injected
// latency and failures and the rate limit; the token endpoint does not.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	status, ok := s.Before(w, r, func(w http.ResponseWriter, status int, msg string) {
		fail(w, status, "BadRequest", msg)
	})
	if !ok {
		return
	}
	if status != 0 {
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			s.mu.Lock()
			simkit.SetRetryAfter(w, s.retryAfter)
			s.mu.Unlock()
		}
		fail(w, status, strings.ReplaceAll(http.StatusText(status), " ", ""), "injected failure")
		return
	}
	s.mu.Lock()
	allowed, wait := s.limit.Allow()
	s.mu.Unlock()
	if !allowed {
		simkit.SetRetryAfter(w, wait)
		fail(w, http.StatusTooManyRequests, "TooManyRequests",
			fmt.Sprintf("API calls quota exceeded! Maximum allowed %d per %v", s.limit.Max, s.limit.Window))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// fail writes MDE's error shape {"error":{"code","message","target"}}.
func fail(w http.ResponseWriter, status int, code, msg string) {
	simkit.WriteJSON(w, status, map[string]any{"error": map[string]string{
		"code": code, "message": msg, "target": fmt.Sprintf("%08x-sim", time.Now().UnixNano()&0xffffffff),
	}})
}

// token implements the Entra ID v1 client-credentials token endpoint.
func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	aad := func(status int, code, desc string) {
		simkit.WriteJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{}})
	}
	if r.PathValue("tenant") != s.tenant {
		aad(http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	id, secret, err := simkit.ClientCredentials(w, r)
	switch {
	case err != nil:
		aad(http.StatusBadRequest, "invalid_request", "AADSTS900144: "+err.Error())
		return
	case !s.tokens.Check(id, secret):
		aad(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided, or unknown application '"+id+"'.")
		return
	}
	res := strings.TrimRight(r.PostForm.Get("resource"), "/")
	if res != resourceCommercial && res != resourceGov {
		aad(http.StatusBadRequest, "invalid_resource", "AADSTS500011: The resource principal named '"+res+"' was not found in the tenant.")
		return
	}
	now := s.now()
	ttl := s.tokens.TTL()
	simkit.WriteJSON(w, http.StatusOK, map[string]string{
		"token_type": "Bearer", "expires_in": strconv.Itoa(int(ttl.Seconds())), "ext_expires_in": strconv.Itoa(int(ttl.Seconds())),
		"expires_on": strconv.FormatInt(now.Add(ttl).Unix(), 10), "not_before": strconv.FormatInt(now.Unix(), 10),
		"resource": res, "access_token": s.tokens.Mint(),
	})
}

// authed checks the bearer token and the permission before calling h.
func (s *Sim) authed(perm string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !s.tokens.Valid(simkit.Bearer(r)):
			fail(w, http.StatusUnauthorized, "Unauthorized", "Authorization token is missing, invalid or expired")
		case s.tokens.Denied(perm):
			fail(w, http.StatusForbidden, "Forbidden",
				"The application does not have any of the required application permissions ("+perm+") to access the resource.")
		default:
			h(w, r)
		}
	})
}

// odata reads $top (default and maximum 10 000) and $skip.
func odata(q url.Values) (top, skip int, err error) {
	top = MaxTop
	if v := q.Get("$top"); v != "" {
		if top, err = strconv.Atoi(v); err != nil || top < 1 || top > MaxTop {
			return 0, 0, fmt.Errorf("$top must be 1 to %d", MaxTop)
		}
	}
	if v := q.Get("$skip"); v != "" {
		if skip, err = strconv.Atoi(v); err != nil || skip < 0 {
			return 0, 0, fmt.Errorf("$skip must be 0 or more")
		}
	}
	return top, skip, nil
}

// clause is one "field op value" of a $filter joined by "and".
type clause struct{ field, op, value string }

func parseFilter(f string) ([]clause, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	var out []clause
	for _, part := range splitAnd(f) {
		fs := strings.Fields(part)
		if len(fs) != 3 {
			return nil, fmt.Errorf("the simulator takes $filter clauses 'field op value' joined by 'and', not %q", part)
		}
		out = append(out, clause{fs[0], strings.ToLower(fs[1]), strings.Trim(fs[2], "'")})
	}
	return out, nil
}

func splitAnd(f string) []string {
	var parts []string
	for {
		i := strings.Index(strings.ToLower(f), " and ")
		if i < 0 {
			return append(parts, f)
		}
		parts, f = append(parts, f[:i]), f[i+5:]
	}
}

// timeMatch applies a gt/ge/lt/le/eq clause to t.
func timeMatch(t time.Time, c clause, bound time.Time) bool {
	switch c.op {
	case "gt":
		return t.After(bound)
	case "ge":
		return !t.Before(bound)
	case "lt":
		return t.Before(bound)
	case "le":
		return !t.After(bound)
	}
	return t.Equal(bound)
}

// alertQuery reads the OData options of GET /api/alerts: $top, $skip, a
// $filter on lastUpdateTime or alertCreationTime, $orderby lastUpdateTime
// asc.
func alertQuery(q url.Values) (top, skip int, keep []func(simkit.Item, jsonfield.Object) bool, err error) {
	if top, skip, err = odata(q); err != nil {
		return
	}
	if ob := strings.ToLower(strings.Join(strings.Fields(q.Get("$orderby")), " ")); ob != "" && ob != "lastupdatetime" && ob != "lastupdatetime asc" {
		return 0, 0, nil, fmt.Errorf("the simulator orders by lastUpdateTime asc only")
	}
	clauses, err := parseFilter(q.Get("$filter"))
	if err != nil {
		return 0, 0, nil, err
	}
	for _, c := range clauses {
		bound := jsonfield.ParseTime(c.value)
		field := c.field
		if (field != "lastUpdateTime" && field != "alertCreationTime") || bound.IsZero() {
			return 0, 0, nil, fmt.Errorf("the simulator filters on lastUpdateTime or alertCreationTime with a time, not %q", field+" "+c.op+" "+c.value)
		}
		keep = append(keep, func(it simkit.Item, f jsonfield.Object) bool {
			if field == "lastUpdateTime" {
				return timeMatch(it.Created, c, bound)
			}
			return timeMatch(f.Time(field), c, bound)
		})
	}
	return top, skip, keep, nil
}

// listAlerts implements GET /api/alerts: the current version of each
// alert, by lastUpdateTime, with @odata.nextLink while more remain.
func (s *Sim) listAlerts(w http.ResponseWriter, r *http.Request) {
	top, skip, keep, err := alertQuery(r.URL.Query())
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	items, total := s.alerts.ReadOffset(func(it simkit.Item) bool {
		if s.current[alertOf(it.ID)] != it.ID {
			return false
		}
		f, _ := jsonfield.Parse(it.Raw)
		for _, k := range keep {
			if !k(it, f) {
				return false
			}
		}
		return true
	}, skip, top)
	s.mu.Unlock()
	value := make([]json.RawMessage, len(items))
	for i, it := range items {
		value[i] = it.Raw
	}
	page := map[string]any{"@odata.context": resourceCommercial + "/api/$metadata#Alerts", "value": value}
	if skip+len(items) < total {
		next := *r.URL
		nq := next.Query()
		nq.Set("$skip", strconv.Itoa(skip+len(items)))
		next.RawQuery = odataQuery(nq)
		page["@odata.nextLink"] = "http://" + r.Host + next.RequestURI()
	}
	simkit.WriteJSON(w, http.StatusOK, page)
}

// getMachine implements GET /api/machines/{id}.
func (s *Sim) getMachine(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.machines[r.PathValue("id")]
	var body map[string]any
	if m != nil {
		body = map[string]any{"id": m.id, "computerDnsName": m.name, "osPlatform": m.os, "healthStatus": "Active", "onboardingStatus": "Onboarded"}
	}
	s.mu.Unlock()
	if body == nil {
		fail(w, http.StatusNotFound, "ResourceNotFound", "Machine "+r.PathValue("id")+" was not found")
		return
	}
	simkit.WriteJSON(w, http.StatusOK, body)
}

// listActions implements GET /api/machineactions with $filter clauses
// "machineId eq '…'", "type eq '…'" and "status eq '…'".
func (s *Sim) listActions(w http.ResponseWriter, r *http.Request) {
	clauses, err := parseFilter(r.URL.Query().Get("$filter"))
	for _, c := range clauses {
		if c.op != "eq" || (c.field != "machineId" && c.field != "type" && c.field != "status") {
			err = fmt.Errorf("the simulator filters machine actions on machineId, type or status eq, not %q", c.field+" "+c.op)
		}
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	value := []MachineAction{}
	for _, a := range s.actions {
		ok := true
		for _, c := range clauses {
			got := map[string]string{"machineId": a.MachineID, "type": a.Type, "status": a.Status}[c.field]
			ok = ok && strings.EqualFold(got, c.value)
		}
		if ok {
			value = append(value, a)
		}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"@odata.context": resourceCommercial + "/api/$metadata#MachineActions", "value": value})
}

// getAction implements GET /api/machineactions/{id}.
func (s *Sim) getAction(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.actions {
		if a.ID == r.PathValue("id") {
			simkit.WriteJSON(w, http.StatusOK, a)
			return
		}
	}
	fail(w, http.StatusNotFound, "ResourceNotFound", "Machine action "+r.PathValue("id")+" was not found")
}
