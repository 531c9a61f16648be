package crowdstrike

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
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	openapi "github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks a call the API refused for its credentials: the
	// token request failed, or a fresh token was refused too.
	ErrUnauthorized = errors.New("crowdstrike: unauthorized")
	// ErrMissingScope marks a 403: the API client lacks a scope.
	ErrMissingScope = errors.New("crowdstrike: API client lacks a scope")
	// ErrNotFound marks a 404, e.g. an unknown AID.
	ErrNotFound = errors.New("crowdstrike: not found")
)

// apiError is a non-retryable API failure with a message fit for logs.
type apiError struct {
	status int
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

const defaultTimeout = 30 * time.Second

// newRuntime builds the go-openapi transport the SDK's service clients use,
// over an http.Client that adds the bearer token (refreshing it once on 401)
// and turns HTTP failures into bannin's errors before the SDK sees them.
func newRuntime(cfg connector.Config) (*httptransport.Runtime, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("crowdstrike: Config.URL (the API base, e.g. https://api.crowdstrike.com) is required")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("crowdstrike: Config.ClientID and ClientSecret (an API client) are required")
	}
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("crowdstrike: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: defaultTimeout}
	}
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	tokens := &tokenSource{
		conf: clientcredentials.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			TokenURL: u.String() + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams,
		},
		client: &http.Client{Transport: next, Timeout: base.Timeout},
	}
	hc := &http.Client{
		Transport: &statusTransport{next: &authTransport{tokens: tokens, next: next}, now: time.Now},
		Timeout:   base.Timeout,
	}
	basePath := u.Path
	if basePath == "" {
		basePath = "/"
	}
	return httptransport.NewWithClient(u.Host, basePath, []string{u.Scheme}, hc), nil
}

// tokenSource caches one OAuth2 token and can drop it when the API refuses
// it before its stated expiry.
type tokenSource struct {
	conf   clientcredentials.Config
	client *http.Client
	mu     sync.Mutex
	tok    *oauth2.Token
}

func (s *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.Valid() {
		return s.tok, nil
	}
	tok, err := s.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return nil, tokenError(err)
	}
	s.tok = tok
	return tok, nil
}

func (s *tokenSource) invalidate(old *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == old {
		s.tok = nil
	}
}

func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return err
	}
	code := re.Response.StatusCode
	if connector.RetryableStatus(code) {
		return &connector.RetryableError{
			After: retryAfter(re.Response.Header, time.Now),
			Err:   fmt.Errorf("POST /oauth2/token: HTTP %d", code),
		}
	}
	return &apiError{status: code, kind: ErrUnauthorized,
		msg: fmt.Sprintf("POST /oauth2/token: HTTP %d: token request refused: check the API client id and secret", code)}
}

// authTransport adds the bearer token. On 401 it drops the token, fetches a
// fresh one and repeats the request once; a second 401 is ErrUnauthorized.
type authTransport struct {
	tokens *tokenSource
	next   http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	tok, err := t.tokens.token(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := t.send(req, body, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	discard(resp)
	t.tokens.invalidate(tok)
	if tok, err = t.tokens.token(req.Context()); err != nil {
		return nil, err
	}
	if resp, err = t.send(req, body, tok); err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	discard(resp)
	return nil, &apiError{status: http.StatusUnauthorized, kind: ErrUnauthorized,
		msg: fmt.Sprintf("%s %s: HTTP 401 with a freshly issued token: check the API client", req.Method, req.URL.Path)}
}

// readBody buffers the request body so that it can be sent twice.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

func (t *authTransport) send(req *http.Request, body []byte, tok *oauth2.Token) (*http.Response, error) {
	r := req.Clone(req.Context())
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return t.next.RoundTrip(r)
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// statusTransport turns every HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with the vendor's Retry-After), 403 into
// ErrMissingScope naming the scope the endpoint needs, anything else into a
// plain error carrying CrowdStrike's message. The SDK only sees successes.
type statusTransport struct {
	next http.RoundTripper
	now  func() time.Time
}

func (t *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	defer discard(resp)
	code, where := resp.StatusCode, req.Method+" "+req.URL.Path
	msg := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		return nil, &connector.RetryableError{After: retryAfter(resp.Header, t.now),
			Err: fmt.Errorf("%s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusForbidden:
		return nil, &apiError{status: code, kind: ErrMissingScope,
			msg: fmt.Sprintf("%s: HTTP 403 (%s): the API client needs the %q scope", where, msg, scopeFor(req.Method, req.URL.Path))}
	case code == http.StatusUnauthorized:
		return nil, &apiError{status: code, kind: ErrUnauthorized, msg: fmt.Sprintf("%s: HTTP 401: %s", where, msg)}
	case code == http.StatusNotFound:
		return nil, &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("%s: HTTP 404: %s", where, msg)}
	}
	return nil, &apiError{status: code, msg: fmt.Sprintf("%s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads CrowdStrike's {"errors":[{"code","message"}]}.
func errorMessage(body io.Reader, code int) string {
	var env struct {
		Errors []struct {
			Message string `json:"message"`
			ID      string `json:"id"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	if json.Unmarshal(b, &env) != nil || len(env.Errors) == 0 || env.Errors[0].Message == "" {
		return http.StatusText(code)
	}
	if e := env.Errors[0]; e.ID != "" {
		return e.Message + " (" + e.ID + ")"
	}
	return env.Errors[0].Message
}

// retryAfter reads Retry-After (seconds or an HTTP date), else CrowdStrike's
// X-RateLimit-RetryAfter (epoch seconds).
func retryAfter(h http.Header, now func() time.Time) time.Duration {
	if d, ok := connector.RetryAfter(h, now); ok {
		return d
	}
	if n, err := strconv.ParseInt(h.Get("X-Ratelimit-Retryafter"), 10, 64); err == nil && n > 0 {
		return max(0, time.Unix(n, 0).Sub(now()).Round(time.Second))
	}
	return 0
}

// scopeFor names the API scope an endpoint needs, as the console calls it.
func scopeFor(method, path string) string {
	switch {
	case strings.HasPrefix(path, "/alerts/") && method == http.MethodPatch:
		return "Alerts: Write"
	case strings.HasPrefix(path, "/alerts/"):
		return ScopeAlertsRead
	case strings.Contains(path, "/devices-actions/"):
		return ScopeHostsWrite
	case strings.HasPrefix(path, "/devices/"):
		return ScopeHostsRead
	}
	return "required"
}

// classify unwraps the errors the transports produced from the SDK's and
// net/http's wrapping, and treats time-outs and network failures as
// retryable. prefix says what was being done.
func classify(prefix string, err error) error {
	var re *connector.RetryableError
	var ae *apiError
	switch {
	case errors.As(err, &re):
		return connector.Rewrap(prefix, re)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %w", prefix, ae)
	}
	return connector.ClassifyNetwork(prefix, err)
}

// withHeader is an SDK ClientOption (for any service client) that adds a
// request header after the operation's own parameters.
func withHeader(name, value string) func(*openapi.ClientOperation) {
	return func(op *openapi.ClientOperation) {
		if value == "" {
			return
		}
		params := op.Params
		op.Params = openapi.ClientRequestWriterFunc(func(r openapi.ClientRequest, reg strfmt.Registry) error {
			if err := params.WriteToRequest(r, reg); err != nil {
				return err
			}
			return r.SetHeaderParam(name, value)
		})
	}
}
