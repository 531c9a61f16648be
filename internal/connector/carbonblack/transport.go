package carbonblack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
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

const (
	defaultTimeout  = 30 * time.Second
	maxBody         = 64 << 20
	maxErrBody      = 64 << 10
	contentTypeJSON = "application/json"
)

// apiError is a non-retryable API failure with a message fit for logs.
type apiError struct {
	status int
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// api sends authenticated calls to one Carbon Black Cloud environment and
// org, and maps failures onto bannin's errors.
type api struct {
	base   *url.URL
	orgKey string
	token  string // secret/id
	hc     *http.Client
	now    func() time.Time
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
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("carbonblack: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &api{base: u, orgKey: org, token: secret + "/" + apiID, hc: hc, now: time.Now}, nil
}

// call sends one JSON request to pathFmt (with the org key filled in) and
// returns the body of a 2xx answer. perm names the permission the call
// needs, for the 403 message.
func (a *api) call(ctx context.Context, method, pathFmt string, body any, perm string) ([]byte, error) {
	path := fmt.Sprintf(pathFmt, url.PathEscape(a.orgKey))
	where := method + " " + fmt.Sprintf(pathFmt, "{org_key}")
	u := *a.base
	u.Path = strings.TrimRight(a.base.Path, "/") + path
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
	req.Header.Set(AuthHeader, a.token)
	req.Header.Set("Accept", contentTypeJSON)
	if body != nil {
		req.Header.Set("Content-Type", contentTypeJSON)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, connector.ClassifyNetwork("carbonblack: "+where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, a.statusError(resp, where, perm)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, connector.ClassifyNetwork("carbonblack: "+where+": reading the answer", err)
	}
	return b, nil
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with the vendor's Retry-After), 403 into
// ErrMissingPermission naming the permission, 401 into ErrUnauthorized.
func (a *api) statusError(resp *http.Response, where, perm string) error {
	code := resp.StatusCode
	msg := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("carbonblack: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusUnauthorized:
		return &apiError{status: code, kind: ErrUnauthorized,
			msg: fmt.Sprintf("carbonblack: %s: HTTP 401 (%s): the API key (X-Auth-Token <secret>/<API id>) was refused: "+
				"check the org key, API id and secret, or issue a new key in Settings > API Access", where, msg)}
	case code == http.StatusForbidden:
		return &apiError{status: code, kind: ErrMissingPermission,
			msg: fmt.Sprintf("carbonblack: %s: HTTP 403 (%s): the API key's access level needs the %q permission "+
				"(Settings > API Access > Access Levels)", where, msg, perm)}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("carbonblack: %s: HTTP 404: %s", where, msg)}
	}
	return &apiError{status: code, msg: fmt.Sprintf("carbonblack: %s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads Carbon Black's {"success":false,"message":…,
// "error_code":…} error body.
func errorMessage(body io.Reader, code int) string {
	var env struct {
		Message   string `json:"message"`
		ErrorCode string `json:"error_code"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, maxErrBody))
	if json.Unmarshal(b, &env) != nil || (env.Message == "" && env.ErrorCode == "") {
		return http.StatusText(code)
	}
	switch {
	case env.Message == "":
		return env.ErrorCode
	case env.ErrorCode == "":
		return env.Message
	}
	return env.Message + " (" + env.ErrorCode + ")"
}

// wrap prefixes an error from call with what was being done, keeping its
// class (retryable or not).
func wrap(prefix string, err error) error { return connector.Rewrap(prefix, err) }
