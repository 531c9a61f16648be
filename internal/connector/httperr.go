package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RetryableStatus reports whether an HTTP status is worth retrying: 429 and
// every 5xx.
func RetryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// RetryAfter reads a Retry-After header in seconds or as an HTTP date; ok
// is false when there is none that parses.
func RetryAfter(h http.Header, now func() time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now())), true
	}
	return 0, false
}

// ClassifyNetwork prefixes err with what was being done (msg) and makes
// time-outs and network failures retryable; cancellation and anything else
// stay as they are.
func ClassifyNetwork(msg string, err error) error {
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", msg, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &RetryableError{Err: fmt.Errorf("%s: time-out: %w", msg, err)}
	case errors.As(err, &ue):
		return &RetryableError{Err: fmt.Errorf("%s: %w", msg, err)}
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// Rewrap prefixes err with what was being done, keeping its class: a
// RetryableError stays retryable, with its Retry-After.
func Rewrap(prefix string, err error) error {
	var re *RetryableError
	if errors.As(err, &re) {
		return &RetryableError{After: re.After, Err: fmt.Errorf("%s: %w", prefix, re.Err)}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
