package withsecure

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
	// ErrUnauthorized marks credentials the API refused: the token request
	// failed, or a freshly issued token was refused too.
	ErrUnauthorized = errors.New("withsecure: unauthorized")
	// ErrMissingScope marks a 403: the API client lacks a scope.
	ErrMissingScope = errors.New("withsecure: API client lacks a scope")
	// ErrNotFound marks a 404 or a device id the organization does not know.
	ErrNotFound = errors.New("withsecure: not found")
)

// API paths.
const (
	pathToken      = "/as/token.oauth2"
	pathEvents     = "/security-events/v1/security-events"
	pathDevices    = "/devices/v1/devices"
	pathOperations = "/devices/v1/operations"
)

// OAuth2 scopes of the Elements API. Pulls need ScopeRead; device
// operations need ScopeWrite (and ScopeRead to read the device first).
const (
	ScopeRead  = "connect.api.read"
	ScopeWrite = "connect.api.write"
)

// DefaultUserAgent is sent on every call; the Elements API refuses
// requests without a User-Agent.
const DefaultUserAgent = "bannin-withsecure-connector/1"

const (
	defaultTimeout = 30 * time.Second
	maxBody        = 64 << 20
	maxErrBody     = 64 << 10
	// tokenSlack renews a token this long before its stated expiry.
	tokenSlack = 30 * time.Second
)

// apiError is a non-retryable API failure with a message fit for logs.
type apiError struct {
	status int
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// api sends authenticated calls to the Elements API and maps failures onto
// bannin's errors. It holds one bearer token for the scopes it asks for.
type api struct {
	base   *url.URL
	id     string
	secret string
	scopes string
	ua     string
	hc     *http.Client
	now    func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

func newAPI(cfg connector.Config, scopes ...string) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("withsecure: Config.URL (the API base, e.g. https://api.connect.withsecure.com) is required")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("withsecure: Config.ClientID and ClientSecret (an Elements API client) are required")
	}
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("withsecure: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &api{base: u, id: cfg.ClientID, secret: cfg.ClientSecret, scopes: strings.Join(scopes, " "),
		ua: DefaultUserAgent, hc: hc, now: time.Now}, nil
}

// request is one API call. Form, when set, is sent form-encoded (the
// security-events list); JSON, when set, as JSON (device operations).
type request struct {
	method string
	path   string
	query  url.Values
	form   url.Values
	json   any
}

func (r request) where() string { return r.method + " " + r.path }

