package crowdstrike

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

func TestSourcePullsAllPages(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 7, time.Second)
	src := newSource(t, cfg, WithPageSize(3))

	var got []string
	var mores []bool
	cursor := ""
	for range 10 {
		page, err := src.Pull(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, conntest.PayloadIDs(t, Decoder{}, page.Payloads)...)
		mores = append(mores, page.More)
		cursor = page.Cursor
		if !page.More {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, true, false}, mores); diff != "" {
		t.Errorf("More per page (-want +got):\n%s", diff)
	}

	page, err := src.Pull(context.Background(), cursor)
	if err != nil || len(page.Payloads) != 0 || page.More || page.Cursor != cursor {
		t.Errorf("pull at the end = %d payloads, more %v, cursor changed %v, err %v; want nothing new",
			len(page.Payloads), page.More, page.Cursor != cursor, err)
	}
}

func TestSourceKeepsVendorJSON(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	// A field the SDK's alert model does not declare must survive.
	payload := NewAlert("DC-01", "0123456789abcdef0123456789abcdef", AlertField("source_endpoint_host_name", "WS-9"),
		AlertCompositeID("cid:ind:0123456789abcdef0123456789abcdef:1-2-3"), AlertCreated(c.Now()))
	if err := sim.Inject(payload); err != nil {
		t.Fatal(err)
	}
	page, err := newSource(t, cfg).Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 1 {
		t.Fatalf("Pull = %d payloads, %v", len(page.Payloads), err)
	}
	if diff := cmp.Diff(string(payload), string(page.Payloads[0])); diff != "" {
		t.Errorf("payload changed on the way (-injected +pulled):\n%s", diff)
	}
}

// TestSourceResumes restarts a Source from a stored cursor in the middle of
// many alerts that share one created_timestamp, while more arrive.
func TestSourceResumes(t *testing.T) {
	for _, size := range []int{1, 3, 4, 10, 500} {
		t.Run("page size "+strconv.Itoa(size), func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now))
			want := inject(t, sim, c, 10, 0) // ten alerts at one instant
			c.Add(time.Second)
			want = append(want, inject(t, sim, c, 3, 0)...)

			first, err := newSource(t, cfg, WithPageSize(size)).Pull(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			got := conntest.PayloadIDs(t, Decoder{}, first.Payloads)

			// While bannin is down, more alerts arrive: some with the very
			// timestamp the cursor stopped at, as when alerts created in
			// one instant become visible one after the other, and a newer one.
			now := c.Now()
			c.Set(lastCreated(t, first.Payloads))
			want = append(want, inject(t, sim, c, 2, 0)...)
			c.Set(now.Add(time.Second))
			want = append(want, inject(t, sim, c, 1, 0)...)

			restarted := newSource(t, cfg, WithPageSize(size))
			rest, _ := conntest.PullAll(t, restarted, Decoder{}, first.Cursor)
			got = append(got, rest...)
			if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
				t.Errorf("gap or duplicate after restart (-want +got):\n%s", diff)
			}
			if len(got) != len(want) {
				t.Errorf("received %d alerts, want %d", len(got), len(want))
			}
		})
	}
}

