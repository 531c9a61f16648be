package cybereason

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

// TestPullResumesExactly pulls through the cap (More), across a restart
// from a stored cursor, and again after MalOps arrive between pulls, some
// in the very millisecond of the checkpoint: every MalOp once, in order.
func TestPullResumesExactly(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := injectN(t, sim, c, 3, time.Second)
	want = append(want, injectN(t, sim, c, 3, 0)...) // three share one lastUpdateTime
	slices.Sort(want[3:])                            // one time: inbox order is by guid

	src := newSource(t, cfg, WithSourceClock(c.Now), WithMaxPerPull(2))
	page, err := src.Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 2 || !page.More {
		t.Fatalf("first pull: %d payloads, more=%v, %v", len(page.Payloads), page.More, err)
	}
	first := payloadGUIDs(t, page.Payloads)
	// Restart: a new Source resumes from the stored cursor.
	rest, cur := pullAll(t, newSource(t, cfg, WithSourceClock(c.Now), WithMaxPerPull(2)), page.Cursor)
	if diff := cmp.Diff(want, append(first, rest...)); diff != "" {
		t.Fatalf("pulled (-want +got):\n%s", diff)
	}

	// Two MalOps arrive in the checkpoint's millisecond, one later.
	more := injectN(t, sim, c, 2, 0)
	slices.Sort(more)
	c.Add(time.Second)
	more = append(more, injectN(t, sim, c, 1, 0)...)
	got, cur := pullAll(t, src, cur)
	if diff := cmp.Diff(more, got); diff != "" {
		t.Errorf("after arrivals (-want +got):\n%s", diff)
	}
	if again, _ := pullAll(t, src, cur); len(again) != 0 {
		t.Errorf("pulled %v again", again)
	}
}

