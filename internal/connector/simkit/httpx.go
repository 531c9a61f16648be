package simkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadJSON reads a request body of at most MaxBody bytes into v.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("unreadable body: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

// SetRetryAfter sets a Retry-After header of d, rounded up to whole
// seconds, as vendors send with 429 and 503.
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

// RateLimit is a fixed-window request limit (MDE: 100 calls per minute per
// tenant): Allow answers false, with how long until the window opens,
// once Max calls have been made in the window. Max 0 means no limit.
type RateLimit struct {
	Max    int
	Window time.Duration
	Now    func() time.Time

	start time.Time
	n     int
}

// Allow counts one call. The caller serialises access (simulators hold
// their own lock).
func (l *RateLimit) Allow() (ok bool, wait time.Duration) {
	if l.Max <= 0 {
		return true, 0
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	t := now()
	if l.start.IsZero() || t.Sub(l.start) >= l.Window {
		l.start, l.n = t, 0
	}
	if l.n >= l.Max {
		return false, l.start.Add(l.Window).Sub(t)
	}
	l.n++
	return true, 0
}
