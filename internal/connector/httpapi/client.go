// Package httpapi is the one HTTP client the vendor connectors use: base
// URL handling, the default http.Client and its time-out, response size
// limits, authentication hooks (API key, OAuth2 client credentials, session
// login), one error type carrying the vendor's message and status, the
// retry classes bannin's pollers and responders act on, and an optional
// client-side rate limit on an injectable clock.
//
// A vendor package keeps its paths, payloads, field mapping and the
// specifics of its auth (a login payload, a token audience); everything
// about sending a call and reading its answer is here.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds one call, answer included, when the vendor's
	// Config brings no http.Client.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBody bounds a successful answer's body.
	DefaultMaxBody = 64 << 20
	// MaxErrorBody bounds what is read of a failed answer's body.
	MaxErrorBody = 64 << 10
)

// IdempotencyHeader carries bannin's idempotency key on containment calls.
// The vendors ignore it; the simulators count calls by it.
const IdempotencyHeader = "X-Bannin-Idempotency-Key"

const (
	contentJSON = "application/json"
	contentForm = "application/x-www-form-urlencoded"
)

// defaultHTTP is shared by the clients whose Config has no http.Client.
var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// Client sends calls to one vendor API. Set its fields before the first
// call; it is then safe for concurrent use.
type Client struct {
	// Vendor prefixes every error message ("carbonblack: ..."); empty for
	// none.
	Vendor string
	// Base is the API's base URL (see BaseURL); Request.Path is joined to
	// it.
	Base *url.URL
	// HTTP sends the calls; nil uses a client with DefaultTimeout.
	HTTP *http.Client
	// Auth, when set, authenticates every call not marked NoAuth.
	Auth Auth
	// Header is sent on every call (e.g. a User-Agent the API requires).
	Header http.Header
	// MaxBody bounds a successful answer; 0 is DefaultMaxBody.
	MaxBody int64
	// Kinds maps an HTTP status to the vendor's sentinel error, which the
	// Error of that status unwraps to (401 → ErrUnauthorized, ...). The
	// 401 entry is also the kind of refused logins and token requests.
	Kinds map[int]error
	// Message reads the vendor's error message (and code, if it has
	// them) from a failed answer; "" falls back to the status text. Nil
	// uses an excerpt of the body.
	Message func(status int, h http.Header, body []byte) (msg, code string)
	// Classify, when set, adjusts the Error of every failed call (its
	// Kind, Hint or Text) before it is returned; a 429 or 5xx is then
	// made retryable.
	Classify func(e *Error)
	// RetryAfter reads how long the API asks to wait; nil reads
	// Retry-After (connector.RetryAfter).
	RetryAfter func(h http.Header, now func() time.Time) time.Duration
	// Expired reports whether an answer says the credential is no longer
	// good (and why), so that Auth renews it once; nil: a 401.
	Expired func(r *Response) (why string, expired bool)
	// Limit, when set, spaces the calls out (a vendor's documented rate
	// limit).
	Limit *Limiter
	// Now and Sleep are the clock (Retry-After dates, token expiry, rate
	// limit); nil is real time. Replays set virtual ones.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Request is one call.
type Request struct {
	Method string
	// Path is joined to the base URL. It is in escaped form: build
	// variable segments with Segment.
	Path string
	// Base, when set, replaces Client.Base for this call (e.g. a data
	// region learnt at run time).
	Base *url.URL
	// URL, when set, is the absolute URL of the call (Base and Path are
	// then ignored), e.g. a token endpoint on another host.
	URL string
	// Query is encoded into the URL; RawQuery, when set, is used as is.
	Query    url.Values
	RawQuery string
	// JSON, when not nil, is sent as JSON; Form, when not nil,
	// form-encoded; Body, when not nil, as is with ContentType.
	JSON        any
	Form        url.Values
	Body        []byte
	ContentType string
	// Header is added to the call.
	Header http.Header
	// Key, when set, is sent in IdempotencyHeader.
	Key string
	// Where names the call in errors; "" is "METHOD path".
	Where string
	// NoAuth sends the call without Client.Auth (logins, token
	// requests, a logout carrying its own token).
	NoAuth bool
}

// Response is a call's answer, its body read (up to the limit).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Retried is set when the answer came after the credential was
	// renewed.
	Retried bool

	method, path, where string
}

// Cookies parses the answer's Set-Cookie headers.
func (r *Response) Cookies() []*http.Cookie {
	return (&http.Response{Header: r.Header}).Cookies()
}

// Where names the call the answer is for.
func (r *Response) Where() string { return r.where }

// Segment escapes one path segment (an id) for Request.Path.
func Segment(s string) string { return url.PathEscape(s) }

// BaseURL parses a configured base URL: surrounding space and trailing
// slashes are dropped, https:// is assumed when no scheme is given, and it
// must be http(s) with a host.
func BaseURL(raw string) (*url.URL, error) {
	s := strings.TrimRight(strings.TrimSpace(raw), "/")
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q is not an http(s) base URL", raw)
	}
	return u, nil
}

// JoinPath returns base with path (escaped form) appended to its path, and
// no query.
func JoinPath(base *url.URL, path string) *url.URL {
	u := *base
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	raw := strings.TrimRight(base.EscapedPath(), "/") + path
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path, u.RawPath = p, raw
	} else {
		u.Path, u.RawPath = strings.TrimRight(base.Path, "/")+path, ""
	}
	if u.RawPath == u.Path {
		u.RawPath = ""
	}
	return &u
}

