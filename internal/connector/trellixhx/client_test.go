package trellixhx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

func TestSourcePullsAllPages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, page  int
		step     time.Duration
		wantMore int // pages that said More
	}{
		{"spread", 7, 3, time.Second, 2},
		{"one instant across pages", 7, 3, 0, 2},
		{"exact pages", 6, 3, time.Millisecond, 1},
		{"empty", 0, 3, time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now))
			want := inject(t, sim, c, tc.n, tc.step)
			src := newSource(t, cfg, WithPageSize(tc.page))
			var got []string
			cur, more := "", 0
			for range 100 {
				p, err := src.Pull(context.Background(), cur)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, conntest.PayloadIDs(t, Decoder{}, p.Payloads)...)
				cur = p.Cursor
				if !p.More {
					break
				}
				more++
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if more != tc.wantMore {
				t.Errorf("%d pages said More, want %d", more, tc.wantMore)
			}
			// Nothing new: the cursor returns nothing, and stays usable.
			p, err := src.Pull(context.Background(), cur)
			if err != nil || len(p.Payloads) != 0 || p.More {
				t.Errorf("pull past the end: %d payloads, more %v, %v", len(p.Payloads), p.More, err)
			}
		})
	}
}

// TestSourceResumes restarts from each returned cursor with a new Source (a
// new session, as after a crash), with alerts arriving between pulls,
// some at the very instant of the last one returned.
func TestSourceResumes(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 5, time.Second)
	got, cur := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, "")

	c.Add(-time.Second) // the next alert shares the last one's reported_at
	want = append(want, inject(t, sim, c, 2, 0)...)
	c.Add(time.Second)
	want = append(want, inject(t, sim, c, 3, time.Second)...)
	more, cur := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, cur)
	got = append(got, more...)

	want = append(want, inject(t, sim, c, 1, time.Second)...)
	more, _ = conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, cur)
	got = append(got, more...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids across restarts (-want +got):\n%s", diff)
	}
}

// TestSourceResumesFromEveryCursor stores every cursor a paging run returns
// and checks that resuming from any of them yields exactly the rest.
func TestSourceResumesFromEveryCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	var all []string
	for _, step := range []time.Duration{0, 0, time.Second, 0, time.Second, time.Second, 0, 0, 0, time.Second} {
		all = append(all, inject(t, sim, c, 1, step)...)
	}
	src := newSource(t, cfg, WithPageSize(2))
	type mark struct {
		cursor string
		seen   int
	}
	marks := []mark{{"", 0}}
	seen := 0
	cur := ""
	for range 100 {
		p, err := src.Pull(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Payloads)
		cur = p.Cursor
		marks = append(marks, mark{cur, seen})
		if !p.More {
			break
		}
	}
	for _, m := range marks {
		rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, m.cursor)
		if diff := cmp.Diff(all[m.seen:], rest, cmpEmpty); diff != "" {
			t.Errorf("resume after %d alerts (-want +got):\n%s", m.seen, diff)
		}
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func TestSourceBadCursor(t *testing.T) {
	_, cfg := startSim(t)
	for _, cur := range []string{"nope", `{"offset":-1}`, `{"reported_at":"yesterday"}`} {
		if _, err := newSource(t, cfg).Pull(context.Background(), cur); err == nil || !strings.Contains(err.Error(), "not written by this source") {
			t.Errorf("cursor %q: err = %v", cur, err)
		}
	}
}

