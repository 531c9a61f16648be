package connector

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"7", 7 * time.Second, true}, {"0", 0, true}, {"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	} {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		if d, ok := RetryAfter(h, func() time.Time { return now }); d != c.want || ok != c.ok {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", c.v, d, ok, c.want, c.ok)
		}
	}
}

func TestClassifyNetwork(t *testing.T) {
	var re *RetryableError
	if err := ClassifyNetwork("pull", context.DeadlineExceeded); !errors.As(err, &re) {
		t.Errorf("time-out: %v, want retryable", err)
	}
	if err := ClassifyNetwork("pull", &url.Error{Op: "Get", URL: "http://x", Err: errors.New("refused")}); !errors.As(err, &re) {
		t.Errorf("network failure: %v, want retryable", err)
	}
	if err := ClassifyNetwork("pull", context.Canceled); errors.As(err, &re) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancellation: %v, want kept as it is", err)
	}
	err := Rewrap("isolate", &RetryableError{After: time.Second, Err: errors.New("429")})
	if !errors.As(err, &re) || re.After != time.Second {
		t.Errorf("Rewrap lost the class or Retry-After: %v", err)
	}
	if !RetryableStatus(429) || !RetryableStatus(503) || RetryableStatus(404) {
		t.Error("RetryableStatus: want 429 and 5xx only")
	}
}