// BasicAuth is the value of an Authorization header for HTTP Basic
// authentication, the user and password not escaped.
func BasicAuth(user, password string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

// Do sends r and returns the answer of a 2xx; any other status is an
// error (see Error). When Auth is set and the answer says the credential
// expired, the credential is renewed and the call repeated once.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	resp, err := c.Send(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.Status < 200 || resp.Status >= 300 {
		return nil, c.Error(resp)
	}
	return resp, nil
}

// Send sends r like Do but returns the answer whatever its status, so that
// a caller (a login) can read a redirect or a refusal itself. Network
// failures are classified with connector.ClassifyNetwork; an expired
// credential after renewal is an error.
func (c *Client) Send(ctx context.Context, r Request) (*Response, error) {
	body, ctype, err := encode(r)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", c.prefix(), where(r), err)
	}
	u, err := c.url(r)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", c.prefix(), where(r), err)
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bodyReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", c.prefix(), where(r), err)
		}
		c.headers(req, r, ctype)
		cred, err := c.authorize(ctx, req, r.NoAuth)
		if err != nil {
			return nil, err
		}
		resp, err := c.exchange(ctx, req, r, u)
		if err != nil {
			return nil, err
		}
		resp.Retried = attempt > 0
		if cred == nil {
			return resp, nil
		}
		why, expired := c.expired(resp)
		if !expired {
			return resp, nil
		}
		if attempt > 0 {
			return nil, c.expiredError(resp, why)
		}
		if c.Auth.Invalidate(*cred) {
			continue
		}
		return resp, nil // a credential that cannot be renewed: the answer is final
	}
}

// exchange sends one request and reads its answer.
func (c *Client) exchange(ctx context.Context, req *http.Request, r Request, u *url.URL) (*Response, error) {
	if err := c.wait(ctx); err != nil {
		return nil, fmt.Errorf("%s%s: %w", c.prefix(), where(r), err)
	}
	hr, err := c.client().Do(req)
	if err != nil {
		return nil, connector.ClassifyNetwork(c.prefix()+where(r), err)
	}
	defer hr.Body.Close()
	path := r.Path
	if r.URL != "" {
		path = u.Path
	}
	resp := &Response{Status: hr.StatusCode, Header: hr.Header, method: r.Method, path: path, where: where(r)}
	limit := int64(MaxErrorBody)
	if hr.StatusCode >= 200 && hr.StatusCode < 300 {
		limit = c.maxBody()
	}
	b, err := io.ReadAll(io.LimitReader(hr.Body, limit+1))
	if err != nil {
		return nil, connector.ClassifyNetwork(c.prefix()+where(r)+": reading the answer", err)
	}
	if int64(len(b)) > limit {
		if limit != MaxErrorBody {
			return nil, fmt.Errorf("%s%s: the answer is larger than %d bytes", c.prefix(), where(r), limit)
		}
		b = b[:limit]
	}
	resp.Body = b
	return resp, nil
}

// authorize applies Auth to req, unless the call goes without; the
// credential is nil when there is none.
func (c *Client) authorize(ctx context.Context, req *http.Request, noAuth bool) (*string, error) {
	if c.Auth == nil || noAuth {
		return nil, nil
	}
	cred, err := c.Auth.Apply(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return &cred, nil
}

func (c *Client) headers(req *http.Request, r Request, ctype string) {
	req.Header.Set("Accept", contentJSON)
	for k, vs := range c.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.Key != "" {
		req.Header.Set(IdempotencyHeader, r.Key)
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
}

func (c *Client) url(r Request) (*url.URL, error) {
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil {
			return nil, err
		}
		if r.RawQuery != "" || r.Query != nil {
			u.RawQuery = query(r)
		}
		return u, nil
	}
	base := r.Base
	if base == nil {
		base = c.Base
	}
	if base == nil {
		return nil, fmt.Errorf("no base URL")
	}
	u := JoinPath(base, r.Path)
	u.RawQuery = query(r)
	return u, nil
}

func query(r Request) string {
	if r.RawQuery != "" {
		return r.RawQuery
	}
	return r.Query.Encode()
}

func encode(r Request) ([]byte, string, error) {
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		return b, contentJSON, err
	case r.Form != nil:
		return []byte(r.Form.Encode()), contentForm, nil
	case r.Body != nil:
		return r.Body, r.ContentType, nil
	}
	return nil, "", nil
}

func bodyReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

func where(r Request) string {
	if r.Where != "" {
		return r.Where
	}
	p := r.Path
	if r.URL != "" {
		if u, err := url.Parse(r.URL); err == nil {
			p = u.Path
		}
	}
	return r.Method + " " + p
}

func (c *Client) prefix() string {
	if c.Vendor == "" {
		return ""
	}
	return c.Vendor + ": "
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) maxBody() int64 {
	if c.MaxBody > 0 {
		return c.MaxBody
	}
	return DefaultMaxBody
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

func (c *Client) wait(ctx context.Context) error {
	if c.Limit == nil {
		return nil
	}
	return c.Limit.Wait(ctx, c.now, c.sleep)
}

func (c *Client) expired(r *Response) (string, bool) {
	if c.Expired != nil {
		return c.Expired(r)
	}
	return "HTTP 401", r.Status == http.StatusUnauthorized
}

// Sleep waits d in real time, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
