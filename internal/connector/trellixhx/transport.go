package trellixhx

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
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks a 401 that a fresh login did not cure: the API
	// user's name or password is wrong, or the account is locked.
	ErrUnauthorized = errors.New("trellixhx: unauthorized")
	// ErrMissingRole marks a 403: the API user lacks the role a call needs.
	ErrMissingRole = errors.New("trellixhx: API user lacks a role")
	// ErrNotFound marks a 404: HX does not know the host (agent id) or alert.
	ErrNotFound = errors.New("trellixhx: not found")
	// ErrConflict marks a 409: the host's containment state changed under
	// the call (another request, approval or release came first).
	ErrConflict = errors.New("trellixhx: containment state changed")
	// ErrPendingApproval marks a containment request HX accepted but that
	// waits for an approver: the host is not contained yet.
	ErrPendingApproval = errors.New("trellixhx: containment pending approval")
)

// TokenHeader carries the HX API session token, both ways.
const TokenHeader = "X-FeApi-Token"

// IdempotencyHeader carries bannin's idempotency key on containment calls.
// HX ignores it; the simulator counts calls by it.
const IdempotencyHeader = "X-Bannin-Idempotency-Key"

// API paths.
const (
	pathToken  = "/hx/api/v3/token"
	pathAlerts = "/hx/api/v3/alerts"
	pathHosts  = "/hx/api/v3/hosts/"
)

// HX API roles, as a 403 names them. Which role an HX release needs for
// each call is [unverified]; these follow HX's role names.
const (
	RoleAnalyst = "api_analyst" // read alerts and hosts, request containment
	RoleAdmin   = "api_admin"   // approve containment, release hosts
)

const (
	defaultTimeout = 30 * time.Second
	maxBody        = 64 << 20
	maxErrBody     = 64 << 10
	contentJSON    = "application/json"
)

// apiError is a non-retryable API failure with a message fit for logs.
type apiError struct {
	status int
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// api sends calls to one HX appliance with a session token, logging in
// (again) when it has none or the token expired.
type api struct {
	base       *url.URL
	user, pass string
	hc         *http.Client
	now        func() time.Time

	mu     sync.Mutex
	token  string
	logins int
}

func newAPI(cfg connector.Config) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("trellixhx: Config.URL (the HX appliance, e.g. https://hx.example.com:3000) is required")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("trellixhx: Config.ClientID and ClientSecret (the HX API user's name and password) are required")
	}
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("trellixhx: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &api{base: u, user: cfg.ClientID, pass: cfg.ClientSecret, hc: hc, now: time.Now}, nil
}

// call sends one request and returns the body of a 2xx answer. A 401 is
// answered by one fresh login and one retry; a second 401 is ErrUnauthorized.
// body, when not nil, is sent as JSON; key, when set, goes in
// IdempotencyHeader.
func (a *api) call(ctx context.Context, method, path string, q url.Values, body any, key string) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := a.session(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		b, status, err := a.do(ctx, method, path, q, body, key, tok)
		if status == http.StatusUnauthorized && attempt == 0 {
			continue // the session expired (15 minutes idle): log in again
		}
		if status == http.StatusUnauthorized {
			return nil, &apiError{status: status, kind: ErrUnauthorized,
				msg: fmt.Sprintf("trellixhx: %s %s: HTTP 401 right after a fresh login: HX refuses the API user's session; check the account is enabled and holds an API role", method, path)}
		}
		return b, err
	}
}

// session returns the current token, logging in when there is none or when
// fresh is set (the last one was refused).
func (a *api) session(ctx context.Context, fresh bool) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && !fresh {
		return a.token, nil
	}
	a.token = ""
	req, err := a.request(ctx, http.MethodGet, pathToken, nil, nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(a.user, a.pass)
	a.logins++
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", classify("log in (GET "+pathToken+")", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return "", &apiError{status: resp.StatusCode, kind: ErrUnauthorized,
			msg: fmt.Sprintf("trellixhx: log in (GET %s): HTTP 401 (%s): HX refused the API user's name or password", pathToken, errorMessage(resp.Body, resp.StatusCode))}
	}
	if resp.StatusCode >= 300 {
		return "", a.statusError(resp, http.MethodGet, pathToken)
	}
	tok := strings.TrimSpace(resp.Header.Get(TokenHeader))
	if tok == "" {
		return "", fmt.Errorf("trellixhx: log in (GET %s): HTTP %d without an %s header", pathToken, resp.StatusCode, TokenHeader)
	}
	a.token = tok
	return tok, nil
}

