package sophos

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
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks a call Sophos refused for its credentials: the
	// token request failed, or a freshly issued token was refused too.
	ErrUnauthorized = errors.New("sophos: unauthorized")
	// ErrMissingRole marks a 403: the API credential's role does not allow
	// the call.
	ErrMissingRole = errors.New("sophos: API credential's role does not allow this")
	// ErrNotTenant marks a partner or organization credential: bannin needs
	// a tenant-level one.
	ErrNotTenant = errors.New("sophos: not a tenant-level API credential")
	// ErrNotFound marks a 404, e.g. an unknown endpoint or alert id.
	ErrNotFound = errors.New("sophos: not found")
)

// API paths.
const (
	pathToken        = "/api/v2/oauth2/token"
	pathWhoami       = "/whoami/v1"
	pathSIEMAlerts   = "/siem/v1/alerts"
	pathEndpoints    = "/endpoint/v1/endpoints"
	pathBulkIsolate  = "/endpoint/v1/endpoints/isolation"
	pathBlockedItems = "/endpoint/v1/settings/blocked-items"
	pathAlerts       = "/common/v1/alerts"
	tenantHeader     = "X-Tenant-ID"
)

// Roles of a Sophos Central API credential, as a 403 names them. Reading
// needs Read-Only (or any higher role); isolation, blocked items and alert
// actions need Management (or Super Admin).
const (
	RoleReadOnly   = "Service Principal Read-Only"
	RoleManagement = "Service Principal Management"
)

// Sophos's production hosts: the token issuer and the global API host that
// answers whoami.
const (
	globalHost      = "api.central.sophos.com"
	productionToken = "https://id.sophos.com" + pathToken
)

const (
	defaultTimeout = 30 * time.Second
	maxBody        = 64 << 20
	maxErrBody     = 64 << 10
)

// apiError is a non-retryable API failure with a message fit for logs.
type apiError struct {
	status int
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// api sends authenticated calls to one Sophos Central tenant. It fetches a
// bearer token (client credentials, scope "token"), asks whoami which
// tenant the credential is for and in which data region it lives, and sends
// tenant calls there with X-Tenant-ID.
type api struct {
	global *url.URL // answers whoami
	conf   clientcredentials.Config
	hc     *http.Client
	now    func() time.Time

	mu     sync.Mutex
	tok    *oauth2.Token
	tenant string
	region *url.URL
}

// newAPI reads cfg: URL is the global API host (https://api.central.sophos.com;
// the simulator's own URL in tests). Tokens come from id.sophos.com for the
// production host, else from the same URL.
func newAPI(cfg connector.Config) (*api, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("sophos: Config.URL (the global API host, https://" + globalHost + ") is required")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("sophos: Config.ClientID and ClientSecret (a tenant API credential) are required")
	}
	u, err := baseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sophos: Config.URL: %w", err)
	}
	tokenURL := u.String() + pathToken
	if u.Host == globalHost {
		tokenURL = productionToken
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &api{
		global: u,
		conf: clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			TokenURL: tokenURL, Scopes: []string{"token"}, AuthStyle: oauth2.AuthStyleInParams},
		hc:  hc,
		now: time.Now,
	}, nil
}

// baseURL parses an http(s) base URL without a trailing slash.
func baseURL(raw string) (*url.URL, error) {
	raw = strings.TrimRight(strings.TrimSpace(raw), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q is not an http(s) base URL", raw)
	}
	return u, nil
}

// call sends one tenant call and returns the body of a 2xx answer. body,
// when not nil, is sent as JSON. Failures are classified: see statusError.
func (a *api) call(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	region, tenant, err := a.discover(ctx)
	if err != nil {
		return nil, err
	}
	var b []byte
	if body != nil {
		if b, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("sophos: %s %s: %w", method, path, err)
		}
	}
	u := *region
	u.Path = strings.TrimRight(region.Path, "/") + path
	u.RawQuery = q.Encode()
	b, err = a.send(ctx, method, &u, b, tenant)
	if errors.Is(err, ErrUnauthorized) {
		// A fresh token was refused too: the tenant id or region may be
		// stale. Ask whoami again on the next call.
		a.mu.Lock()
		a.region, a.tenant = nil, ""
		a.mu.Unlock()
	}
	return b, err
}

// whoami is Sophos's answer to GET /whoami/v1.
type whoami struct {
	ID       string `json:"id"`
	IDType   string `json:"idType"`
	APIHosts struct {
		Global     string `json:"global"`
		DataRegion string `json:"dataRegion"`
	} `json:"apiHosts"`
}

