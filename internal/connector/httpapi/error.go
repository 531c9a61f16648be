package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Error is a failed call: the status and the vendor's own message, fit
// for logs. It unwraps to Kind, the vendor's sentinel error for the status
// (ErrUnauthorized, ErrNotFound, ...). A 429 or 5xx Error comes wrapped in
// a *connector.RetryableError.
type Error struct {
	// Status is the HTTP status (0 when the error is not an answer's).
	Status int
	// Vendor prefixes the message.
	Vendor string
	// Method and Path are the call's; Where names it in the message.
	Method, Path, Where string
	// Msg is the vendor's message, or an excerpt of the body, or the
	// status text.
	Msg string
	// Code is the vendor's error code, when its body has one.
	Code string
	// Hint says what to do about it (which permission to grant ...).
	Hint string
	// Kind is what the error unwraps to.
	Kind error
	// Retried is set when the call failed after its credential was
	// renewed; Expired then says why the credential counted as expired.
	Retried bool
	Expired string
	// Header is the failed answer's header.
	Header http.Header
	// Text, when set, is the whole message.
	Text string
}

// Error reads "vendor: where: HTTP status: msg", or with a hint
// "vendor: where: HTTP status (msg): hint".
func (e *Error) Error() string {
	if e.Text != "" {
		return e.Text
	}
	var b strings.Builder
	if e.Vendor != "" {
		b.WriteString(e.Vendor + ": ")
	}
	if e.Where != "" {
		b.WriteString(e.Where + ": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	switch {
	case e.Hint != "" && e.Msg != "":
		fmt.Fprintf(&b, " (%s): %s", e.Msg, e.Hint)
	case e.Hint != "":
		b.WriteString(": " + e.Hint)
	case e.Msg != "":
		b.WriteString(": " + e.Msg)
	}
	return b.String()
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Error turns a failed answer into an error: the vendor's message read
// with Message, the Kind from Kinds, adjusted by Classify; a 429 or 5xx
// comes as a *connector.RetryableError with the API's Retry-After.
func (c *Client) Error(r *Response) error {
	e := c.newError(r, c.Message)
	e.Kind = c.Kinds[r.Status]
	if c.Classify != nil {
		c.Classify(e)
	}
	return c.retryable(e)
}

// newError fills an Error from an answer, its message read with msg.
func (c *Client) newError(r *Response, msg func(int, http.Header, []byte) (string, string)) *Error {
	e := &Error{Status: r.Status, Vendor: c.Vendor, Method: r.method, Path: r.path, Where: r.where,
		Retried: r.Retried, Header: r.Header}
	if msg == nil {
		e.Msg = Excerpt(r.Body)
	} else {
		e.Msg, e.Code = msg(r.Status, r.Header, r.Body)
	}
	if e.Msg == "" {
		e.Msg = http.StatusText(r.Status)
	}
	return e
}

// retryable wraps a 429 or 5xx Error in a *connector.RetryableError.
func (c *Client) retryable(e *Error) error {
	if !connector.RetryableStatus(e.Status) {
		return e
	}
	return &connector.RetryableError{After: c.retryAfter(e.Header), Err: e}
}

func (c *Client) retryAfter(h http.Header) time.Duration {
	if c.RetryAfter != nil {
		return c.RetryAfter(h, c.now)
	}
	d, _ := connector.RetryAfter(h, c.now)
	return d
}

// expiredError is the error of a call whose credential was refused again
// right after it was renewed: an unauthorized Error (status 401 even when
// the API said so otherwise, e.g. with a redirect to its login page).
func (c *Client) expiredError(r *Response, why string) error {
	e := c.newError(r, c.Message)
	e.Status, e.Retried, e.Expired = http.StatusUnauthorized, true, why
	e.Kind = c.Kinds[http.StatusUnauthorized]
	if c.Classify != nil {
		c.Classify(e)
	}
	return e
}

// excerptLen bounds Excerpt.
const excerptLen = 200

// Excerpt is the first line of body, trimmed and cut to 200 bytes: a
// failed answer's message when the vendor's body is not understood.
func Excerpt(body []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	s = strings.TrimSpace(s)
	if len(s) > excerptLen {
		s = s[:excerptLen]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.ToValidUTF8(s, "?")
}
