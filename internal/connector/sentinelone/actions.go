package sentinelone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
)

// ErrNotApplied marks a mitigation or blocklist call the console accepted
// but applied to nothing ({"data":{"affected":0}}): the threat's agent may
// not offer the action (rollback is Windows only, remediate is not offered
// on Linux), or the threat is gone from the API user's scope.
var ErrNotApplied = errors.New("sentinelone: the console applied the action to nothing")

// Mitigation actions of POST /web/api/v2.1/threats/mitigate/{action}.
const (
	MitigateKill       = "kill"
	MitigateQuarantine = "quarantine"
	MitigateRemediate  = "remediate"
	MitigateRollback   = "rollback-remediation"
)

// mitigateActs maps bannin's action kinds onto SentinelOne's mitigation
// actions.
var mitigateActs = map[string]string{
	connector.ActKillProcess:    MitigateKill,
	connector.ActQuarantineFile: MitigateQuarantine,
	connector.ActRemediate:      MitigateRemediate,
	connector.ActRollback:       MitigateRollback,
}

// mitigatePerms names the permission each mitigation action needs.
var mitigatePerms = map[string]string{
	MitigateKill:       PermThreatsKill,
	MitigateQuarantine: PermThreatsQuarantine,
	MitigateRemediate:  PermThreatsRemediate,
	MitigateRollback:   PermThreatsRollback,
}

// statusAction is how a threat's mitigationStatus[].action names a
// mitigation once run (kill, quarantine and remediate as seen in threats;
// "rollback" is [unverified]).
var statusAction = map[string]string{
	MitigateKill:       "kill",
	MitigateQuarantine: "quarantine",
	MitigateRemediate:  "remediate",
	MitigateRollback:   "rollback",
}

var _ connector.Actor = (*Responder)(nil)

// Actions implements connector.Actor.
func (r *Responder) Actions() []string {
	return []string{connector.ActKillProcess, connector.ActQuarantineFile, connector.ActBlocklistHash,
		connector.ActRemediate, connector.ActRollback}
}

// Do implements connector.Actor. kill_process, quarantine_file, remediate
// and rollback run SentinelOne's mitigation of threat a.ThreatID (POST
// /web/api/v2.1/threats/mitigate/{kill|quarantine|remediate|
// rollback-remediation} with {"filter":{"ids":[id]}}); the threat is read
// first, and one whose mitigationStatus already shows the action (done or
// pending) is Already. blocklist_hash adds the SHA-1 of threat a.ThreatID
// (or a.SHA256 when it holds a SHA-1) to the blocklist (POST
// /web/api/v2.1/restrictions, type black_hash) for the threat's site, or the
// whole tenant when no site is known; a hash already there is Already.
func (r *Responder) Do(ctx context.Context, t connector.Target, a connector.Act, key string) (connector.Result, error) {
	if action, ok := mitigateActs[a.Kind]; ok {
		return r.mitigate(ctx, a, action, key)
	}
	if a.Kind == connector.ActBlocklistHash {
		return r.blocklist(ctx, a, key)
	}
	return connector.Result{}, fmt.Errorf("sentinelone: %q: %w (SentinelOne offers %v)", a.Kind, connector.ErrUnsupported, r.Actions())
}

// threat is what the actions read of a threat.
type threat struct {
	ID               string `json:"id"`
	MitigationStatus []struct {
		Action string `json:"action"`
		Status string `json:"status"`
	} `json:"mitigationStatus"`
	ThreatInfo struct {
		ThreatID         string `json:"threatId"`
		SHA1             string `json:"sha1"`
		SHA256           string `json:"sha256"`
		MitigationStatus string `json:"mitigationStatus"`
	} `json:"threatInfo"`
	AgentRealtimeInfo struct {
		AgentOsType string `json:"agentOsType"`
		SiteID      string `json:"siteId"`
	} `json:"agentRealtimeInfo"`
	AgentDetectionInfo struct {
		SiteID string `json:"siteId"`
	} `json:"agentDetectionInfo"`
}

