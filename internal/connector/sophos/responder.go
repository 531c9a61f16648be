package sophos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
)

// KeyTag marks bannin's idempotency key inside the comment (or message) of
// a containment call or action. Sophos keeps the comment with the
// endpoint's isolation state; the simulator counts calls by the key.
const KeyTag = "bannin-key:"

// Alert actions that clean up a threat, in the order Remediate prefers
// them, as the Common API's allowedActions names them.
var cleanActions = []string{"cleanPua", "cleanVirus"}

// Responder isolates endpoints and releases them through PATCH
// /endpoint/v1/endpoints/{id}/isolation, reading the endpoint's isolation
// state first and skipping the call when it is already as asked, so
// repeating an action is a no-op. It is also a connector.Actor: remediate
// (Common API alert action cleanPua/cleanVirus) and blocklist_hash
// (Endpoint API blocked item of type sha256).
type Responder struct {
	api *api
}

var (
	_ connector.Responder = (*Responder)(nil)
	_ connector.Actor     = (*Responder)(nil)
)

// NewResponder returns a Responder for the tenant whose API credential is
// cfg.ClientID and cfg.ClientSecret; cfg.URL is the global API host.
func NewResponder(cfg connector.Config) (*Responder, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Responder{api: a}, nil
}

// Isolate isolates the endpoint t.HostID (data.endpoint_id of an alert).
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.setIsolation(ctx, t, key, true)
}

// Release ends the isolation of the endpoint t.HostID.
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.setIsolation(ctx, t, key, false)
}

// isolation is the endpoint's isolation state as Sophos reports and takes
// it.
type isolation struct {
	Enabled bool   `json:"enabled"`
	Comment string `json:"comment,omitempty"`
}

func (r *Responder) setIsolation(ctx context.Context, t connector.Target, key string, on bool) (connector.Result, error) {
	verb := map[bool]string{true: "isolate", false: "release"}[on]
	prefix := fmt.Sprintf("sophos: %s %s", verb, hostLabel(t))
	if t.HostID == "" {
		return connector.Result{}, fmt.Errorf("%s: no endpoint id: the isolation API acts on Sophos endpoint ids (data.endpoint_id)", prefix)
	}
	path := pathEndpoints + "/" + url.PathEscape(t.HostID) + "/isolation"
	b, err := r.api.call(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	var st isolation
	if err := json.Unmarshal(b, &st); err != nil {
		return connector.Result{}, fmt.Errorf("%s: isolation state is not {\"enabled\":bool}: %v", prefix, err)
	}
	if st.Enabled == on {
		return connector.Result{Already: true, Detail: fmt.Sprintf("endpoint %s isolation is already %s", hostLabel(t), onOff(on))}, nil
	}
	body := isolation{Enabled: on, Comment: comment("bannin "+verb, key)}
	if b, err = r.api.call(ctx, http.MethodPatch, path, nil, body); err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	if err := json.Unmarshal(b, &st); err == nil && st.Enabled != on {
		return connector.Result{}, fmt.Errorf("%s: Sophos answered with isolation %s", prefix, onOff(st.Enabled))
	}
	return connector.Result{Detail: fmt.Sprintf("isolation %s accepted for endpoint %s", onOff(on), hostLabel(t))}, nil
}

// BulkResult is the outcome of IsolateMany.
type BulkResult struct {
	Accepted []string // endpoint ids Sophos answered for
	Missing  []string // endpoint ids asked for and absent from the answer
}

// IsolateMany sets isolation on many endpoints in one call (POST
// /endpoint/v1/endpoints/isolation). Sophos answers with the endpoints it
// acted on; ids it does not know are absent, which is reported in Missing
// rather than failing the call. It does not read the state first: use
// Isolate for one endpoint.
func (r *Responder) IsolateMany(ctx context.Context, ids []string, on bool, key string) (BulkResult, error) {
	if len(ids) == 0 {
		return BulkResult{}, errors.New("sophos: bulk isolation: no endpoint ids")
	}
	body := struct {
		Enabled bool     `json:"enabled"`
		Comment string   `json:"comment"`
		IDs     []string `json:"ids"`
	}{on, comment("bannin bulk isolation", key), ids}
	b, err := r.api.call(ctx, http.MethodPost, pathBulkIsolate, nil, body)
	if err != nil {
		return BulkResult{}, connector.Rewrap("sophos: bulk isolation", err)
	}
	var res struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return BulkResult{}, fmt.Errorf("sophos: bulk isolation: answer is not {\"items\":[…]}: %v", err)
	}
	var out BulkResult
	for _, it := range res.Items {
		out.Accepted = append(out.Accepted, it.ID)
	}
	for _, id := range ids {
		if !slices.Contains(out.Accepted, id) {
			out.Missing = append(out.Missing, id)
		}
	}
	return out, nil
}

