package cybereason

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks a refused login, or a session refused again
	// right after a fresh login.
	ErrUnauthorized = errors.New("cybereason: unauthorized")
	// ErrMissingPermission marks a 403: the API user lacks a role.
	ErrMissingPermission = errors.New("cybereason: API user lacks a role")
	// ErrNotFound marks a machine the console has no sensor for.
	ErrNotFound = errors.New("cybereason: not found")
)

// IdempotencyHeader carries bannin's idempotency key on containment calls.
// Cybereason has no idempotency key and ignores it; the simulator counts
// calls by it.
const IdempotencyHeader = "X-Bannin-Idempotency-Key"

// SessionCookie is the cookie the login sets and every REST call carries.
const SessionCookie = "JSESSIONID"

// API paths.
const (
	pathLogin     = "/login.html"
	pathInbox     = "/rest/detection/inbox"
	pathSensors   = "/rest/sensors/query"
	pathIsolate   = "/rest/monitor/global/commands/isolate"
	pathUnisolate = "/rest/monitor/global/commands/un-isolate"
	pathCrimes    = "/rest/crimes/unified"
	pathRemediate = "/rest/remediate"
)

// Roles of the Cybereason console the calls need, as a 403 names them.
// Cybereason documents a role per request ("Required Roles Per Endpoint");
// the names below are its predefined roles.
const (
	RoleMalops    = "L1 Analyst (or higher) to read MalOps"
	RoleSensors   = "Sensor Viewer (or Sensor Admin L1) to list sensors"
	RoleIsolation = "L3 Analyst or Responder (L1/L2) to isolate machines"
	RoleRemediate = "L3 Analyst (or Responder L1/L2) to remediate"
)

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

// api sends calls to one console inside a login session. The session is
// a JSESSIONID cookie from POST /login.html; when the console answers a
// call as if there were none (401, a redirect to the login page, or the
// login page itself), api logs in again once and repeats the call.
type api struct {
	base       *url.URL
	user, pass string
	hc         *http.Client
	now        func() time.Time

	mu      sync.Mutex
	session string // JSESSIONID value; "" before the first login
	logins  int
}

func newAPI(cfg connector.Config) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("cybereason: Config.URL (the console, e.g. https://<tenant>.cybereason.net) is required")
	}
	if strings.TrimSpace(cfg.ClientID) == "" || cfg.ClientSecret == "" {
		return nil, errors.New("cybereason: Config.ClientID (the API user's name) and Config.ClientSecret (its password) are required")
	}
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("cybereason: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	hc := &http.Client{Timeout: defaultTimeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	// Redirects are how the console says "log in first"; read them
	// instead of following them to an HTML page. The session cookie is
	// kept by api, not a jar, so that a stale one is never resent.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Jar = nil
	return &api{base: u, user: strings.TrimSpace(cfg.ClientID), pass: cfg.ClientSecret, hc: hc, now: time.Now}, nil
}

func (a *api) url(path string) string {
	u := *a.base
	u.Path = strings.TrimRight(a.base.Path, "/") + path
	return u.String()
}

// errSession marks an answer that says the session is missing or expired.
var errSession = errors.New("session expired")

// call POSTs body as JSON to path and returns the body of a 2xx answer;
// key, when set, goes in IdempotencyHeader. Failures are classified: see
// statusError.
func (a *api) call(ctx context.Context, path string, body any, key string) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("cybereason: POST %s: %w", path, err)
	}
	for attempt := 0; ; attempt++ {
		sess, err := a.sessionFor(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		out, err := a.post(ctx, path, b, sess, key)
		if !errors.Is(err, errSession) {
			return out, err
		}
		if attempt > 0 {
			return nil, &apiError{status: http.StatusUnauthorized, kind: ErrUnauthorized,
				msg: fmt.Sprintf("cybereason: POST %s: the console refused a session it had just opened (%v): check that the API user may use the REST API", path, err)}
		}
	}
}

// sessionFor returns the session to use, logging in when there is none or
// when fresh is set (the last one was refused).
func (a *api) sessionFor(ctx context.Context, fresh bool) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.session != "" && !fresh {
		return a.session, nil
	}
	s, err := a.login(ctx)
	if err != nil {
		return "", err
	}
	a.session = s
	return s, nil
}