// shows reports whether the threat's mitigationStatus (newest first, as
// the console lists it) shows action done or on its way. For quarantine,
// the newest of quarantine and unquarantine decides.
func (th threat) shows(action string) (bool, string) {
	want := statusAction[action]
	for _, m := range th.MitigationStatus {
		act, st := strings.ToLower(m.Action), strings.ToLower(m.Status)
		if want == "quarantine" && act == "unquarantine" && st == "success" {
			return false, ""
		}
		if act == want && (st == "success" || st == "pending") {
			return true, st
		}
	}
	return false, ""
}

// readThreat reads one threat through GET /web/api/v2.1/threats?ids=.
func (r *Responder) readThreat(ctx context.Context, id string) (threat, error) {
	b, err := r.api.call(ctx, http.MethodGet, pathThreats, url.Values{"ids": {id}}, nil, "")
	if err != nil {
		return threat{}, err
	}
	var res struct {
		Data []threat `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return threat{}, fmt.Errorf("threats answer is not a list: %w", err)
	}
	for _, th := range res.Data {
		if th.ID == id || (th.ID == "" && th.ThreatInfo.ThreatID == id) {
			return th, nil
		}
	}
	return threat{}, &httpapi.Error{Status: http.StatusNotFound, Kind: ErrNotFound, Text: fmt.Sprintf("no threat with id %s", id)}
}

// affected reads {"data":{"affected":N}}.
func affected(b []byte) (int, error) {
	var res struct {
		Data struct {
			Affected *int `json:"affected"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.Data.Affected == nil {
		return 0, fmt.Errorf("answer is not {\"data\":{\"affected\":N}}: %s", truncate(b))
	}
	return *res.Data.Affected, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func (r *Responder) mitigate(ctx context.Context, a connector.Act, action, key string) (connector.Result, error) {
	prefix := fmt.Sprintf("sentinelone: %s threat %s", action, a.ThreatID)
	if a.ThreatID == "" {
		return connector.Result{}, fmt.Errorf("sentinelone: %s: no threat id (Act.ThreatID is the SentinelOne threat id)", action)
	}
	th, err := r.readThreat(ctx, a.ThreatID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	if done, st := th.shows(action); done {
		return connector.Result{Already: true, Detail: fmt.Sprintf("threat %s: %s is already %s", a.ThreatID, statusAction[action], st)}, nil
	}
	var body actionBody
	body.Filter.IDs = []string{a.ThreatID}
	b, err := r.api.call(ctx, http.MethodPost, pathMitigate+action, nil, body, key)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	n, err := affected(b)
	if err != nil {
		return connector.Result{}, fmt.Errorf("%s: %v", prefix, err)
	}
	if n == 0 {
		return connector.Result{}, fmt.Errorf("%s: %w (agent OS %q; rollback is Windows only, remediate not offered on Linux)",
			prefix, ErrNotApplied, th.AgentRealtimeInfo.AgentOsType)
	}
	return connector.Result{Detail: fmt.Sprintf("%s requested for threat %s (was %s)", action, a.ThreatID, orDefault(th.ThreatInfo.MitigationStatus, "unknown"))}, nil
}

// Restriction is an item of /web/api/v2.1/restrictions (a blocklist
// entry).
type Restriction struct {
	ID          string           `json:"id,omitempty"`
	Type        string           `json:"type"`
	Value       string           `json:"value"`
	OSType      string           `json:"osType"`
	Description string           `json:"description,omitempty"`
	Source      string           `json:"source,omitempty"`
	Scope       RestrictionScope `json:"scope,omitzero"`
	ScopeName   string           `json:"scopeName,omitempty"`
	CreatedAt   string           `json:"createdAt,omitempty"`
}

// RestrictionScope is where a blocklist entry applies: the filter of the
// create call, and the scope of a listed entry.
type RestrictionScope struct {
	SiteIDs    []string `json:"siteIds,omitempty"`
	AccountIDs []string `json:"accountIds,omitempty"`
	GroupIDs   []string `json:"groupIds,omitempty"`
	Tenant     bool     `json:"tenant,omitempty"`
}

// covers reports whether an entry of scope s applies on site (any site
// when site is "").
func (s RestrictionScope) covers(site string) bool {
	if s.Tenant || len(s.AccountIDs) > 0 || (len(s.SiteIDs) == 0 && len(s.GroupIDs) == 0) {
		return true
	}
	for _, id := range s.SiteIDs {
		if site == "" || id == site {
			return true
		}
	}
	return false
}

// KeyTag starts the idempotency key in a blocklist entry's description.
const KeyTag = "bannin-key:"

func (r *Responder) blocklist(ctx context.Context, a connector.Act, key string) (connector.Result, error) {
	sha1, osType, site := strings.ToLower(strings.TrimSpace(a.SHA256)), "windows", ""
	if a.ThreatID != "" {
		th, err := r.readThreat(ctx, a.ThreatID)
		if err != nil {
			return connector.Result{}, wrap("sentinelone: block hash of threat "+a.ThreatID, err)
		}
		// A hash given with the threat must be the threat's: blocking
		// another file estate-wide would be a worse mistake than refusing.
		if given := sha1; given != "" && !strings.EqualFold(given, th.ThreatInfo.SHA1) && !strings.EqualFold(given, th.ThreatInfo.SHA256) {
			return connector.Result{}, fmt.Errorf("sentinelone: block hash of threat %s: hash %s is not the threat's file (sha1 %s, sha256 %s)",
				a.ThreatID, given, th.ThreatInfo.SHA1, orDefault(th.ThreatInfo.SHA256, "none"))
		}
		sha1 = strings.ToLower(th.ThreatInfo.SHA1)
		if os := strings.ToLower(th.AgentRealtimeInfo.AgentOsType); os != "" {
			osType = os
		}
		site = orDefault(th.AgentRealtimeInfo.SiteID, th.AgentDetectionInfo.SiteID)
	}
	if len(sha1) != 40 || strings.Trim(sha1, "0123456789abcdef") != "" {
		return connector.Result{}, fmt.Errorf("sentinelone: block hash: SentinelOne's blocklist takes a SHA-1: give the threat id (Act.ThreatID) or a SHA-1, not %q", a.SHA256)
	}
	prefix := "sentinelone: block hash " + sha1
	q := url.Values{"type": {"black_hash"}, "value": {sha1}, "osTypes": {osType}}
	b, err := r.api.call(ctx, http.MethodGet, pathRestrictions, q, nil, "")
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	var list struct {
		Data []Restriction `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return connector.Result{}, fmt.Errorf("%s: restrictions answer is not a list: %v", prefix, err)
	}
	for _, e := range list.Data {
		if strings.EqualFold(e.Value, sha1) && strings.EqualFold(e.OSType, osType) && e.Scope.covers(site) {
			return connector.Result{Already: true, Detail: fmt.Sprintf("hash %s is already blocked on %s (entry %s, %s)", sha1, osType, e.ID, orDefault(e.ScopeName, "scope"))}, nil
		}
	}
	scope := RestrictionScope{Tenant: true}
	if site != "" {
		scope = RestrictionScope{SiteIDs: []string{site}}
	}
	desc := orDefault(a.Comment, "blocked by bannin")
	if key != "" {
		desc += " [" + KeyTag + key + "]"
	}
	body := map[string]any{
		"data":   Restriction{Type: "black_hash", Value: sha1, OSType: osType, Description: desc, Source: "bannin"},
		"filter": scope,
	}
	_, err = r.api.call(ctx, http.MethodPost, pathRestrictions, nil, body, key)
	var ae *httpapi.Error
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return connector.Result{Already: true, Detail: fmt.Sprintf("hash %s is already blocked on %s", sha1, osType)}, nil
	}
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	where := "the whole tenant"
	if site != "" {
		where = "site " + site
	}
	return connector.Result{Detail: fmt.Sprintf("hash %s blocked on %s endpoints of %s", sha1, osType, where)}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