// Actions implements connector.Actor.
func (r *Responder) Actions() []string {
	return []string{connector.ActRemediate, connector.ActBlocklistHash}
}

// Do implements connector.Actor.
func (r *Responder) Do(ctx context.Context, t connector.Target, a connector.Act, key string) (connector.Result, error) {
	switch a.Kind {
	case connector.ActRemediate:
		return r.remediate(ctx, a, key)
	case connector.ActBlocklistHash:
		return r.blocklist(ctx, a, key)
	}
	return connector.Result{}, fmt.Errorf("sophos: %q: %w (Sophos offers %v)", a.Kind, connector.ErrUnsupported, r.Actions())
}

// remediate asks Sophos to clean up the threat of alert a.ThreatID, with
// the clean-up action the alert offers (allowedActions).
func (r *Responder) remediate(ctx context.Context, a connector.Act, key string) (connector.Result, error) {
	prefix := "sophos: remediate alert " + a.ThreatID
	if a.ThreatID == "" {
		return connector.Result{}, errors.New("sophos: remediate: no alert id (Act.ThreatID is the SIEM alert id)")
	}
	path := pathAlerts + "/" + url.PathEscape(a.ThreatID)
	b, err := r.api.call(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	var al struct {
		AllowedActions []string `json:"allowedActions"`
	}
	if err := json.Unmarshal(b, &al); err != nil {
		return connector.Result{}, fmt.Errorf("%s: alert answer is not an object: %v", prefix, err)
	}
	i := slices.IndexFunc(cleanActions, func(c string) bool { return slices.Contains(al.AllowedActions, c) })
	if i < 0 {
		return connector.Result{}, fmt.Errorf("%s: %w: the alert offers no clean-up (allowedActions %v)", prefix, connector.ErrUnsupported, al.AllowedActions)
	}
	body := map[string]string{"action": cleanActions[i], "message": comment(orDefault(a.Comment, "bannin remediate"), key)}
	if _, err := r.api.call(ctx, http.MethodPost, path+"/actions", nil, body); err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	return connector.Result{Detail: fmt.Sprintf("%s requested for alert %s", cleanActions[i], a.ThreatID)}, nil
}

// blocklist adds a.SHA256 to the tenant's blocked items. A hash already
// blocked (HTTP 409) is Already.
func (r *Responder) blocklist(ctx context.Context, a connector.Act, key string) (connector.Result, error) {
	h := strings.ToLower(strings.TrimSpace(a.SHA256))
	prefix := "sophos: block hash " + h
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return connector.Result{}, fmt.Errorf("sophos: block hash: %q is not a SHA-256", a.SHA256)
	}
	body := map[string]any{
		"type":       "sha256",
		"properties": map[string]string{"sha256": h},
		"comment":    comment(orDefault(a.Comment, "bannin blocklist"), key),
	}
	_, err := r.api.call(ctx, http.MethodPost, pathBlockedItems, nil, body)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusConflict {
		return connector.Result{Already: true, Detail: "hash " + h + " is already blocked"}, nil
	}
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	return connector.Result{Detail: "hash " + h + " blocked"}, nil
}

// comment appends the idempotency key to a comment.
func comment(text, key string) string {
	if key == "" {
		return text
	}
	return text + " [" + KeyTag + key + "]"
}

// KeyOf reads the idempotency key back from a comment, or "".
func KeyOf(comment string) string {
	i := strings.Index(comment, "["+KeyTag)
	if i < 0 {
		return ""
	}
	rest := comment[i+1+len(KeyTag):]
	if j := strings.IndexByte(rest, ']'); j >= 0 {
		return rest[:j]
	}
	return ""
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func hostLabel(t connector.Target) string {
	switch {
	case t.HostName != "" && t.HostID != "":
		return t.HostName + " (" + t.HostID + ")"
	case t.HostName != "":
		return t.HostName
	}
	return t.HostID
}
