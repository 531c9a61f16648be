package sophos

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// TestPullPagesAndResumesExactly pulls page by page and, from every cursor
// returned, restarts a fresh Source (as after a crash): each restart reads
// exactly the rest, including alerts that arrived between pulls.
func TestPullPagesAndResumesExactly(t *testing.T) {
	for _, tc := range []struct {
		name string
		step time.Duration
	}{
		{"distinct times", time.Second},
		{"one created_at for all", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithSimClock(c.Now))
			all := inject(t, sim, c, 5, tc.step)
			src := newSource(t, cfg, WithPageSize(2), WithClock(c.Now))
			var cursors []string
			var got []string
			cur := ""
			for range 10 {
				page, err := src.Pull(context.Background(), cur)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, conntest.PayloadIDs(t, Decoder{}, page.Payloads)...)
				cur = page.Cursor
				cursors = append(cursors, cur)
				if len(cursors) == 1 {
					all = append(all, inject(t, sim, c, 2, tc.step)...) // arrive mid-paging
				}
				if !page.More {
					break
				}
			}
			if !slices.Equal(got, all) {
				t.Fatalf("paged %v, want %v", got, all)
			}
			later := inject(t, sim, c, 1, tc.step) // after the last pull
			all = append(all, later...)
			for i, cur := range cursors {
				restarted := newSource(t, cfg, WithPageSize(3), WithClock(c.Now))
				rest, _ := conntest.PullAll(t, restarted, Decoder{}, cur)
				seen := min(len(all)-len(later), 2*(i+1)) // pages of 2
				if !slices.Equal(rest, all[seen:]) {
					t.Errorf("restart from cursor %d: got %v, want %v", i, rest, all[seen:])
				}
			}
		})
	}
}

func TestPullEmptyThenNew(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithSimClock(c.Now))
	src := newSource(t, cfg, WithClock(c.Now))
	ids, cur := conntest.PullAll(t, src, Decoder{}, "")
	if len(ids) != 0 {
		t.Fatalf("empty console gave %v", ids)
	}
	c.Add(time.Minute)
	want := inject(t, sim, c, 3, time.Millisecond)
	got, cur := conntest.PullAll(t, src, Decoder{}, cur)
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if again, _ := conntest.PullAll(t, src, Decoder{}, cur); len(again) != 0 {
		t.Errorf("pull after the end repeated %v", again)
	}
}

