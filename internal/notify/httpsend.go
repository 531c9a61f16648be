package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// defaultHTTPTimeout bounds a webhook call when the caller's context has no
// deadline: a hung telephony provider must not hold the notify job forever.
const defaultHTTPTimeout = 15 * time.Second

// StatusError is a webhook answering with a status other than 2xx.
type StatusError struct {
	Code int
	Body string // the start of the response body, for the audit trail
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// webhook is the HTTP side shared by the Slack and phone channels.
type webhook struct {
	client *http.Client
	now    func() time.Time
}

func newWebhook() webhook {
	return webhook{client: &http.Client{Timeout: defaultHTTPTimeout}, now: time.Now}
}

// post sends body as JSON to target and classifies the answer: 2xx is a
// receipt, 408/429/5xx retryable (with Retry-After when given), other 4xx
// permanent. label names the channel in errors; the URL itself never
// appears in them, because webhook URLs are credentials.
func (w webhook) post(ctx context.Context, label, target string, body []byte, header http.Header) (Receipt, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Receipt{}, permanentf("%s: webhook URL is not an http(s) URL", label)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Receipt{}, permanentf("%s: build request: %v", label, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "bannin-notify")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: it carries the webhook's secret path
		}
		return Receipt{}, fmt.Errorf("%s: post: %w", label, err)
	}
	defer resp.Body.Close()
	snippet := readSnippet(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Receipt{At: w.now(), Detail: strings.TrimSpace(fmt.Sprintf("HTTP %d %s", resp.StatusCode, snippet))}, nil
	}
	serr := fmt.Errorf("%s: %w", label, &StatusError{Code: resp.StatusCode, Body: snippet})
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests || c == http.StatusRequestTimeout || c >= 500:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), w.now()); ok {
			return Receipt{}, &RetryAfterError{After: d, Err: serr}
		}
		return Receipt{}, serr
	case c >= 400:
		return Receipt{}, &PermanentError{Err: serr}
	}
	return Receipt{}, serr // 1xx/3xx left over after redirects: odd, maybe transient
}

// readSnippet reads the start of a response body, on one line. The rest is
// drained (up to a bound) so the connection can be reused.
func readSnippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	return oneLine(strings.ToValidUTF8(string(b), ""))
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date (RFC 9110
// §10.2.3). A date in the past means "now".
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}