// TestPullUpdatedMalopAgain: a MalOp updated after it was pulled comes
// again (same guid, newer lastUpdateTime); one not updated does not.
func TestPullUpdatedMalopAgain(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	src := newSource(t, cfg, WithSourceClock(c.Now))
	if err := sim.Inject([]byte(`{"guid":"AAAA01","severity":"High","machines":[{"guid":"m1","displayName":"h1"}]}`),
		[]byte(`{"guid":"AAAA02","severity":"Low","machines":[{"guid":"m2","displayName":"h2"}]}`)); err != nil {
		t.Fatal(err)
	}
	got, cur := pullAll(t, src, "")
	if !slices.Equal(got, []string{"AAAA01", "AAAA02"}) {
		t.Fatalf("first pull %v", got)
	}
	c.Add(time.Minute)
	if err := sim.Inject([]byte(`{"guid":"AAAA01","severity":"High","status":"Remediated","machines":[{"guid":"m1","displayName":"h1"}]}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := pullAll(t, src, cur); !slices.Equal(got, []string{"AAAA01"}) {
		t.Errorf("after the update pulled %v, want [AAAA01]", got)
	}
}

// TestPullFirstWindow: the first pull reads DefaultLookback (or the
// option's) back, no further; an empty inbox still gives a cursor.
func TestPullFirstWindow(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	old := injectN(t, sim, c, 1, 3*time.Hour)
	recent := injectN(t, sim, c, 1, time.Second)
	got, cur := pullAll(t, newSource(t, cfg, WithSourceClock(c.Now), WithLookback(2*time.Hour)), "")
	if !slices.Equal(got, recent) || slices.Contains(got, old[0]) {
		t.Errorf("pulled %v, want only %v", got, recent)
	}
	_, cfg2 := startSim(t, WithClock(c.Now))
	page, err := newSource(t, cfg2, WithSourceClock(c.Now)).Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 0 || page.Cursor == "" {
		t.Errorf("empty inbox: %d payloads, cursor %q, %v", len(page.Payloads), page.Cursor, err)
	}
	if _, err := newSource(t, cfg).Pull(context.Background(), "garbage"); err == nil {
		t.Error("a cursor not written by the source was accepted")
	}
	future := fmt.Sprintf(`{"last":%d}`, c.Now().Add(time.Hour).UnixMilli())
	if _, err := newSource(t, cfg, WithSourceClock(c.Now)).Pull(context.Background(), future); err != nil {
		t.Errorf("a checkpoint ahead of the clock: %v", err)
	}
	_ = cur
}

// TestPullFaults: every failure class of the inbox call.
func TestPullFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim)
		ctx       time.Duration // a deadline for the pull, 0: none
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{"429 with Retry-After", func(s *Sim) { s.FailNext(1, http.StatusTooManyRequests) }, 0, true, 2 * time.Second, nil, "HTTP 429"},
		{"500", func(s *Sim) { s.FailNext(1, http.StatusInternalServerError) }, 0, true, 0, nil, "HTTP 500"},
		{"503 with Retry-After", func(s *Sim) { s.FailNext(1, http.StatusServiceUnavailable) }, 0, true, 2 * time.Second, nil, "HTTP 503"},
		{"403 names the role", func(s *Sim) { s.Sessions().Deny(RoleMalops) }, 0, false, 0, ErrMissingPermission, "L1 Analyst"},
		{"400", func(s *Sim) { s.FailNext(1, http.StatusBadRequest) }, 0, false, 0, nil, "HTTP 400"},
		{"time-out", func(s *Sim) { s.SetLatency(time.Minute) }, 50 * time.Millisecond, true, 0, nil, "time-out"},
		{"rate limit", func(s *Sim) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.limit.Max, s.limit.Window = 1, time.Hour
			s.limit.Allow() // the window's one call is spent
		}, 0, true, time.Hour, nil, "HTTP 429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now))
			src := newSource(t, cfg, WithSourceClock(c.Now))
			if _, err := src.Pull(context.Background(), ""); err != nil { // logged in
				t.Fatal(err)
			}
			tc.setup(sim)
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			_, err := src.Pull(ctx, "")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
		})
	}
}

// TestSessionExpiry: however the console says the session is gone, the
// source logs in once more and the pull succeeds.
func TestSessionExpiry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer int
		expire func(*Sim)
	}{
		{"redirect to login", http.StatusFound, func(s *Sim) { s.Sessions().ExpireAll() }},
		{"401", http.StatusUnauthorized, func(s *Sim) { s.Sessions().ExpireAll() }},
		{"login page as 200", http.StatusOK, func(s *Sim) { s.Sessions().ExpireAll() }},
		{"session TTL ran out", http.StatusFound, nil},
		{"one injected 401", http.StatusFound, func(s *Sim) { s.FailNext(1, http.StatusUnauthorized) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now), WithSessionTTL(10*time.Minute), WithExpiredAnswer(tc.answer))
			want := injectN(t, sim, c, 1, time.Second)
			src := newSource(t, cfg, WithSourceClock(c.Now))
			if _, err := src.Pull(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			if tc.expire != nil {
				tc.expire(sim)
			} else {
				c.Add(11 * time.Minute)
			}
			got, _ := pullAll(t, src, "")
			if tc.expire == nil {
				got = want // the window moved past the MalOp; only the login matters
			}
			if !slices.Equal(got, want) {
				t.Errorf("pulled %v, want %v", got, want)
			}
			if n := sim.Sessions().Issued(); n != 2 {
				t.Errorf("%d logins, want 2 (one more after the session ended)", n)
			}
		})
	}
}

// TestLoginFailures: a refused login and a session refused right after a
// fresh login are clear, non-retryable failures; a login the console
// could not answer is retryable.
func TestLoginFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
		logins    int
	}{
		{"wrong password", func(_ *Sim, cfg *connector.Config) { cfg.ClientSecret = "wrong" }, false, 0, ErrUnauthorized, "check the user name and password", 0},
		{"session refused twice", func(s *Sim, _ *connector.Config) { s.FailNext(2, http.StatusUnauthorized) }, false, 0, ErrUnauthorized, "refused a session it had just opened", 2},
		{"login 503", func(s *Sim, _ *connector.Config) { s.LoginFaults.FailNext(1, http.StatusServiceUnavailable) }, true, 2 * time.Second, nil, "login: HTTP 503", 0},
		{"login 500", func(s *Sim, _ *connector.Config) { s.LoginFaults.FailNext(1, http.StatusInternalServerError) }, true, 0, nil, "login: HTTP 500", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			tc.setup(sim, &cfg)
			_, err := newSource(t, cfg).Pull(context.Background(), "")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
			if n := sim.Sessions().Issued(); n != tc.logins {
				t.Errorf("%d sessions issued, want %d", n, tc.logins)
			}
		})
	}
}

func TestNewSourceConfig(t *testing.T) {
	for _, cfg := range []connector.Config{
		{URL: "", ClientID: "u", ClientSecret: "p"},
		{URL: "https://x", ClientID: "", ClientSecret: "p"},
		{URL: "https://x", ClientID: "u", ClientSecret: ""},
		{URL: "ftp://x", ClientID: "u", ClientSecret: "p"},
	} {
		if _, err := NewSource(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}
