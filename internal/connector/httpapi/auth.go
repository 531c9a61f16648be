package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Auth authenticates calls. Client.Send applies it to every call not
// marked NoAuth and, when the answer says the credential expired,
// invalidates that credential and repeats the call once if Invalidate
// allows.
type Auth interface {
	// Apply adds the credential to req, obtaining one first (a token
	// request, a login) through c when there is none. It returns the
	// credential, for Invalidate.
	Apply(ctx context.Context, c *Client, req *http.Request) (cred string, err error)
	// Invalidate forgets cred, which the API refused, unless it was
	// already replaced, and reports whether a fresh one is worth one more
	// try.
	Invalidate(cred string) bool
}

// APIKey sends a fixed key in a header. A refused key is final: a client
// cannot renew it.
type APIKey struct {
	Header string // e.g. "Authorization"
	Value  string // e.g. "ApiToken <token>"
}

// Apply sets the header.
func (k APIKey) Apply(_ context.Context, _ *Client, req *http.Request) (string, error) {
	req.Header.Set(k.Header, k.Value)
	return k.Value, nil
}

// Invalidate reports false: the same key would be refused again.
func (APIKey) Invalidate(string) bool { return false }

// OAuth2 is the client-credentials grant: a bearer token, cached until
// shortly before its stated expiry, fetched again when the API refuses it.
type OAuth2 struct {
	// TokenURL is the token endpoint.
	TokenURL string
	// ClientID and ClientSecret go in the form, or in HTTP Basic
	// authentication (not form-escaped, as some vendors' examples do it)
	// when BasicAuth is set.
	ClientID, ClientSecret string
	BasicAuth              bool
	// Scope, when set, is sent as the scope parameter; Params adds other
	// form fields (e.g. resource).
	Scope  string
	Params url.Values
	// Header is added to the token request.
	Header http.Header
	// Margin renews a token this long before its expiry (at most half
	// its lifetime before).
	Margin time.Duration
	// DefaultTTL is a token's lifetime when the answer states none; 0
	// keeps such a token until the API refuses it.
	DefaultTTL time.Duration
	// Where names the token request in errors; "" is "POST <path>".
	Where string
	// Message reads a refused token request's message; nil reads OAuth2's
	// {"error","error_description"}.
	Message func(status int, h http.Header, body []byte) (msg, code string)
	// Hint is the refusal's advice, e.g. "token request refused: check
	// the client id and secret".
	Hint string

	mu     sync.Mutex
	token  string
	expiry time.Time // zero: none stated
}

// Apply sets "Authorization: Bearer <token>", fetching a token when there
// is none or it is about to expire.
func (o *OAuth2) Apply(ctx context.Context, c *Client, req *http.Request) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == "" || !o.expiry.IsZero() && !c.now().Before(o.expiry) {
		tok, ttl, err := o.fetch(ctx, c)
		if err != nil {
			return "", err
		}
		o.token, o.expiry = tok, time.Time{}
		if ttl > 0 {
			o.expiry = c.now().Add(max(ttl-o.Margin, ttl/2))
		}
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	return o.token, nil
}

// Invalidate drops the token, unless another call already replaced it,
// and reports true: a fresh token is worth one try.
func (o *OAuth2) Invalidate(cred string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == cred {
		o.token = ""
	}
	return true
}

// fetch runs the grant. A 429 or 5xx is retryable; any other refusal is an
// Error of the client's unauthorized Kind.
func (o *OAuth2) fetch(ctx context.Context, c *Client) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	h := http.Header{}
	for k, vs := range o.Header {
		h[k] = vs
	}
	if o.BasicAuth {
		h.Set("Authorization", BasicAuth(o.ClientID, o.ClientSecret))
	} else {
		form.Set("client_id", o.ClientID)
		form.Set("client_secret", o.ClientSecret)
	}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	for k, vs := range o.Params {
		form[k] = vs
	}
	resp, err := c.Send(ctx, Request{Method: http.MethodPost, URL: o.TokenURL, Form: form, Header: h, NoAuth: true, Where: o.Where})
	if err != nil {
		return "", 0, err
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"` // a number, or a string (Entra ID v1)
	}
	ok := resp.Status >= 200 && resp.Status < 300
	if ok && (json.Unmarshal(resp.Body, &tr) != nil || tr.AccessToken == "") {
		e := c.newError(resp, nil)
		e.Msg, e.Kind, e.Hint = "", c.Kinds[http.StatusUnauthorized], "the answer has no access_token"
		return "", 0, e
	}
	if !ok {
		msg := o.Message
		if msg == nil {
			msg = OAuth2Message
		}
		e := c.newError(resp, msg)
		if connector.RetryableStatus(resp.Status) {
			return "", 0, c.retryable(e)
		}
		e.Kind, e.Hint = c.Kinds[http.StatusUnauthorized], o.Hint
		return "", 0, e
	}
	return tr.AccessToken, expiresIn(tr.ExpiresIn, o.DefaultTTL), nil
}

func expiresIn(raw json.RawMessage, def time.Duration) time.Duration {
	secs, err := strconv.Atoi(strings.Trim(string(raw), `"`))
	if err != nil || secs <= 0 {
		return def
	}
	return time.Duration(secs) * time.Second
}

// OAuth2Message reads an OAuth2 error answer, {"error",
// "error_description"}: "error: first line of the description".
func OAuth2Message(_ int, _ http.Header, body []byte) (string, string) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	d, _, _ := strings.Cut(e.Description, "\n")
	return strings.Trim(strings.TrimSpace(e.Error+": "+strings.TrimSpace(d)), ": "), e.Error
}

// Session is a login session: Login obtains a credential (a cookie, a
// token) that Set puts on every call; when the API answers that the
// session expired, Session logs in again, once.
type Session struct {
	// Login logs in through c (calls marked NoAuth) and returns the
	// session's credential. Vendor payloads and checks live here.
	Login func(ctx context.Context, c *Client) (string, error)
	// Set puts the credential on a call.
	Set func(req *http.Request, cred string)

	mu     sync.Mutex
	cred   string
	logins int
}

// Apply sets the session's credential, logging in first when there is
// none. Logins are serialised: concurrent calls share one.
func (s *Session) Apply(ctx context.Context, c *Client, req *http.Request) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred == "" {
		s.logins++
		cred, err := s.Login(ctx, c)
		if err != nil {
			return "", err
		}
		s.cred = cred
	}
	s.Set(req, s.cred)
	return s.cred, nil
}

// Invalidate forgets cred unless a new login already replaced it, and
// reports true: a fresh login is worth one try.
func (s *Session) Invalidate(cred string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred == cred {
		s.cred = ""
	}
	return true
}

// Take returns the current credential ("" when there is none) and forgets
// it, e.g. to log out.
func (s *Session) Take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	cred := s.cred
	s.cred = ""
	return cred
}

// Logins counts the logins tried so far.
func (s *Session) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}
