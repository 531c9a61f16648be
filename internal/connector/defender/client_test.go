package defender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
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
	// Each call asks for 3 new alerts plus the one already returned at the
	// cursor's instant; the third comes back short.
	if diff := cmp.Diff([]bool{true, true, false}, mores); diff != "" {
		t.Errorf("More per page (-want +got):\n%s", diff)
	}
	page, err := src.Pull(context.Background(), cursor)
	if err != nil || len(page.Payloads) != 0 || page.More {
		t.Errorf("pull at the end = %d payloads, more %v, err %v; want nothing new", len(page.Payloads), page.More, err)
	}
	// New alerts after the end come on the next pull.
	c.Add(time.Minute)
	want = inject(t, sim, c, 2, time.Second)
	got, _ = conntest.PullAll(t, src, Decoder{}, page.Cursor)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids after new alerts (-want +got):\n%s", diff)
	}
}

// TestSourceUpdatedAlertComesAgain: an alert edited after it was pulled
// has a newer lastUpdateTime and is returned again (triage folds it by
// fingerprint).
func TestSourceUpdatedAlertComesAgain(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	ids := inject(t, sim, c, 3, time.Second)
	src := newSource(t, cfg)
	got, cur := conntest.PullAll(t, src, Decoder{}, "")
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Fatalf("first pull (-want +got):\n%s", diff)
	}
	if err := sim.UpdateAlert(ids[0], map[string]any{"status": "Resolved"}); err != nil {
		t.Fatal(err)
	}
	got, _ = conntest.PullAll(t, src, Decoder{}, cur)
	if diff := cmp.Diff([]string{ids[0]}, got); diff != "" {
		t.Errorf("after the update (-want +got):\n%s", diff)
	}
}

func TestSourceKeepsVendorJSON(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	payload := NewAlert(testHost, testMachine, AlertField("id", "da638000000000000001_123"),
		AlertField("alertCreationTime", "2026-03-01T09:59:00.1234567Z"), AlertField("lastUpdateTime", "2026-03-01T09:59:30.1234567Z"))
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
// many alerts that share one lastUpdateTime, while more arrive.
func TestSourceResumes(t *testing.T) {
	for _, size := range []int{1, 3, 4, 10, 1000} {
		t.Run("page size "+strconv.Itoa(size), func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now), WithRateLimit(0, 0))
			want := inject(t, sim, c, 10, 0) // ten alerts at one instant
			c.Add(time.Second)
			want = append(want, inject(t, sim, c, 3, 0)...)

			first, err := newSource(t, cfg, WithPageSize(size)).Pull(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			got := conntest.PayloadIDs(t, Decoder{}, first.Payloads)

			// While bannin is down, more alerts arrive: some with the very
			// lastUpdateTime the cursor stopped at, and a newer one.
			now := c.Now()
			cur, err := parseCursor(first.Cursor)
			if err != nil {
				t.Fatal(err)
			}
			c.Set(cur.Time)
			want = append(want, inject(t, sim, c, 2, 0)...)
			c.Set(now.Add(time.Second))
			want = append(want, inject(t, sim, c, 1, 0)...)

			rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(size)), Decoder{}, first.Cursor)
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

// TestSourceResumesFromEveryCursor stores the cursor after every page and
// restarts from each one: each restart must deliver exactly what was not
// yet delivered.
func TestSourceResumesFromEveryCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now), WithRateLimit(0, 0))
	want := inject(t, sim, c, 4, 0)
	want = append(want, inject(t, sim, c, 5, time.Millisecond)...)
	src := newSource(t, cfg, WithPageSize(2))
	var delivered []string
	cursor := ""
	for {
		rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, cursor)
		if diff := cmp.Diff(want[len(delivered):], rest); diff != "" {
			t.Fatalf("restart after %d alerts (-want +got):\n%s", len(delivered), diff)
		}
		page, err := src.Pull(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		delivered = append(delivered, conntest.PayloadIDs(t, Decoder{}, page.Payloads)...)
		cursor = page.Cursor
		if !page.More {
			break
		}
	}
	if diff := cmp.Diff(want, delivered); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestSourceSince(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	inject(t, sim, c, 2, time.Minute)
	start := c.Now()
	want := inject(t, sim, c, 2, time.Minute)
	got, _ := conntest.PullAll(t, newSource(t, cfg, WithSince(start)), Decoder{}, "")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids since %v (-want +got):\n%s", start, diff)
	}
}

func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name      string
		opts      []SimOption
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "429", setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "GET /api/alerts: HTTP 429"},
		{name: "429 with a longer wait", opts: []SimOption{WithRetryAfter(30 * time.Second)}, setup: failNext(1, 429), retryable: true, after: 30 * time.Second},
		{name: "500", setup: failNext(1, 500), retryable: true, says: "HTTP 500"},
		{name: "503", setup: failNext(1, 503), retryable: true, after: 2 * time.Second, says: "HTTP 503"},
		{name: "401 twice", setup: failNext(2, 401), is: ErrUnauthorized, says: "freshly issued token was refused"},
		{name: "wrong secret", setup: func(_ *Sim, c *connector.Config) { c.ClientSecret = "nope" }, is: ErrUnauthorized, says: "AADSTS7000215"},
		{name: "wrong tenant", setup: func(_ *Sim, c *connector.Config) { c.ClientID = "other-tenant/" + SimClientID }, is: ErrUnauthorized, says: "AADSTS90002"},
		{name: "403 missing permission", setup: func(s *Sim, _ *connector.Config) { s.DenyPermission(PermAlertRead) }, is: ErrMissingPermission, says: `"Alert.Read.All"`},
		{name: "time-out", opts: []SimOption{WithLatency(time.Minute)}, setup: func(_ *Sim, c *connector.Config) {
			c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
		}, retryable: true, says: "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := startSim(t, tt.opts...)
			if err := sim.Inject(NewAlert(testHost, testMachine)); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(sim, &cfg)
			}
			_, err := newSource(t, cfg).Pull(context.Background(), "")
			conntest.CheckErr(t, err, tt.retryable, tt.after, tt.is, tt.says)
		})
	}
}

