package carbonblack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
)

// Responder quarantines devices and releases them through POST
// /appservices/v6/orgs/{org_key}/device_actions (action_type QUARANTINE,
// toggle ON or OFF), and bans hashes through reputation overrides. Carbon
// Black's device actions take no idempotency key, so the Responder reads
// the device's quarantined flag first (devices/_search) and skips the call
// when the device is already in the asked state: repeating an action is a
// no-op.
type Responder struct {
	api *api
}

var (
	_ connector.Responder = (*Responder)(nil)
	_ connector.Actor     = (*Responder)(nil)
)

// NewResponder returns a Responder for the environment at cfg.URL;
// cfg.ClientID is "<org key>/<API id>" and cfg.ClientSecret the API secret
// key.
func NewResponder(cfg connector.Config) (*Responder, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Responder{api: a}, nil
}

// Isolate quarantines the device t.HostID (toggle ON).
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.quarantine(ctx, t, true)
}

// Release lifts the device's quarantine (toggle OFF).
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.quarantine(ctx, t, false)
}

// deviceAction is the device actions body.
type deviceAction struct {
	ActionType string   `json:"action_type"`
	DeviceID   []string `json:"device_id"`
	Options    struct {
		Toggle string `json:"toggle"`
	} `json:"options"`
}

func (r *Responder) quarantine(ctx context.Context, t connector.Target, on bool) (connector.Result, error) {
	verb, toggle, state := "isolate", "ON", "quarantined"
	if !on {
		verb, toggle, state = "release", "OFF", "not quarantined"
	}
	prefix := fmt.Sprintf("carbonblack: %s %s", verb, hostLabel(t))
	if _, err := strconv.ParseUint(t.HostID, 10, 63); err != nil {
		return connector.Result{}, fmt.Errorf("%s: device id %q is not a Carbon Black device_id (an integer)", prefix, t.HostID)
	}
	quarantined, err := r.quarantined(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	if quarantined == on {
		return connector.Result{Already: true, Detail: fmt.Sprintf("device %s is already %s", hostLabel(t), state)}, nil
	}
	body := deviceAction{ActionType: "QUARANTINE", DeviceID: []string{t.HostID}}
	body.Options.Toggle = toggle
	if _, err := r.api.call(ctx, http.MethodPost, pathDeviceAction, body, PermQuarantine); err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	return connector.Result{Detail: fmt.Sprintf("QUARANTINE %s accepted for device %s", toggle, hostLabel(t))}, nil
}

// quarantined reads the device's quarantined flag through devices/_search
// with criteria id.
func (r *Responder) quarantined(ctx context.Context, deviceID string) (bool, error) {
	id, _ := strconv.ParseInt(deviceID, 10, 64)
	body := map[string]any{"criteria": map[string]any{"id": []int64{id}}, "rows": 1}
	b, err := r.api.call(ctx, http.MethodPost, pathDeviceSearch, body, PermDevicesRead)
	if err != nil {
		return false, err
	}
	var res struct {
		Results []struct {
			ID          json.Number `json:"id"`
			Quarantined bool        `json:"quarantined"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return false, fmt.Errorf("devices answer is not {\"results\":[…]}: %w", err)
	}
	for _, d := range res.Results {
		if d.ID.String() == deviceID {
			return d.Quarantined, nil
		}
	}
	return false, &httpapi.Error{Status: http.StatusNotFound, Kind: ErrNotFound, Text: fmt.Sprintf("no device with id %s", deviceID)}
}

// Actions implements connector.Actor: Carbon Black bans a hash through a
// reputation override. (Process kill needs a Live Response session; it is
// not offered.)
func (r *Responder) Actions() []string { return []string{connector.ActBlocklistHash} }

// Do implements connector.Actor.
func (r *Responder) Do(ctx context.Context, t connector.Target, a connector.Act, key string) (connector.Result, error) {
	if a.Kind != connector.ActBlocklistHash {
		return connector.Result{}, fmt.Errorf("carbonblack: %s: %w", a.Kind, connector.ErrUnsupported)
	}
	return r.banHash(ctx, a, key)
}

// override is a reputation override as the API sends and takes it.
type override struct {
	ID           string `json:"id,omitempty"`
	Description  string `json:"description,omitempty"`
	OverrideList string `json:"override_list"`
	OverrideType string `json:"override_type"`
	SHA256Hash   string `json:"sha256_hash"`
	Filename     string `json:"filename,omitempty"`
}

// banHash adds the SHA-256 to the org's banned list (override_list
// BLACK_LIST, override_type SHA256) unless an override bans it already.
// The description carries bannin's key, so a ban can be traced to the
// action that made it.
func (r *Responder) banHash(ctx context.Context, a connector.Act, key string) (connector.Result, error) {
	sha := strings.ToLower(strings.TrimSpace(a.SHA256))
	prefix := "carbonblack: ban hash " + sha
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return connector.Result{}, fmt.Errorf("carbonblack: ban hash: %q is not a SHA-256", a.SHA256)
	}
	existing, err := r.findBan(ctx, sha)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	if existing != "" {
		return connector.Result{Already: true, Detail: "hash already banned by reputation override " + existing}, nil
	}
	desc := strings.TrimSpace(a.Comment)
	if key != "" {
		desc = strings.TrimSpace(desc + " [bannin " + key + "]")
	}
	o := override{Description: desc, OverrideList: "BLACK_LIST", OverrideType: "SHA256", SHA256Hash: sha, Filename: alert.FileName(a.Path)}
	b, err := r.api.call(ctx, http.MethodPost, pathOverrides, o, PermReputationsAdd)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	var made override
	if err := json.Unmarshal(b, &made); err != nil || made.ID == "" {
		return connector.Result{}, fmt.Errorf("%s: answer is not a reputation override with an id", prefix)
	}
	return connector.Result{Detail: "hash banned by reputation override " + made.ID}, nil
}

// findBan returns the id of a BLACK_LIST override for sha, or "".
func (r *Responder) findBan(ctx context.Context, sha string) (string, error) {
	body := map[string]any{
		"criteria": map[string]any{"override_list": "BLACK_LIST", "override_type": "SHA256"},
		"query":    sha,
		"rows":     100,
	}
	b, err := r.api.call(ctx, http.MethodPost, pathOverrideFind, body, PermReputationsRead)
	if err != nil {
		return "", err
	}
	var res struct {
		Results []override `json:"results"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("overrides answer is not {\"results\":[…]}: %w", err)
	}
	for _, o := range res.Results {
		if strings.EqualFold(o.SHA256Hash, sha) && o.OverrideList == "BLACK_LIST" {
			return o.ID, nil
		}
	}
	return "", nil
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
