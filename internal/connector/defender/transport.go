package defender

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
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnauthorized marks refused credentials: the token request failed,
	// or the API refused a freshly issued token.
	ErrUnauthorized = errors.New("defender: unauthorized")
	// ErrMissingPermission marks a 403: the app registration lacks an API
	// permission (application role) with admin consent.
	ErrMissingPermission = errors.New("defender: app registration lacks an API permission")
	// ErrNotFound marks a 404: an unknown machine, file or action.
	ErrNotFound = errors.New("defender: not found")
)

// API permissions (application roles of "WindowsDefenderATP") the calls
// need, as a 403 names them.
const (
	PermAlertRead       = "Alert.Read.All"
	PermMachineRead     = "Machine.Read.All"
	PermMachineIsolate  = "Machine.Isolate"
	PermStopQuarantine  = "Machine.StopAndQuarantine"
	PermFileRead        = "File.Read.All"
	PermIndicatorsWrite = "Ti.ReadWrite.All"
)

// Hosts and the token audience of the commercial and GCC-High clouds.
const (
	loginCommercial    = "https://login.microsoftonline.com"
	loginGov           = "https://login.microsoftonline.us"
	resourceCommercial = "https://api.securitycenter.microsoft.com"
	resourceGov        = "https://api-gov.securitycenter.microsoft.us"
)

// API paths.
const (
	pathAlerts         = "/api/alerts"
	pathMachines       = "/api/machines/"
	pathMachineActions = "/api/machineactions"
	pathFiles          = "/api/files/"
	pathIndicators     = "/api/indicators"
)

const (
	defaultTimeout = 30 * time.Second
	maxBody        = 64 << 20
	maxErrBody     = 64 << 10
	tokenMargin    = time.Minute // refresh this long before expiry
)

// apiError is a non-retryable failure with a message fit for logs.
type apiError struct {
	status int
	code   string // MDE's error.code, when it sent one
	msg    string
	kind   error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// endpoints is where a Config sends token requests and API calls.
type endpoints struct {
	api      *url.URL
	login    string // base of POST /{tenant}/oauth2/token
	resource string
	tenant   string
	clientID string
}

// parseConfig reads a Config: URL is the API base, ClientID is
// "<tenant id>/<application (client) id>". The login host follows the API
// host: *.microsoft.us (GCC High) logs in at login.microsoftonline.us, any
// other *.microsoft.com at login.microsoftonline.com, and any other host
// (the simulator, a proxy) serves the token endpoint itself. A query
// parameter login=<base URL> on Config.URL overrides the rule.
func parseConfig(cfg connector.Config) (endpoints, error) {
	var ep endpoints
	raw := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if raw == "" {
		return ep, errors.New("defender: Config.URL (the API base, e.g. https://api.securitycenter.microsoft.com) is required")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ep, fmt.Errorf("defender: Config.URL %q is not an http(s) base URL", cfg.URL)
	}
	tenant, client, ok := strings.Cut(strings.TrimSpace(cfg.ClientID), "/")
	if !ok || tenant == "" || client == "" || strings.Contains(client, "/") {
		return ep, errors.New(`defender: Config.ClientID must be "<tenant id>/<application (client) id>" of the Entra ID app registration`)
	}
	if strings.TrimSpace(cfg.ClientSecret) == "" {
		return ep, errors.New("defender: Config.ClientSecret (the app registration's client secret) is required")
	}
	ep = endpoints{api: u, tenant: tenant, clientID: client, login: u.Scheme + "://" + u.Host, resource: resourceCommercial}
	host := strings.ToLower(u.Hostname())
	switch {
	case strings.HasSuffix(host, ".microsoft.us"):
		ep.login, ep.resource = loginGov, resourceGov
	case strings.HasSuffix(host, ".microsoft.com"):
		ep.login = loginCommercial
	}
	// An explicit ?login=<base URL> wins, for an API reached through a
	// proxy host or a sovereign cloud the rule above does not know.
	if q := u.Query(); q.Get("login") != "" {
		l, err := url.Parse(strings.TrimRight(q.Get("login"), "/"))
		if err != nil || l.Host == "" || (l.Scheme != "http" && l.Scheme != "https") {
			return endpoints{}, fmt.Errorf("defender: Config.URL's login=%q is not an http(s) base URL", q.Get("login"))
		}
		ep.login = l.String()
		u.RawQuery = ""
	}
	return ep, nil
}

// api sends authenticated calls to one tenant's MDE API and maps failures
// onto bannin's errors.
type api struct {
	ep     endpoints
	secret string
	hc     *http.Client
	now    func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

func newAPI(cfg connector.Config) (*api, error) {
	ep, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &api{ep: ep, secret: strings.TrimSpace(cfg.ClientSecret), hc: hc, now: time.Now}, nil
}

// call sends one request and returns the body of a 2xx answer. body, when
// not nil, is sent as JSON. On 401 it fetches a new token and repeats the
// request once; a second 401 is ErrUnauthorized.
func (a *api) call(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	where := method + " " + path
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("defender: %s: %w", where, err)
		}
		payload = b
	}
	for attempt := 0; ; attempt++ {
		tok, err := a.bearer(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := a.send(ctx, method, path, q, payload, tok)
		if err != nil {
			return nil, connector.ClassifyNetwork("defender: "+where, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			discard(resp)
			a.drop(tok)
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			return nil, a.statusError(resp, where, method, path, attempt > 0)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return nil, connector.ClassifyNetwork("defender: "+where+": reading the answer", err)
		}
		return b, nil
	}
}

func (a *api) send(ctx context.Context, method, path string, q url.Values, payload []byte, tok string) (*http.Response, error) {
	u := *a.ep.api
	u.Path = strings.TrimRight(a.ep.api.Path, "/") + path
	u.RawQuery = odataQuery(q)
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return a.hc.Do(req)
}

// odataQuery encodes a query with %20 for spaces, as OData examples write
// $filter, rather than form encoding's '+'.
func odataQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// statusError turns an HTTP failure into an error: 429 and 5xx into
// *connector.RetryableError (with Retry-After), 403 into
// ErrMissingPermission naming the permission, 401 into ErrUnauthorized.
func (a *api) statusError(resp *http.Response, where, method, path string, refreshed bool) error {
	code := resp.StatusCode
	msg, vendorCode := errorMessage(resp.Body, code)
	switch {
	case connector.RetryableStatus(code):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return &connector.RetryableError{After: after, Err: fmt.Errorf("defender: %s: HTTP %d: %s", where, code, msg)}
	case code == http.StatusUnauthorized:
		hint := "the token was refused"
		if refreshed {
			hint = "a freshly issued token was refused too: check that the app registration is in the tenant and consented"
		}
		return &apiError{status: code, kind: ErrUnauthorized, msg: fmt.Sprintf("defender: %s: HTTP 401 (%s): %s", where, msg, hint)}
	case code == http.StatusForbidden:
		return &apiError{status: code, kind: ErrMissingPermission,
			msg: fmt.Sprintf("defender: %s: HTTP 403 (%s): grant the app registration the WindowsDefenderATP application permission %q, with admin consent", where, msg, permissionFor(method, path))}
	case code == http.StatusNotFound:
		return &apiError{status: code, kind: ErrNotFound, msg: fmt.Sprintf("defender: %s: HTTP 404: %s", where, msg)}
	}
	return &apiError{status: code, code: vendorCode, msg: fmt.Sprintf("defender: %s: HTTP %d: %s", where, code, msg)}
}

// errorMessage reads MDE's {"error":{"code","message"}}: a message for
// logs and the code.
func errorMessage(body io.Reader, code int) (msg, vendorCode string) {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(body, maxErrBody))
	if json.Unmarshal(b, &env) != nil || env.Error.Code+env.Error.Message == "" {
		return http.StatusText(code), ""
	}
	e := env.Error
	switch {
	case e.Message == "":
		return e.Code, e.Code
	case e.Code == "":
		return e.Message, ""
	}
	return e.Code + ": " + e.Message, e.Code
}

// hasCode reports whether err is an API answer with MDE error code c.
func hasCode(err error, c string) bool {
	var ae *apiError
	return errors.As(err, &ae) && strings.EqualFold(ae.code, c)
}

// permissionFor names the application permission an endpoint needs.
func permissionFor(method, path string) string {
	switch {
	case strings.HasPrefix(path, pathAlerts):
		return PermAlertRead
	case strings.HasPrefix(path, pathMachines) && (strings.HasSuffix(path, "/isolate") || strings.HasSuffix(path, "/unisolate")):
		return PermMachineIsolate
	case strings.HasSuffix(path, "/StopAndQuarantineFile"):
		return PermStopQuarantine
	case strings.HasPrefix(path, pathFiles):
		return PermFileRead
	case strings.HasPrefix(path, pathIndicators):
		return PermIndicatorsWrite
	}
	return PermMachineRead
}

// bearer returns a cached token, or fetches one.
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
	a.token, a.expiry = tok, a.now().Add(max(ttl-tokenMargin, ttl/2))
	return tok, nil
}