// login posts the form login and returns the session cookie's value. The
// caller holds a.mu.
func (a *api) login(ctx context.Context) (string, error) {
	form := url.Values{"username": {a.user}, "password": {a.pass}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url(pathLogin), strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("cybereason: login: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", connector.ClassifyNetwork("cybereason: login", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody))
	a.logins++
	if connector.RetryableStatus(resp.StatusCode) {
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return "", &connector.RetryableError{After: after, Err: fmt.Errorf("cybereason: login: HTTP %d", resp.StatusCode)}
	}
	var sess string
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie && c.Value != "" {
			sess = c.Value
		}
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode >= 400 || sess == "" || strings.Contains(strings.ToLower(loc), "error") {
		return "", &apiError{status: resp.StatusCode, kind: ErrUnauthorized,
			msg: fmt.Sprintf("cybereason: login as %q refused (HTTP %d%s): check the user name and password, and that the user is not locked or bound to SSO or two-factor login", a.user, resp.StatusCode, where(loc))}
	}
	return sess, nil
}

func where(loc string) string {
	if loc == "" {
		return ""
	}
	return ", sent to " + loc
}

// post sends one REST call in session sess.
func (a *api) post(ctx context.Context, path string, body []byte, sess, key string) ([]byte, error) {
	where := "POST " + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url(path), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("cybereason: %s: %w", where, err)
	}
	req.Header.Set("Content-Type", contentTypeJSON)
	req.Header.Set("Accept", contentTypeJSON)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: sess})
	if key != "" {
		req.Header.Set(IdempotencyHeader, key)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, connector.ClassifyNetwork("cybereason: "+where, err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return nil, fmt.Errorf("%w: HTTP 401", errSession)
	case code >= 300 && code < 400:
		return nil, fmt.Errorf("%w: HTTP %d to %s", errSession, code, resp.Header.Get("Location"))
	case code >= 300:
		return nil, a.statusError(resp, where, path)
	}
	if isHTML(resp.Header.Get("Content-Type")) {
		// An expired session on some consoles: 200 with the login page.
		return nil, fmt.Errorf("%w: an HTML page instead of JSON", errSession)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, connector.ClassifyNetwork("cybereason: "+where+": reading the answer", err)
	}
	return b, nil
}

func isHTML(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/html"
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with the console's Retry-After), 403 into
// ErrMissingPermission naming the role.
func (a *api) statusError(resp *http.Response, where, path string) error {
	code := resp.StatusCode
	msg := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("cybereason: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusForbidden:
		return &apiError{status: code, kind: ErrMissingPermission,
			msg: fmt.Sprintf("cybereason: %s: HTTP 403 (%s): give the API user the role %s", where, msg, roleFor(path))}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("cybereason: %s: HTTP 404: %s", where, msg)}
	}
	return &apiError{status: code, msg: fmt.Sprintf("cybereason: %s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads a JSON error answer ({"message":…} or
// {"errorMessage":…}), else the status text.
func errorMessage(body io.Reader, code int) string {
	b, _ := io.ReadAll(io.LimitReader(body, maxErrBody))
	var env struct {
		Message      string `json:"message"`
		ErrorMessage string `json:"errorMessage"`
		Error        string `json:"error"`
	}
	if json.Unmarshal(b, &env) == nil {
		for _, m := range []string{env.Message, env.ErrorMessage, env.Error} {
			if m = strings.TrimSpace(m); m != "" {
				return m
			}
		}
	}
	return http.StatusText(code)
}

// roleFor names the console role a path needs.
func roleFor(path string) string {
	switch path {
	case pathInbox, pathCrimes:
		return RoleMalops
	case pathSensors:
		return RoleSensors
	case pathIsolate, pathUnisolate:
		return RoleIsolation
	case pathRemediate:
		return RoleRemediate
	}
	return "that allows " + path
}

// Logins counts the logins made so far (a client that logs in too often
// shows here).
func (a *api) Logins() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins
}
