package notify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Channel delivers a rendered message to one recipient. Implementations are
// safe for concurrent use. Send returns a PermanentError when retrying cannot
// help (the recipient was refused, the address is malformed); every other
// error is worth retrying, after RetryAfterError.After when it says so.
type Channel interface {
	// Name is the channel's name as notifications record it: "email",
	// "slack" or "phone".
	Name() string
	Send(ctx context.Context, to Address, m Message) (Receipt, error)
}

// Every channel satisfies Channel.
var (
	_ Channel = (*Email)(nil)
	_ Channel = (*Slack)(nil)
	_ Channel = (*Phone)(nil)
	_ Channel = (*Hook)(nil)
)

// Address is one contact of the tenant file. Each channel reads the field it
// needs and refuses, permanently, a contact without it.
type Address struct {
	URL          string // a generic webhook endpoint (via: webhook)
	Email        string
	Phone        string // "+81-3-5555-0100"
	SlackWebhook string // the incoming-webhook URL of the contact's channel
	Name         string // shown in the mail's To header
}

// Receipt records a delivery the other side accepted.
type Receipt struct {
	At time.Time
	// Detail is what the other side answered: the SMTP server's final reply,
	// or the HTTP status and the start of the body. Kept for the audit trail.
	Detail string
}

// PermanentError marks a failure that the same request will meet again: an
// SMTP 5xx refusal, an HTTP 4xx other than 408 and 429, a malformed or missing
// address. The notify job stops retrying and escalates instead.
type PermanentError struct {
	Err error
}

// Error implements error.
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err, or any error it wraps, is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// permanentf builds a PermanentError from a format, for bad addresses and
// other refusals found before anything was sent.
func permanentf(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, args...)}
}

// RetryAfterError is a retryable failure where the other side said when to
// come back (HTTP Retry-After). Retrying sooner would only be refused again,
// and hammering a rate-limited telephony provider can get the account
// blocked.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

// Error implements error.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the delay a RetryAfterError in err's chain asks for.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.After, true
	}
	return 0, false
}