// TestSourceSession checks the HX session: one login for many calls, a
// fresh login (once) when the session expired or went idle, and logout.
func TestSourceSession(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	inject(t, sim, c, 3, time.Second)
	src := newSource(t, cfg, WithPageSize(1))
	if ids, _ := conntest.PullAll(t, src, Decoder{}, ""); len(ids) != 3 || sim.Logins() != 1 {
		t.Fatalf("got %d alerts with %d logins, want 3 with 1", len(ids), sim.Logins())
	}
	sim.ExpireSessions()
	if _, err := src.Pull(context.Background(), ""); err != nil || sim.Logins() != 2 {
		t.Fatalf("after ExpireSessions: %v, %d logins; want a second login", err, sim.Logins())
	}
	c.Add(SimIdleTimeout - time.Second) // still alive: use renews it
	if _, err := src.Pull(context.Background(), ""); err != nil || sim.Logins() != 2 {
		t.Fatalf("within the idle time: %v, %d logins; want no new login", err, sim.Logins())
	}
	c.Add(SimIdleTimeout)
	if _, err := src.Pull(context.Background(), ""); err != nil || sim.Logins() != 3 {
		t.Fatalf("after the idle time: %v, %d logins; want a third login", err, sim.Logins())
	}
	if err := src.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Pull(context.Background(), ""); err != nil || sim.Logins() != 4 {
		t.Fatalf("after logout: %v, %d logins; want a fourth login", err, sim.Logins())
	}
}

func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{"wrong password", func(_ *Sim, c *connector.Config) { c.ClientSecret = "wrong" },
			false, 0, ErrUnauthorized, "refused the API user's name or password"},
		{"missing role", func(s *Sim, _ *connector.Config) { s.DenyScope(ScopeAlerts) },
			false, 0, ErrMissingRole, "needs the api_analyst"},
		{"429", func(s *Sim, _ *connector.Config) { s.FailNext(1, http.StatusTooManyRequests) },
			true, 7 * time.Second, nil, "HTTP 429"},
		{"rate limit", func(s *Sim, _ *connector.Config) { s.limit.Max, s.limit.Window = 1, time.Hour },
			true, time.Hour, nil, "rate limit exceeded"},
		{"500", func(s *Sim, _ *connector.Config) { s.FailNext(1, http.StatusInternalServerError) },
			true, 0, nil, "HTTP 500"},
		{"503", func(s *Sim, _ *connector.Config) { s.FailNext(1, http.StatusServiceUnavailable) },
			true, 7 * time.Second, nil, "HTTP 503"},
		{"time-out", func(s *Sim, c *connector.Config) {
			s.SetLatency(time.Minute)
			c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
		}, true, 0, nil, "time-out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now), WithRetryAfter(7*time.Second))
			inject(t, sim, c, 1, time.Second)
			tc.setup(sim, &cfg)
			_, err := newSource(t, cfg).Pull(context.Background(), "")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
		})
	}
}

// TestSourceRefusedAfterFreshLogin: a 401 that a new session does not cure
// fails clearly after exactly one re-login.
func TestSourceRefusedAfterFreshLogin(t *testing.T) {
	sim := NewSim()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pathAlerts {
			fail(w, http.StatusUnauthorized, "Unauthorized", "session not valid for this resource")
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	src := newSource(t, connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret})
	_, err := src.Pull(context.Background(), "")
	conntest.CheckErr(t, err, false, 0, ErrUnauthorized, "401 right after a fresh login")
	if sim.Logins() != 2 {
		t.Errorf("%d logins, want 2 (the first and one re-login)", sim.Logins())
	}
}

func TestSourceRecoversAfterFailure(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 4, time.Second)
	src := newSource(t, cfg, WithPageSize(2))
	p, err := src.Pull(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sim.FailNext(1, http.StatusBadGateway)
	if _, err := src.Pull(context.Background(), p.Cursor); !conntest.IsRetryable(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
	rest, _ := conntest.PullAll(t, src, Decoder{}, p.Cursor)
	if diff := cmp.Diff(want, append(conntest.PayloadIDs(t, Decoder{}, p.Payloads), rest...)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSourceBadConfig(t *testing.T) {
	for _, cfg := range []connector.Config{
		{ClientID: "u", ClientSecret: "p"},
		{URL: "https://hx.example.com"},
		{URL: "ftp://hx.example.com", ClientID: "u", ClientSecret: "p"},
	} {
		if _, err := NewSource(cfg); err == nil {
			t.Errorf("NewSource(%+v) accepted", cfg)
		}
	}
}