// discover returns the tenant's data-region URL and tenant id, asking
// whoami once.
func (a *api) discover(ctx context.Context) (*url.URL, string, error) {
	a.mu.Lock()
	region, tenant := a.region, a.tenant
	a.mu.Unlock()
	if region != nil {
		return region, tenant, nil
	}
	u := *a.global
	u.Path = strings.TrimRight(a.global.Path, "/") + pathWhoami
	b, err := a.send(ctx, http.MethodGet, &u, nil, "")
	if err != nil {
		return nil, "", err
	}
	var w whoami
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, "", fmt.Errorf("sophos: GET %s: answer is not whoami: %w", pathWhoami, err)
	}
	if !strings.EqualFold(w.IDType, "tenant") {
		return nil, "", &apiError{kind: ErrNotTenant, msg: fmt.Sprintf(
			"sophos: the API credential is a %s credential (id %s): bannin needs a tenant-level credential; "+
				"create one in the tenant's Sophos Central under Global Settings > API Credentials Management", w.IDType, w.ID)}
	}
	if w.ID == "" {
		return nil, "", fmt.Errorf("sophos: GET %s: answer names no tenant id", pathWhoami)
	}
	region, err = baseURL(w.APIHosts.DataRegion)
	if err != nil || w.APIHosts.DataRegion == "" {
		return nil, "", fmt.Errorf("sophos: GET %s: apiHosts.dataRegion %q is not a URL", pathWhoami, w.APIHosts.DataRegion)
	}
	a.mu.Lock()
	a.region, a.tenant = region, w.ID
	a.mu.Unlock()
	return region, w.ID, nil
}

// send makes one request with a bearer token. On 401 it drops the token,
// fetches a fresh one and repeats the request once; a second 401 is
// ErrUnauthorized.
func (a *api) send(ctx context.Context, method string, u *url.URL, body []byte, tenant string) ([]byte, error) {
	where := method + " " + u.Path
	for attempt := 0; ; attempt++ {
		tok, err := a.token(ctx)
		if err != nil {
			return nil, err
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, fmt.Errorf("sophos: %s: %w", where, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if tenant != "" {
			req.Header.Set(tenantHeader, tenant)
		}
		resp, err := a.hc.Do(req)
		if err != nil {
			return nil, connector.ClassifyNetwork("sophos: "+where, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			discard(resp)
			a.invalidate(tok)
			continue
		}
		if resp.StatusCode >= 300 {
			defer resp.Body.Close()
			return nil, a.statusError(resp, where, method, attempt > 0)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, connector.ClassifyNetwork("sophos: "+where+": reading the answer", err)
		}
		return b, nil
	}
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody))
	resp.Body.Close()
}

// token returns the cached token or fetches one.
func (a *api) token(ctx context.Context) (*oauth2.Token, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok.Valid() {
		return a.tok, nil
	}
	tok, err := a.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, a.hc))
	if err != nil {
		return nil, a.tokenError(err)
	}
	a.tok = tok
	return tok, nil
}

func (a *api) invalidate(old *oauth2.Token) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == old {
		a.tok = nil
	}
}

// tokenError classifies a failed token request: 429 and 5xx are
// retryable, other refusals ErrUnauthorized.
func (a *api) tokenError(err error) error {
	where := "sophos: POST " + pathToken
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return connector.ClassifyNetwork(where, err)
	}
	code := re.Response.StatusCode
	if connector.RetryableStatus(code) {
		after, _ := connector.RetryAfter(re.Response.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("%s: HTTP %d", where, code)}
	}
	msg := errorMessage(bytes.NewReader(re.Body), code)
	return &apiError{status: code, kind: ErrUnauthorized,
		msg: fmt.Sprintf("%s: HTTP %d (%s): token request refused: check the API credential's client id and secret", where, code, msg)}
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with Retry-After), 403 into ErrMissingRole
// naming the role, 401 (after a fresh token) into ErrUnauthorized.
func (a *api) statusError(resp *http.Response, where, method string, refreshed bool) error {
	code := resp.StatusCode
	msg := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("sophos: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusUnauthorized:
		why := "the token was refused"
		if refreshed {
			why = "a freshly issued token was refused too: check the API credential (it may be deleted or expired) and the X-Tenant-ID"
		}
		return &apiError{status: code, kind: ErrUnauthorized, msg: fmt.Sprintf("sophos: %s: HTTP 401 (%s): %s", where, msg, why)}
	case code == http.StatusForbidden:
		return &apiError{status: code, kind: ErrMissingRole, msg: fmt.Sprintf(
			"sophos: %s: HTTP 403 (%s): the API credential needs the %q role (or Service Principal Super Admin)", where, msg, roleFor(method))}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("sophos: %s: HTTP 404: %s", where, msg)}
	}
	return &apiError{status: code, msg: fmt.Sprintf("sophos: %s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads Sophos's error body {"error","message",
// "correlationId"} (the token issuer: {"errorCode","message"}).
func errorMessage(body io.Reader, code int) string {
	var e struct {
		Error         string `json:"error"`
		ErrorCode     string `json:"errorCode"`
		Message       string `json:"message"`
		CorrelationID string `json:"correlationId"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, maxErrBody))
	if json.Unmarshal(b, &e) != nil {
		return http.StatusText(code)
	}
	parts := []string{}
	for _, s := range []string{e.Error, e.ErrorCode, e.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return http.StatusText(code)
	}
	msg := strings.Join(parts, ": ")
	if e.CorrelationID != "" {
		msg += " (correlationId " + e.CorrelationID + ")"
	}
	return msg
}

// roleFor names the API credential role a call needs.
func roleFor(method string) string {
	if method == http.MethodGet {
		return RoleReadOnly
	}
	return RoleManagement
}