func TestSourceRefreshesToken(t *testing.T) {
	tests := []struct {
		name   string
		expire func(*Sim, *conntest.Clock)
	}{
		{"revoked", func(s *Sim, _ *conntest.Clock) { s.ExpireTokens() }},
		{"expired on the server's clock", func(_ *Sim, c *conntest.Clock) { c.Add(2 * time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now), WithTokenTTL(time.Hour))
			src := newSource(t, cfg)
			inject(t, sim, c, 1, time.Second)
			page, err := src.Pull(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			tt.expire(sim, c)
			want := inject(t, sim, c, 1, time.Second)
			page, err = src.Pull(context.Background(), page.Cursor)
			if err != nil {
				t.Fatalf("Pull after the token expired: %v", err)
			}
			if diff := cmp.Diff(want, conntest.PayloadIDs(t, Decoder{}, page.Payloads)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if n := sim.TokensIssued(); n != 2 {
				t.Errorf("tokens issued = %d, want 2 (one refresh)", n)
			}
		})
	}
}

func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name      string
		warm      bool // pull once first, so that the token is cached
		opts      []SimOption
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "429", warm: true, setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "GET /alerts/queries/alerts/v2: HTTP 429"},
		{name: "429 with a longer wait", warm: true, opts: []SimOption{WithRetryAfter(30 * time.Second)}, setup: failNext(1, 429), retryable: true, after: 30 * time.Second},
		{name: "429 on the token request", setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "POST /oauth2/token: HTTP 429"},
		{name: "500", warm: true, setup: failNext(1, 500), retryable: true, says: "HTTP 500"},
		{name: "503 on the entities call", warm: true, setup: failNext(2, 503), retryable: true, says: "HTTP 503"},
		{name: "403 missing scope", setup: func(s *Sim, _ *connector.Config) { s.DenyScope(ScopeAlertsRead) }, is: ErrMissingScope, says: `"Alerts: Read"`},
		{name: "403 injected", warm: true, setup: failNext(1, 403), is: ErrMissingScope, says: `"Alerts: Read"`},
		{name: "wrong secret", setup: func(_ *Sim, c *connector.Config) { c.ClientSecret = "nope" }, is: ErrUnauthorized, says: "client id and secret"},
		{name: "401 with a fresh token", opts: []SimOption{WithTokenTTL(0)}, is: ErrUnauthorized, says: "freshly issued token"},
		{name: "time-out", opts: []SimOption{WithLatency(time.Minute)}, setup: func(_ *Sim, c *connector.Config) {
			c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
		}, retryable: true, says: "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := startSim(t, tt.opts...)
			if err := sim.Inject(NewAlert("WS-01", "aa11bb22cc33dd44ee55ff6677889900")); err != nil {
				t.Fatal(err)
			}
			var src *Source
			if tt.warm {
				src = newSource(t, cfg)
				if _, err := src.Pull(context.Background(), ""); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(sim, &cfg)
			}
			if src == nil {
				src = newSource(t, cfg)
			}
			_, err := src.Pull(context.Background(), "")
			conntest.CheckErr(t, err, tt.retryable, tt.after, tt.is, tt.says)
		})
	}
}

func TestSourceRecoversAfterFailure(t *testing.T) {
	sim, cfg := startSim(t)
	want := []string{}
	for range 3 {
		if err := sim.Inject(NewAlert("WS-01", "aa11bb22cc33dd44ee55ff6677889900")); err != nil {
			t.Fatal(err)
		}
		want = append(want, sim.AlertIDs()[len(want)])
	}
	src := newSource(t, cfg)
	var got []string
	cursor := ""
	for _, status := range []int{429, 500, 502} {
		sim.FailNext(1, status)
		if _, err := src.Pull(context.Background(), cursor); !conntest.IsRetryable(err) {
			t.Fatalf("HTTP %d: %v, want a RetryableError", status, err)
		}
	}
	ids, _ := conntest.PullAll(t, src, Decoder{}, cursor)
	got = append(got, ids...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids after retries (-want +got):\n%s", diff)
	}
}

func TestSourceBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  connector.Config
	}{
		{"no URL", connector.Config{ClientID: "a", ClientSecret: "b"}},
		{"no secret", connector.Config{URL: "http://127.0.0.1:1", ClientID: "a"}},
		{"bad scheme", connector.Config{URL: "ftp://x", ClientID: "a", ClientSecret: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSource(tt.cfg); err == nil {
				t.Error("NewSource accepted a bad config")
			}
		})
	}
	_, cfg := startSim(t)
	if _, err := newSource(t, cfg).Pull(context.Background(), "not a cursor"); err == nil {
		t.Error("Pull accepted a cursor it did not write")
	}
}

func failNext(n, status int) func(*Sim, *connector.Config) {
	return func(s *Sim, _ *connector.Config) { s.FailNext(n, status) }
}

func sorted(ids []string) []string { return slices.Sorted(slices.Values(ids)) }

// lastCreated returns the created_timestamp of the last payload.
func lastCreated(t *testing.T, payloads [][]byte) time.Time {
	t.Helper()
	got, err := Decoder{}.Decode(payloads[len(payloads)-1])
	if err != nil {
		t.Fatal(err)
	}
	return got[0].VendorCreated
}