// TestSourceRateLimit runs into the simulator's calls-per-minute limit:
// the 429 carries the wait until the window opens.
func TestSourceRateLimit(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now), WithRateLimit(3, time.Minute))
	inject(t, sim, c, 1, 0)
	src := newSource(t, cfg)
	for i := range 3 {
		if _, err := src.Pull(context.Background(), ""); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	c.Add(20 * time.Second)
	_, err := src.Pull(context.Background(), "")
	conntest.CheckErr(t, err, true, 40*time.Second, nil, "quota exceeded")
	c.Add(40 * time.Second)
	if _, err := src.Pull(context.Background(), ""); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// TestSourceRefreshesExpiredToken: a token the API stops taking (expired
// or revoked) is replaced once, and the pull succeeds.
func TestSourceRefreshesExpiredToken(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 2, time.Second)
	src := newSource(t, cfg, WithPageSize(1))
	page, err := src.Pull(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sim.ExpireTokens()
	rest, _ := conntest.PullAll(t, src, Decoder{}, page.Cursor)
	if diff := cmp.Diff(want, append(conntest.PayloadIDs(t, Decoder{}, page.Payloads), rest...)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if n := sim.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2 (one, then one refresh)", n)
	}
	// A token past its lifetime is renewed before it is sent.
	c.Add(2 * time.Hour)
	src.api.now = c.Now
	if _, err := src.Pull(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if n := sim.TokensIssued(); n != 3 {
		t.Errorf("%d tokens issued, want 3", n)
	}
}

func TestSourceRecoversAfterFailure(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 5, time.Second)
	src := newSource(t, cfg, WithPageSize(2))
	page, err := src.Pull(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	got := conntest.PayloadIDs(t, Decoder{}, page.Payloads)
	for _, status := range []int{429, 500, 502} {
		sim.FailNext(1, status)
		if _, err := src.Pull(context.Background(), page.Cursor); !conntest.IsRetryable(err) {
			t.Fatalf("HTTP %d: %v, want a RetryableError", status, err)
		}
	}
	rest, _ := conntest.PullAll(t, src, Decoder{}, page.Cursor)
	got = append(got, rest...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids after retries (-want +got):\n%s", diff)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name, url, id   string
		ok              bool
		login, resource string
	}{
		{"commercial", "https://api.securitycenter.microsoft.com", "t/c", true, loginCommercial, resourceCommercial},
		{"regional", "https://eu.api.security.microsoft.com/", "t/c", true, loginCommercial, resourceCommercial},
		{"gcc high", "https://api-gov.securitycenter.microsoft.us", "t/c", true, loginGov, resourceGov},
		{"simulator", "http://127.0.0.1:8080", "t/c", true, "http://127.0.0.1:8080", resourceCommercial},
		{"no scheme", "api.securitycenter.microsoft.com", "t/c", true, loginCommercial, resourceCommercial},
		{"login override", "https://mde-proxy.corp.example?login=https://login.proxy.corp.example/", "t/c", true, "https://login.proxy.corp.example", resourceCommercial},
		{"bad login override", "https://api.securitycenter.microsoft.com?login=nope", "t/c", false, "", ""},
		{"no tenant", "https://api.securitycenter.microsoft.com", "c", false, "", ""},
		{"empty client", "https://api.securitycenter.microsoft.com", "t/", false, "", ""},
		{"no URL", "", "t/c", false, "", ""},
		{"bad scheme", "ftp://x", "t/c", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := parseConfig(connector.Config{URL: tt.url, ClientID: tt.id, ClientSecret: "s"})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && (ep.login != tt.login || ep.resource != tt.resource || ep.tenant != "t" || ep.clientID != "c" || ep.api.RawQuery != "") {
				t.Errorf("endpoints = %+v", ep)
			}
		})
	}
	if _, err := NewSource(connector.Config{URL: "https://x", ClientID: "t/c"}); err == nil {
		t.Error("NewSource accepted a config without a secret")
	}
	_, cfg := startSim(t)
	if _, err := newSource(t, cfg).Pull(context.Background(), "not a cursor"); err == nil {
		t.Error("Pull accepted a cursor it did not write")
	}
}

// TestSourceQuery checks the list call's OData options.
func TestSourceQuery(t *testing.T) {
	sim, cfg := startSim(t)
	var got url.Values
	srv := startProxy(t, sim, func(r *http.Request) {
		if r.URL.Path == pathAlerts {
			got = r.URL.Query()
		}
	})
	cfg.URL = srv
	cur := cursor{Time: time.Date(2026, 3, 1, 10, 0, 0, 123456700, time.UTC), IDs: []string{"a", "b"}}
	if _, err := newSource(t, cfg, WithPageSize(50)).Pull(context.Background(), cur.String()); err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"$filter":  {"lastUpdateTime ge 2026-03-01T10:00:00.1234567Z"},
		"$orderby": {"lastUpdateTime asc"},
		"$top":     {"52"},
		"$expand":  {"evidence"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

// TestTokenEndpointDown: Entra ID answering 503 is worth retrying, with
// its Retry-After.
func TestTokenEndpointDown(t *testing.T) {
	sim, cfg := startSim(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth2/token") {
			w.Header().Set("Retry-After", "7")
			http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL
	_, err := newSource(t, cfg).Pull(context.Background(), "")
	conntest.CheckErr(t, err, true, 7*time.Second, nil, "oauth2/token: HTTP 503")
}