// logout ends the session (DELETE /hx/api/v3/token), if there is one.
func (a *api) logout(ctx context.Context) error {
	a.mu.Lock()
	tok := a.token
	a.token = ""
	a.mu.Unlock()
	if tok == "" {
		return nil
	}
	_, status, err := a.do(ctx, http.MethodDelete, pathToken, nil, nil, "", tok)
	if status == http.StatusUnauthorized {
		return nil // already expired
	}
	return err
}

func (a *api) request(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	u := *a.base
	u.Path = strings.TrimRight(a.base.Path, "/") + path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("trellixhx: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("trellixhx: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", contentJSON)
	if body != nil {
		req.Header.Set("Content-Type", contentJSON)
	}
	return req, nil
}

// do sends one authenticated request. It returns the HTTP status alongside
// the error so that call can tell an expired session.
func (a *api) do(ctx context.Context, method, path string, q url.Values, body any, key, tok string) ([]byte, int, error) {
	req, err := a.request(ctx, method, path, q, body)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set(TokenHeader, tok)
	if key != "" {
		req.Header.Set(IdempotencyHeader, key)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, 0, classify(method+" "+path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, resp.StatusCode, a.statusError(resp, method, path)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, resp.StatusCode, classify(method+" "+path+": reading the answer", err)
	}
	return b, resp.StatusCode, nil
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with HX's Retry-After), 403 into ErrMissingRole
// naming the role, 404 into ErrNotFound.
func (a *api) statusError(resp *http.Response, method, path string) error {
	code := resp.StatusCode
	where := method + " " + path
	msg := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("trellixhx: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusForbidden:
		return &apiError{status: code, kind: ErrMissingRole,
			msg: fmt.Sprintf("trellixhx: %s: HTTP 403 (%s): the HX API user needs the %s role", where, msg, roleFor(method, path))}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("trellixhx: %s: HTTP 404: %s", where, msg)}
	case code == http.StatusConflict:
		return &apiError{status: code, kind: ErrConflict, msg: fmt.Sprintf("trellixhx: %s: HTTP 409: %s", where, msg)}
	case code == http.StatusUnauthorized:
		return &apiError{status: code, kind: ErrUnauthorized, msg: fmt.Sprintf("trellixhx: %s: HTTP 401: %s", where, msg)}
	}
	return &apiError{status: code, msg: fmt.Sprintf("trellixhx: %s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads HX's error envelope {"details":[{"message"}],"message"}.
func errorMessage(body io.Reader, code int) string {
	var env struct {
		Message string `json:"message"`
		Details []struct {
			Message string `json:"message"`
		} `json:"details"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, maxErrBody))
	if json.Unmarshal(b, &env) != nil {
		return http.StatusText(code)
	}
	msg := env.Message
	for _, d := range env.Details {
		if d.Message != "" {
			msg = strings.TrimSpace(msg + ": " + d.Message)
			break
		}
	}
	if msg == "" {
		return http.StatusText(code)
	}
	return msg
}

// roleFor names the HX role a call needs.
func roleFor(method, path string) string {
	if strings.HasPrefix(path, pathHosts) && strings.HasSuffix(path, "/containment") &&
		(method == http.MethodPatch || method == http.MethodDelete) {
		return RoleAdmin + " (containment approver)"
	}
	return RoleAnalyst + " (or " + RoleAdmin + ")"
}

// classify treats time-outs and network failures as retryable and keeps
// cancellation as it is. prefix says what was being done.
func classify(prefix string, err error) error {
	return connector.ClassifyNetwork("trellixhx: "+prefix, err)
}

// wrap prefixes an error with what was being done, keeping its class.
func wrap(prefix string, err error) error { return connector.Rewrap(prefix, err) }