// drop forgets tok, unless another call already replaced it.
func (a *api) drop(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == tok {
		a.token = ""
	}
}

// fetchToken asks Entra ID (v1 endpoint) for a client-credentials token.
func (a *api) fetchToken(ctx context.Context) (string, time.Duration, error) {
	where := "POST /" + a.ep.tenant + "/oauth2/token"
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {a.ep.clientID},
		"client_secret": {a.secret}, "resource": {a.ep.resource},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		a.ep.login+"/"+url.PathEscape(a.ep.tenant)+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("defender: %s: %w", where, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", 0, connector.ClassifyNetwork("defender: "+where, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"` // v1 sends a string
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	_ = json.Unmarshal(b, &tr)
	switch {
	case connector.RetryableStatus(resp.StatusCode):
		after, _ := connector.RetryAfter(resp.Header, a.now)
		return "", 0, &connector.RetryableError{After: after, Err: fmt.Errorf("defender: %s: HTTP %d", where, resp.StatusCode)}
	case resp.StatusCode != http.StatusOK || tr.AccessToken == "":
		msg := strings.TrimSpace(tr.Error + ": " + firstLine(tr.Description))
		return "", 0, &apiError{status: resp.StatusCode, kind: ErrUnauthorized,
			msg: fmt.Sprintf("defender: %s: HTTP %d (%s): token request refused: check the tenant id, application (client) id and client secret", where, resp.StatusCode, strings.Trim(msg, ": "))}
	}
	secs, err := strconv.Atoi(strings.Trim(string(tr.ExpiresIn), `"`))
	if err != nil || secs <= 0 {
		secs = 3599
	}
	return tr.AccessToken, time.Duration(secs) * time.Second, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrBody))
	resp.Body.Close()
}

// wrap prefixes an error from call with what was being done, keeping its
// class (retryable or not).
func wrap(prefix string, err error) error { return connector.Rewrap(prefix, err) }