// call sends req with a bearer token and returns the status and body of a
// 2xx answer (207 multistatus included). On 401 it fetches a new token and
// repeats the call once; a second 401 is ErrUnauthorized. Other failures
// are classified by statusError.
func (a *api) call(ctx context.Context, req request) (int, []byte, error) {
	body, ctype, err := encodeBody(req)
	if err != nil {
		return 0, nil, fmt.Errorf("withsecure: %s: %w", req.where(), err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := a.bearer(ctx)
		if err != nil {
			return 0, nil, err
		}
		resp, err := a.send(ctx, req, body, ctype, tok)
		if err != nil {
			return 0, nil, connector.ClassifyNetwork("withsecure: "+req.where(), err)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			discard(resp)
			a.dropToken(tok)
			if attempt == 0 {
				continue
			}
			return 0, nil, &apiError{status: http.StatusUnauthorized, kind: ErrUnauthorized,
				msg: fmt.Sprintf("withsecure: %s: HTTP 401 with a freshly issued token: check that the API client is still enabled in the Elements portal", req.where())}
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			return 0, nil, a.statusError(resp, req)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return 0, nil, connector.ClassifyNetwork("withsecure: "+req.where()+": reading the answer", err)
		}
		return resp.StatusCode, b, nil
	}
}

func encodeBody(req request) ([]byte, string, error) {
	switch {
	case req.form != nil:
		return []byte(req.form.Encode()), "application/x-www-form-urlencoded", nil
	case req.json != nil:
		b, err := json.Marshal(req.json)
		return b, "application/json", err
	}
	return nil, "", nil
}

func (a *api) send(ctx context.Context, req request, body []byte, ctype, tok string) (*http.Response, error) {
	u := *a.base
	u.Path = strings.TrimRight(a.base.Path, "/") + req.path
	u.RawQuery = req.query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, req.method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", a.ua)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return a.hc.Do(r)
}

// bearer returns the cached token, or fetches one.
func (a *api) bearer(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.now().Before(a.expiry) {
		return a.token, nil
	}
	tok, ttl, err := a.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	a.token, a.expiry = tok, a.now().Add(max(ttl-tokenSlack, ttl/2))
	return tok, nil
}

func (a *api) dropToken(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == tok {
		a.token = ""
	}
}

// fetchToken runs the client-credentials grant: POST /as/token.oauth2 with
// HTTP Basic auth and grant_type and scope in a form.
func (a *api) fetchToken(ctx context.Context) (string, time.Duration, error) {
	const where = "POST " + pathToken
	u := *a.base
	u.Path = strings.TrimRight(a.base.Path, "/") + pathToken
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {a.scopes}}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("withsecure: %s: %w", where, err)
	}
	r.SetBasicAuth(a.id, a.secret) // as WithSecure's examples: not form-escaped
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", a.ua)
	resp, err := a.hc.Do(r)
	if err != nil {
		return "", 0, connector.ClassifyNetwork("withsecure: "+where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code, msg := resp.StatusCode, errorMessage(resp)
		if connector.RetryableStatus(code) {
			after, _ := connector.RetryAfter(resp.Header, a.now)
			return "", 0, &connector.RetryableError{After: after, Err: fmt.Errorf("withsecure: %s: HTTP %d: %s", where, code, msg)}
		}
		return "", 0, &apiError{status: code, kind: ErrUnauthorized,
			msg: fmt.Sprintf("withsecure: %s: HTTP %d (%s): token request refused: check the API client id and secret, and that it may use scopes %q", where, code, msg, a.scopes)}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return "", 0, fmt.Errorf("withsecure: %s: answer has no access_token", where)
	}
	ttl := time.Duration(tok.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return tok.AccessToken, ttl, nil
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with the vendor's Retry-After), 403 into
// ErrMissingScope naming the scope, 404 into ErrNotFound. The message
// carries X-Transaction, which WithSecure support asks for.
func (a *api) statusError(resp *http.Response, req request) error {
	code := resp.StatusCode
	msg := errorMessage(resp)
	where := req.where()
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("withsecure: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusForbidden:
		scope := scopeFor(req.method, req.path)
		return &apiError{status: code, kind: ErrMissingScope,
			msg: fmt.Sprintf("withsecure: %s: HTTP 403 (%s): the API client needs the %q scope; grant it in the Elements portal (%s)", where, msg, scope, scopeHint(scope))}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("withsecure: %s: HTTP 404: %s", where, msg)}
	}
	return &apiError{status: code, msg: fmt.Sprintf("withsecure: %s: HTTP %d: %s", where, code, msg)}
}

// scopeFor names the scope an endpoint needs.
func scopeFor(method, path string) string {
	if path == pathOperations && method == http.MethodPost {
		return ScopeWrite
	}
	return ScopeRead
}

func scopeHint(scope string) string {
	if scope == ScopeWrite {
		return "an API client that is not read-only"
	}
	return "any API client"
}

// errorMessage reads an error answer's message (Elements API errors carry
// "message"; OAuth2 errors "error" and "error_description") and the
// X-Transaction id.
func errorMessage(resp *http.Response) string {
	var env struct {
		Message     string `json:"message"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	msg := http.StatusText(resp.StatusCode)
	if json.Unmarshal(b, &env) == nil {
		if m := firstNonEmpty(env.Message, env.Description, env.Error); m != "" {
			msg = m
		}
	}
	if tx := resp.Header.Get("X-Transaction"); tx != "" {
		msg += " (X-Transaction " + tx + ")"
	}
	return msg
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody))
	resp.Body.Close()
}
