package sentinelone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks a 401: the API token is wrong, revoked or
	// expired. SentinelOne tokens cannot be refreshed by the client; a user
	// must generate a new one in the console.
	ErrUnauthorized = errors.New("sentinelone: unauthorized")
	// ErrMissingPermission marks a 403: the token's user lacks a permission.
	ErrMissingPermission = errors.New("sentinelone: API user lacks a permission")
	// ErrNotFound marks a 404 or an agent id the console does not know.
	ErrNotFound = errors.New("sentinelone: not found")
)

// IdempotencyHeader carries bannin's idempotency key on containment calls.
// SentinelOne ignores it; the simulator counts calls by it.
const IdempotencyHeader = httpapi.IdempotencyHeader

// API paths.
const (
	pathThreats    = "/web/api/v2.1/threats"
	pathAlerts     = "/web/api/v2.1/cloud-detection/alerts"
	pathAgents     = "/web/api/v2.1/agents"
	pathDisconnect = "/web/api/v2.1/agents/actions/disconnect"
	pathConnect    = "/web/api/v2.1/agents/actions/connect"
	// pathMitigate is followed by the action: kill, quarantine,
	// remediate, rollback-remediation.
	pathMitigate     = "/web/api/v2.1/threats/mitigate/"
	pathRestrictions = "/web/api/v2.1/restrictions"
)

// Console permissions (role settings) the endpoints need, as a 403 names
// them.
const (
	PermThreatsView      = "Threats: View"
	PermAlertsView       = "STAR Custom Rules / Alerts: View"
	PermEndpointsView    = "Endpoints: View"
	PermEndpointsDisconn = "Endpoints: Disconnect From Network"
	PermEndpointsReconn  = "Endpoints: Reconnect To Network"
	// The threat and blocklist permission names are as bannin expects
	// them; the console's role editor may word them differently
	// [unverified].
	PermThreatsKill       = "Threats: Kill"
	PermThreatsQuarantine = "Threats: Quarantine"
	PermThreatsRemediate  = "Threats: Remediate"
	PermThreatsRollback   = "Threats: Rollback"
	PermBlocklistView     = "Blocklist: View"
	PermBlocklistCreate   = "Blocklist: Create"
	permissionUnknownName = "required"
	authScheme            = "ApiToken "
)

// api sends authenticated calls to one console and maps failures onto
// bannin's errors.
type api struct{ *httpapi.Client }

func newAPI(cfg connector.Config) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("sentinelone: Config.URL (the console, e.g. https://<tenant>.sentinelone.net) is required")
	}
	if strings.TrimSpace(cfg.ClientSecret) == "" {
		return nil, errors.New("sentinelone: Config.ClientSecret (an API token) is required")
	}
	u, err := httpapi.BaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sentinelone: Config.URL %w", err)
	}
	return &api{&httpapi.Client{
		Vendor: "sentinelone", Base: u, HTTP: cfg.HTTPClient, Now: time.Now,
		Auth:     httpapi.APIKey{Header: "Authorization", Value: authScheme + strings.TrimSpace(cfg.ClientSecret)},
		Kinds:    map[int]error{401: ErrUnauthorized, 403: ErrMissingPermission, 404: ErrNotFound},
		Message:  errorMessage,
		Classify: classifyError,
	}}, nil
}

// call sends one request and returns the body of a 2xx answer. body, when
// not nil, is sent as JSON; key, when set, goes in IdempotencyHeader.
func (a *api) call(ctx context.Context, method, path string, q url.Values, body any, key string) ([]byte, error) {
	resp, err := a.Do(ctx, httpapi.Request{Method: method, Path: path, Query: q, JSON: body, Key: key})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// classifyError says what to do about a 401 (a new token) or a 403 (the
// permission the endpoint needs).
func classifyError(e *httpapi.Error) {
	switch e.Status {
	case http.StatusUnauthorized:
		e.Hint = "the API token was refused; it may have expired: generate a new one in the console"
	case http.StatusForbidden:
		e.Hint = fmt.Sprintf("the API user's role needs the %q permission", permissionFor(e.Method, e.Path))
	}
}

// errorMessage reads SentinelOne's {"errors":[{"code","title","detail"}]}.
func errorMessage(_ int, _ http.Header, b []byte) (string, string) {
	var env struct {
		Errors []struct {
			Code   int    `json:"code"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &env) != nil || len(env.Errors) == 0 {
		return "", ""
	}
	e := env.Errors[0]
	msg := e.Title
	if e.Detail != "" {
		if msg != "" {
			msg += ": "
		}
		msg += e.Detail
	}
	if msg == "" {
		return "", ""
	}
	if e.Code != 0 {
		msg += " (" + strconv.Itoa(e.Code) + ")"
	}
	return msg, ""
}

// permissionFor names the console permission an endpoint needs.
func permissionFor(method, path string) string {
	switch {
	case strings.HasPrefix(path, pathMitigate):
		if p, ok := mitigatePerms[strings.TrimPrefix(path, pathMitigate)]; ok {
			return p
		}
		return permissionUnknownName
	case strings.HasPrefix(path, pathRestrictions):
		if method == http.MethodGet {
			return PermBlocklistView
		}
		return PermBlocklistCreate
	case strings.HasPrefix(path, pathThreats):
		return PermThreatsView
	case strings.HasPrefix(path, pathAlerts):
		return PermAlertsView
	case path == pathDisconnect:
		return PermEndpointsDisconn
	case path == pathConnect:
		return PermEndpointsReconn
	case strings.HasPrefix(path, pathAgents) && method == http.MethodGet:
		return PermEndpointsView
	}
	return permissionUnknownName
}

// wrap prefixes an error from call with what was being done, keeping its
// class (retryable or not).
func wrap(prefix string, err error) error { return connector.Rewrap(prefix, err) }
