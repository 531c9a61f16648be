package httpapi

import (
	"context"
	"sync"
	"time"
)

// Limiter is a token bucket: Rate calls per second on average, up to Burst
// at once. A call that finds the bucket empty waits for its turn on the
// client's clock (Client.Now and Client.Sleep), so that a replay on virtual
// time waits virtually.
type Limiter struct {
	Rate  float64 // calls per second; <= 0 is no limit
	Burst int     // calls at once; < 1 is 1

	mu     sync.Mutex
	tokens float64
	last   time.Time
	primed bool
}

// NewLimiter returns a limiter of n calls per period, up to burst at once.
func NewLimiter(n int, per time.Duration, burst int) *Limiter {
	return &Limiter{Rate: float64(n) / per.Seconds(), Burst: burst}
}

// Wait takes one call's token, sleeping (with sleep) until there is one.
func (l *Limiter) Wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error) error {
	d := l.reserve(now())
	if d <= 0 {
		return ctx.Err()
	}
	return sleep(ctx, d)
}

// reserve takes a token at t and returns how long to wait until it is due.
func (l *Limiter) reserve(t time.Time) time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := float64(max(l.Burst, 1))
	if !l.primed {
		l.tokens, l.last, l.primed = burst, t, true
	}
	if t.After(l.last) {
		l.tokens = min(burst, l.tokens+t.Sub(l.last).Seconds()*l.Rate)
		l.last = t
	}
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.Rate * float64(time.Second))
}
