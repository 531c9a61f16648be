package sentinelone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
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
const IdempotencyHeader = "X-Bannin-Idempotency-Key"

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
	defaultTimeout        = 30 * time.Second
	maxBody               = 64 << 20
	maxErrBody            = 64 << 10
	authScheme            = "ApiToken "
	contentTypeJSON       = "application/json"
	permissionUnknownName = "required"
)

// apiError is a non-retryable API failure with a message fit for logs.
type apiError struct {
	status int
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// api sends authenticated calls to one console and maps failures onto
// bannin's errors.
type api struct {
	base  *url.URL
	token string
	hc    *http.Client
	now   func() time.Time
}

func newAPI(cfg connector.Config) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("sentinelone: Config.URL (the console, e.g. https://<tenant>.sentinelone.net) is required")
	}
	if strings.TrimSpace(cfg.ClientSecret) == "" {
		return nil, errors.New("sentinelone: Config.ClientSecret (an API token) is required")
	}
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("sentinelone: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &api{base: u, token: strings.TrimSpace(cfg.ClientSecret), hc: hc, now: time.Now}, nil
}

// call sends one request and returns the body of a 2xx answer. body, when
// not nil, is sent as JSON; key, when set, goes in IdempotencyHeader.
// Failures are classified: see classify.
func (a *api) call(ctx context.Context, method, path string, q url.Values, body any, key string) ([]byte, error) {
	where := method + " " + path
	u := *a.base
	u.Path = strings.TrimRight(a.base.Path, "/") + path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Authorization", authScheme+a.token)
	req.Header.Set("Accept", contentTypeJSON)
	if body != nil {
		req.Header.Set("Content-Type", contentTypeJSON)
	}
	if key != "" {
		req.Header.Set(IdempotencyHeader, key)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, classify(where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, a.statusError(resp, where, method, path)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, classify(where+": reading the answer", err)
	}
	return b, nil
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with the vendor's Retry-After), 403 into
// ErrMissingPermission naming the permission, 401 into ErrUnauthorized.
func (a *api) statusError(resp *http.Response, where, method, path string) error {
	code := resp.StatusCode
	msg := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("sentinelone: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusUnauthorized:
		return &apiError{status: code, kind: ErrUnauthorized,
			msg: fmt.Sprintf("sentinelone: %s: HTTP 401 (%s): the API token was refused; it may have expired: generate a new one in the console", where, msg)}
	case code == http.StatusForbidden:
		return &apiError{status: code, kind: ErrMissingPermission,
			msg: fmt.Sprintf("sentinelone: %s: HTTP 403 (%s): the API user's role needs the %q permission", where, msg, permissionFor(method, path))}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("sentinelone: %s: HTTP 404: %s", where, msg)}
	}
	return &apiError{status: code, msg: fmt.Sprintf("sentinelone: %s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads SentinelOne's {"errors":[{"code","title","detail"}]}.
func errorMessage(body io.Reader, code int) string {
	var env struct {
		Errors []struct {
			Code   int    `json:"code"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, maxErrBody))
	if json.Unmarshal(b, &env) != nil || len(env.Errors) == 0 {
		return http.StatusText(code)
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
		return http.StatusText(code)
	}
	if e.Code != 0 {
		msg += " (" + strconv.Itoa(e.Code) + ")"
	}
	return msg
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

// classify treats time-outs and network failures as retryable and keeps
// cancellation as it is. prefix says what was being done.
func classify(prefix string, err error) error {
	return connector.ClassifyNetwork("sentinelone: "+prefix, err)
}

// wrap prefixes an error from call with what was being done, keeping its
// class (retryable or not).
func wrap(prefix string, err error) error { return connector.Rewrap(prefix, err) }
