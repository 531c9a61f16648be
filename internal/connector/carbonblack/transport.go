package carbonblack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks a 401: the API key (secret and id) is wrong or
	// was deleted or regenerated. API keys do not expire and cannot be
	// refreshed by the client: a console user must issue a new one.
	ErrUnauthorized = errors.New("carbonblack: unauthorized")
	// ErrMissingPermission marks a 403: the key's access level lacks a
	// permission.
	ErrMissingPermission = errors.New("carbonblack: API key's access level lacks a permission")
	// ErrNotFound marks a 404 or a device id the console does not know.
	ErrNotFound = errors.New("carbonblack: not found")
)

// API paths; %s is the org key.
const (
	pathAlertSearch  = "/api/alerts/v7/orgs/%s/alerts/_search"
	pathDeviceSearch = "/appservices/v6/orgs/%s/devices/_search"
	pathDeviceAction = "/appservices/v6/orgs/%s/device_actions"
	pathOverrides    = "/appservices/v6/orgs/%s/reputations/overrides"
	pathOverrideFind = "/appservices/v6/orgs/%s/reputations/overrides/_search"
)

// Permissions of a Carbon Black Cloud API access level (Settings > API
// Access > Access Levels: notation and permission) that the calls need, as
// a 403 names them.
const (
	PermAlertsRead      = "org.alerts: READ"
	PermDevicesRead     = "device: READ"
	PermQuarantine      = "device.quarantine: EXECUTE"
	PermReputationsRead = "org.reputations: READ"
	PermReputationsAdd  = "org.reputations: CREATE"
)

// AuthHeader carries the API key as "<API secret key>/<API id>".
const AuthHeader = "X-Auth-Token"

// api sends authenticated calls to one Carbon Black Cloud environment and
// org, and maps failures onto bannin's errors.
type api struct {
	*httpapi.Client
	orgKey string
}

// newAPI reads a Config: URL is the environment's API host (e.g.
// https://defense.conferdeploy.net), ClientID "<org key>/<API id>" and
// ClientSecret the API secret key.
func newAPI(cfg connector.Config) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("carbonblack: Config.URL (the environment, e.g. https://defense.conferdeploy.net) is required")
	}
	org, apiID, ok := strings.Cut(strings.TrimSpace(cfg.ClientID), "/")
	org, apiID = strings.TrimSpace(org), strings.TrimSpace(apiID)
	if !ok || org == "" || apiID == "" || strings.Contains(apiID, "/") {
		return nil, errors.New("carbonblack: Config.ClientID must be \"<org key>/<API id>\" (Settings > API Access in the console)")
	}
	if strings.ContainsAny(org, "/?#% ") {
		return nil, fmt.Errorf("carbonblack: org key %q is not a Carbon Black org key", org)
	}
	secret := strings.TrimSpace(cfg.ClientSecret)
	if secret == "" {
		return nil, errors.New("carbonblack: Config.ClientSecret (the API secret key) is required")
	}
	u, err := httpapi.BaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("carbonblack: Config.URL %w", err)
	}
	return &api{orgKey: org, Client: &httpapi.Client{
		Vendor: "carbonblack", Base: u, HTTP: cfg.HTTPClient, Now: time.Now,
		Auth:    httpapi.APIKey{Header: AuthHeader, Value: secret + "/" + apiID},
		Kinds:   map[int]error{401: ErrUnauthorized, 403: ErrMissingPermission, 404: ErrNotFound},
		Message: errorMessage,
		Classify: func(e *httpapi.Error) {
			if e.Status == http.StatusUnauthorized {
				e.Hint = "the API key (X-Auth-Token <secret>/<API id>) was refused: " +
					"check the org key, API id and secret, or issue a new key in Settings > API Access"
			}
		},
	}}, nil
}

// call sends one JSON request to pathFmt (with the org key filled in) and
// returns the body of a 2xx answer. perm names the permission the call
// needs, for the 403 message.
func (a *api) call(ctx context.Context, method, pathFmt string, body any, perm string) ([]byte, error) {
	resp, err := a.Do(ctx, httpapi.Request{Method: method, Path: fmt.Sprintf(pathFmt, httpapi.Segment(a.orgKey)),
		Where: method + " " + fmt.Sprintf(pathFmt, "{org_key}"), JSON: body})
	var e *httpapi.Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		e.Hint = fmt.Sprintf("the API key's access level needs the %q permission (Settings > API Access > Access Levels)", perm)
	}
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// errorMessage reads Carbon Black's {"success":false,"message":…,
// "error_code":…} error body.
func errorMessage(_ int, _ http.Header, b []byte) (string, string) {
	var env struct {
		Message   string `json:"message"`
		ErrorCode string `json:"error_code"`
	}
	if json.Unmarshal(b, &env) != nil || (env.Message == "" && env.ErrorCode == "") {
		return "", ""
	}
	switch {
	case env.Message == "":
		return env.ErrorCode, ""
	case env.ErrorCode == "":
		return env.Message, ""
	}
	return env.Message + " (" + env.ErrorCode + ")", ""
}

// wrap prefixes an error from call with what was being done, keeping its
// class (retryable or not).
func wrap(prefix string, err error) error { return connector.Rewrap(prefix, err) }
