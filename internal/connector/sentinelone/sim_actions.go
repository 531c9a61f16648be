package sentinelone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// current returns a list item as the console shows it now: a threat whose
// mitigation changed since it was injected is served in its new state.
func (s *Sim) current(threats bool, it simkit.Item) json.RawMessage {
	if !threats {
		return it.Raw
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.patched[it.ID]; ok {
		return p
	}
	return it.Raw
}

// mitigationOS lists the agent OS types each action runs on (kill runs on
// all): rollback on Windows only, remediate on Windows and macOS.
var mitigationOS = map[string][]string{
	MitigateQuarantine: {"windows", "macos", "linux"},
	MitigateRemediate:  {"windows", "macos"},
	MitigateRollback:   {"windows"},
}

// mitigate implements POST threats/mitigate/{action} with
// {"filter":{"ids":[…]}}: each known threat on whose agent OS the action
// runs gets a successful mitigationStatus entry at once (the real agent
// reports it later) and counts in affected. Each id is recorded in the
// ledger under the idempotency key, else action+":"+threatId.
func (s *Sim) mitigate(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Filter struct {
				IDs []string `json:"ids"`
			} `json:"filter"`
		}
		if err := simkit.ReadJSON(w, r, &body); err != nil || len(body.Filter.IDs) == 0 {
			// An empty filter would mitigate every threat in scope: refused.
			s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", `body must be {"filter":{"ids":["<threatId>"]}}`)
			return
		}
		key := r.Header.Get(IdempotencyHeader)
		affected := 0
		s.mu.Lock()
		for _, id := range body.Filter.IDs {
			if s.mitigateLocked(id, action) {
				affected++
			}
			s.ledger.Record(simkit.Entry{At: s.now(), HostID: id, Action: action, Key: key, Status: http.StatusOK})
		}
		s.mu.Unlock()
		simkit.WriteJSON(w, http.StatusOK, map[string]any{"data": map[string]int{"affected": affected}})
	}
}

// mitigateLocked applies action to threat id and reports whether it did.
func (s *Sim) mitigateLocked(id, action string) bool {
	it, ok := s.threats.Get(id)
	if !ok {
		return false
	}
	raw := it.Raw
	if p, ok := s.patched[id]; ok {
		raw = p
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return false
	}
	rt, _ := m["agentRealtimeInfo"].(map[string]any)
	os, _ := rt["agentOsType"].(string)
	if oses, limited := mitigationOS[action]; limited && !slices.Contains(oses, strings.ToLower(os)) {
		return false
	}
	now := timeText(s.now())
	step := map[string]any{
		"action": statusAction[action], "status": "success", "agentSupportsReport": true,
		"mitigationStartedAt": now, "mitigationEndedAt": now, "lastUpdate": now,
	}
	list, _ := m["mitigationStatus"].([]any)
	m["mitigationStatus"] = append([]any{step}, list...) // newest first, as the console lists them
	setIn(m, "threatInfo", "mitigationStatus", "mitigated")
	setIn(m, "threatInfo", "updatedAt", now)
	b, err := json.Marshal(m)
	if err != nil {
		return false
	}
	s.patched[id] = b
	return true
}

// Mitigations returns the mitigationStatus actions of threat id, newest
// first, as the threats API now shows them.
func (s *Sim) Mitigations(threatID string) []string {
	it, ok := s.threats.Get(threatID)
	if !ok {
		return nil
	}
	raw := s.current(true, it)
	var th threat
	if json.Unmarshal(raw, &th) != nil {
		return nil
	}
	var out []string
	for _, m := range th.MitigationStatus {
		out = append(out, m.Action)
	}
	return out
}

// Blocklist returns the blocklist entries (restrictions of type black_hash)
// in creation order.
func (s *Sim) Blocklist() []Restriction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.restrictions)
}

// listRestrictions implements GET restrictions?type=&value=&osTypes=.
func (s *Sim) listRestrictions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var oses []string
	for _, v := range q["osTypes"] {
		oses = append(oses, jsonfield.SplitList(v)...)
	}
	data := []Restriction{}
	s.mu.Lock()
	for _, e := range s.restrictions {
		if (q.Get("type") == "" || q.Get("type") == e.Type) && (q.Get("value") == "" || strings.EqualFold(q.Get("value"), e.Value)) &&
			(len(oses) == 0 || slices.Contains(oses, e.OSType)) {
			data = append(data, e)
		}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"data": data, "pagination": map[string]any{"nextCursor": nil, "totalItems": len(data)},
	})
}

var restrictionOS = []string{"windows", "windows_legacy", "macos", "linux"}

// createRestriction implements POST restrictions with
// {"data":{"type":"black_hash","value":<sha1>,"osType":…,"description":…},
// "filter":{"siteIds":[…]} or {"tenant":true}}. The same value, osType and
// scope twice is refused with 409 [the real console's answer is
// unverified]. The answer is {"data":[entry]}.
func (s *Sim) createRestriction(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data   Restriction      `json:"data"`
		Filter RestrictionScope `json:"filter"`
	}
	if err := simkit.ReadJSON(w, r, &body); err != nil {
		s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", err.Error())
		return
	}
	e := body.Data
	e.Value = strings.ToLower(e.Value)
	switch {
	case e.Type != "black_hash":
		s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", "the simulator takes type black_hash only")
		return
	case len(e.Value) != 40 || strings.Trim(e.Value, "0123456789abcdef") != "":
		s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", "value must be a SHA-1")
		return
	case !slices.Contains(restrictionOS, e.OSType):
		s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", fmt.Sprintf("osType must be one of %v", restrictionOS))
		return
	case !body.Filter.Tenant && len(body.Filter.SiteIDs)+len(body.Filter.AccountIDs)+len(body.Filter.GroupIDs) == 0:
		s.fail(w, http.StatusBadRequest, 4000010, "Validation Error", "filter must name a scope (siteIds, accountIds, groupIds or tenant)")
		return
	}
	key := r.Header.Get(IdempotencyHeader)
	s.mu.Lock()
	dup := slices.ContainsFunc(s.restrictions, func(old Restriction) bool {
		return old.Value == e.Value && old.OSType == e.OSType && scopeEqual(old.Scope, body.Filter)
	})
	if dup {
		s.ledger.Record(simkit.Entry{At: s.now(), HostID: e.Value, Action: "blocklist", Key: key, Status: http.StatusConflict})
		s.mu.Unlock()
		s.fail(w, http.StatusConflict, 4090010, "Already Exists", "the hash is already in the blocklist for this scope")
		return
	}
	s.seq++
	e.ID = strconv.FormatInt(1_950_000_000_000_000_000+int64(s.seq)*1_000_003, 10)
	e.Scope, e.CreatedAt = body.Filter, timeText(s.now())
	e.ScopeName = "Global"
	if len(body.Filter.SiteIDs) > 0 {
		e.ScopeName = "site " + strings.Join(body.Filter.SiteIDs, ",")
	}
	s.restrictions = append(s.restrictions, e)
	s.ledger.Record(simkit.Entry{At: s.now(), HostID: e.Value, Action: "blocklist", Key: key, Status: http.StatusOK})
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"data": []Restriction{e}})
}

func scopeEqual(a, b RestrictionScope) bool {
	return a.Tenant == b.Tenant && slices.Equal(a.SiteIDs, b.SiteIDs) && slices.Equal(a.AccountIDs, b.AccountIDs) && slices.Equal(a.GroupIDs, b.GroupIDs)
}