// TestPullClampsTo24Hours: a first pull, or a restart from a checkpoint
// older than the SIEM API serves, starts at the edge of the 24-hour window
// instead of earning a 400.
func TestPullClampsTo24Hours(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithSimClock(c.Now))
	old := inject(t, sim, c, 1, 0)
	c.Add(Window) // the alert is now just past the window
	fresh := inject(t, sim, c, 1, 0)
	for _, tc := range []struct {
		name, cursor string
		opts         []SourceOption
	}{
		{"first pull, backfill over 24h", "", []SourceOption{WithBackfill(72 * time.Hour)}},
		{"checkpoint two days old", `{"at":` + jsonText(c.Now().Add(-48*time.Hour).UnixMilli()) + `}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, cfg, append(tc.opts, WithClock(c.Now))...)
			got, _ := conntest.PullAll(t, src, Decoder{}, tc.cursor)
			if !slices.Equal(got, fresh) {
				t.Errorf("got %v, want %v (not the alert %s outside the window)", got, fresh, old[0])
			}
		})
	}
}

// TestPullRefusedCursorResumesFromTime: when Sophos refuses a stored
// next_cursor (400), the listing restarts at the newest created_at
// returned and skips what was already returned.
func TestPullRefusedCursorResumesFromTime(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithSimClock(c.Now))
	all := inject(t, sim, c, 2, 0)
	all = append(all, inject(t, sim, c, 3, 400*time.Millisecond)...)
	src := newSource(t, cfg, WithPageSize(3), WithClock(c.Now))
	page, err := src.Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 3 {
		t.Fatalf("first page: %d, %v", len(page.Payloads), err)
	}
	cur, err := parseCursor(page.Cursor)
	if err != nil || cur.Next == "" {
		t.Fatalf("cursor %q: %v", page.Cursor, err)
	}
	cur.Next = "expired-cursor"
	rest, _ := conntest.PullAll(t, src, Decoder{}, cur.String())
	if !slices.Equal(rest, all[3:]) {
		t.Errorf("after a refused cursor: got %v, want %v", rest, all[3:])
	}
}

func TestPullBadCursor(t *testing.T) {
	_, cfg := startSim(t)
	src := newSource(t, cfg)
	if _, err := src.Pull(context.Background(), "not json"); err == nil || !strings.Contains(err.Error(), "not written by this source") {
		t.Errorf("Pull(bad cursor) = %v", err)
	}
}

// TestClientUsesWhoamiDataRegion: whoami names another host as the data
// region; tenant calls must go there (the global host answers 404).
func TestClientUsesWhoamiDataRegion(t *testing.T) {
	var regionCalls, globalSIEM atomic.Int32
	var sim *Sim
	region := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		regionCalls.Add(1)
		sim.ServeHTTP(w, r)
	}))
	defer region.Close()
	sim = NewSim(WithDataRegion(region.URL))
	global := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/siem/") {
			globalSIEM.Add(1)
		}
		sim.ServeHTTP(w, r)
	}))
	defer global.Close()
	if err := sim.Inject(NewAlert(testHost, testEndpoint)); err != nil {
		t.Fatal(err)
	}
	id, secret := sim.Credentials()
	src := newSource(t, connector.Config{URL: global.URL, ClientID: id, ClientSecret: secret})
	got, _ := conntest.PullAll(t, src, Decoder{}, "")
	if len(got) != 1 || regionCalls.Load() == 0 || globalSIEM.Load() != 0 {
		t.Errorf("got %d alerts; %d calls to the data region, %d SIEM calls to the global host", len(got), regionCalls.Load(), globalSIEM.Load())
	}
}

func TestPartnerCredentialRefused(t *testing.T) {
	for _, idType := range []string{"partner", "organization"} {
		t.Run(idType, func(t *testing.T) {
			_, cfg := startSim(t, WithIDType(idType))
			_, err := newSource(t, cfg).Pull(context.Background(), "")
			conntest.CheckErr(t, err, false, 0, ErrNotTenant, "tenant-level credential")
			if !strings.Contains(err.Error(), idType) {
				t.Errorf("error %q does not name the credential type", err)
			}
		})
	}
}

// TestPullFaults runs every failure class against the simulator. Each case
// first pulls once (token and whoami fetched), then injects its fault.
func TestPullFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []SimOption
		fault     func(*Sim)
		timeout   time.Duration
		retryable bool
		after     time.Duration
		is        error
		says      string
		ok        bool // the fault is recovered from inside Pull
	}{
		{name: "expired token refreshed once", fault: func(s *Sim) { s.ExpireTokens() }, ok: true},
		{name: "401 with a fresh token too", fault: func(s *Sim) { s.MoveTenant("another-tenant") }, is: ErrUnauthorized, says: "freshly issued token was refused"},
		{name: "403 names the role", fault: func(s *Sim) { s.DenyRole(RoleReadOnly) }, is: ErrMissingRole, says: `"Service Principal Read-Only" role`},
		{name: "429 honours Retry-After", opts: []SimOption{WithRetryAfter(7 * time.Second)}, fault: func(s *Sim) { s.FailNext(1, 429) },
			retryable: true, after: 7 * time.Second, says: "HTTP 429"},
		{name: "rate limit", opts: []SimOption{WithRateLimit(3, time.Minute)}, fault: func(*Sim) {},
			retryable: true, after: time.Minute - time.Second, says: "rate limit exceeded"}, // inject moved the clock 1 s
		{name: "500", fault: func(s *Sim) { s.FailNext(1, 500) }, retryable: true, says: "HTTP 500"},
		{name: "503", fault: func(s *Sim) { s.FailNext(1, 503) }, retryable: true, after: 2 * time.Second, says: "HTTP 503"},
		{name: "time-out", fault: func(s *Sim) { s.SetLatency(5 * time.Second) }, timeout: 100 * time.Millisecond, retryable: true, says: "time-out"},
		{name: "400 is not retryable", fault: func(s *Sim) { s.FailNext(1, 400) }, says: "HTTP 400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, append(tc.opts, WithSimClock(c.Now))...)
			if tc.timeout > 0 {
				hc := *cfg.HTTPClient
				hc.Timeout = tc.timeout
				cfg.HTTPClient = &hc
			}
			src := newSource(t, cfg, WithClock(c.Now))
			if _, err := src.Pull(context.Background(), ""); err != nil {
				t.Fatalf("warm-up pull: %v", err)
			}
			want := inject(t, sim, c, 1, time.Second)
			tc.fault(sim)
			page, err := src.Pull(context.Background(), "")
			if tc.ok {
				if err != nil || !slices.Equal(conntest.PayloadIDs(t, Decoder{}, page.Payloads), want) {
					t.Fatalf("Pull = %v, want %v recovered", err, want)
				}
				if sim.TokensIssued() != 2 {
					t.Errorf("%d tokens issued, want 2 (one refresh)", sim.TokensIssued())
				}
				return
			}
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
		})
	}
}

func TestTokenFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		secret    string
		fault     func(*Sim)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "wrong secret", secret: "wrong", is: ErrUnauthorized, says: "check the API credential's client id and secret"},
		{name: "token endpoint 429", fault: func(s *Sim) { s.FailNext(1, 429) }, retryable: true, after: 2 * time.Second, says: "HTTP 429"},
		{name: "token endpoint 502", fault: func(s *Sim) { s.FailNext(1, 502) }, retryable: true, says: "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			if tc.secret != "" {
				cfg.ClientSecret = tc.secret
			}
			if tc.fault != nil {
				tc.fault(sim)
			}
			_, err := newSource(t, cfg).Pull(context.Background(), "")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
		})
	}
}

func TestNewSourceConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  connector.Config
		says string
	}{
		{"no URL", connector.Config{ClientID: "a", ClientSecret: "b"}, "Config.URL"},
		{"no secret", connector.Config{URL: "https://api.central.sophos.com", ClientID: "a"}, "ClientSecret"},
		{"bad URL", connector.Config{URL: "ftp://x", ClientID: "a", ClientSecret: "b"}, "not an http(s) base URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSource(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("NewSource = %v, want an error saying %q", err, tc.says)
			}
		})
	}
	a, err := newAPI(connector.Config{URL: "api.central.sophos.com", ClientID: "a", ClientSecret: "b"})
	if err != nil || a.conf.TokenURL != "https://id.sophos.com/api/v2/oauth2/token" || a.conf.Scopes[0] != "token" {
		t.Errorf("production token URL = %v, %v", a, err)
	}
}

func TestCursorText(t *testing.T) {
	c := cursor{Next: "n", At: 5, IDs: []string{"a"}}
	back, err := parseCursor(c.String())
	if err != nil || back.Next != "n" || back.At != 5 || !slices.Equal(back.IDs, c.IDs) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if (cursor{}).String() != "" {
		t.Error("empty cursor is not \"\"")
	}
	var m map[string]any
	if json.Unmarshal([]byte(c.String()), &m) != nil {
		t.Error("cursor is not JSON")
	}
}

// TestStaleTenantRediscovered: after a 401 that a fresh token does not
// cure, the next call asks whoami again and works with the new tenant id.
func TestStaleTenantRediscovered(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithSimClock(c.Now))
	src := newSource(t, cfg, WithClock(c.Now))
	if _, err := src.Pull(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	want := inject(t, sim, c, 1, time.Second)
	sim.MoveTenant("moved-tenant")
	if _, err := src.Pull(context.Background(), ""); err == nil {
		t.Fatal("stale tenant id accepted")
	}
	got, _ := conntest.PullAll(t, src, Decoder{}, "")
	if !slices.Equal(got, want) {
		t.Errorf("after rediscovery got %v, want %v", got, want)
	}
}
