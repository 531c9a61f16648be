package sentinelone

import (
	"context"
	"encoding/json"
	"net/http"
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
	if err != nil || len(page.Payloads) != 0 || page.More {
		t.Errorf("pull at the end = %d payloads, more %v, err %v; want nothing new", len(page.Payloads), page.More, err)
	}
	// New threats after the end come on the next pull.
	c.Add(time.Minute)
	want = inject(t, sim, c, 2, time.Second)
	got, _ = conntest.PullAll(t, src, Decoder{}, page.Cursor)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids after new threats (-want +got):\n%s", diff)
	}
}

func TestSourceKeepsVendorJSON(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	payload := NewThreat("DC-01", "1755913284427100001", ThreatID("2087361155048800999"), ThreatCreated(c.Now()),
		ThreatField("someNewField", map[string]any{"n": 1}))
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
// many threats that share one createdAt, while more arrive.
func TestSourceResumes(t *testing.T) {
	for _, size := range []int{1, 3, 4, 10, 1000} {
		t.Run("page size "+strconv.Itoa(size), func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now))
			want := inject(t, sim, c, 10, 0) // ten threats at one instant
			c.Add(time.Second)
			want = append(want, inject(t, sim, c, 3, 0)...)

			first, err := newSource(t, cfg, WithPageSize(size)).Pull(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			got := conntest.PayloadIDs(t, Decoder{}, first.Payloads)

			// While bannin is down, more threats arrive: some with the very
			// createdAt the cursor stopped at, and a newer one.
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
				t.Errorf("received %d threats, want %d", len(got), len(want))
			}
		})
	}
}

// TestSourceResumesFromEveryCursor stores the cursor after every page and
// restarts from each one: each restart must deliver exactly what was not
// yet delivered.
func TestSourceResumesFromEveryCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 4, 0)
	want = append(want, inject(t, sim, c, 5, time.Millisecond)...)
	src := newSource(t, cfg, WithPageSize(2))
	var delivered []string
	cursor := ""
	for {
		rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, cursor)
		if diff := cmp.Diff(want[len(delivered):], rest); diff != "" {
			t.Fatalf("restart after %d threats (-want +got):\n%s", len(delivered), diff)
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

// TestSourceExpiredCursor replaces the stored nextCursor with one the
// console refuses: the source restarts the listing at the last instant and
// still repeats nothing.
func TestSourceExpiredCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 6, time.Second)
	src := newSource(t, cfg, WithPageSize(2))
	page, err := src.Pull(context.Background(), "")
	if err != nil || !page.More {
		t.Fatalf("first pull: more %v, %v", page.More, err)
	}
	got := conntest.PayloadIDs(t, Decoder{}, page.Payloads)
	var cur cursor
	if err := json.Unmarshal([]byte(page.Cursor), &cur); err != nil || cur.Cursor == "" {
		t.Fatalf("cursor %q holds no nextCursor", page.Cursor)
	}
	cur.Cursor = "expired!"
	rest, _ := conntest.PullAll(t, src, Decoder{}, cur.String())
	got = append(got, rest...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
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
		{name: "429", setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "GET /web/api/v2.1/threats: HTTP 429"},
		{name: "429 with a longer wait", opts: []SimOption{WithRetryAfter(30 * time.Second)}, setup: failNext(1, 429), retryable: true, after: 30 * time.Second},
		{name: "500", setup: failNext(1, 500), retryable: true, says: "HTTP 500"},
		{name: "503", setup: failNext(1, 503), retryable: true, says: "HTTP 503"},
		{name: "401 wrong token", setup: func(_ *Sim, c *connector.Config) { c.ClientSecret = "nope" }, is: ErrUnauthorized, says: "generate a new one"},
		{name: "403 missing permission", setup: func(s *Sim, _ *connector.Config) { s.DenyPermission(PermThreatsView) }, is: ErrMissingPermission, says: `"Threats: View"`},
		{name: "403 injected", setup: failNext(1, 403), is: ErrMissingPermission, says: `"Threats: View"`},
		{name: "time-out", opts: []SimOption{WithLatency(time.Minute)}, setup: func(_ *Sim, c *connector.Config) {
			c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
		}, retryable: true, says: "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := startSim(t, tt.opts...)
			if err := sim.Inject(NewThreat("WS-01", testAgent)); err != nil {
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

func TestSourceSendsAPIToken(t *testing.T) {
	var auth string
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Write([]byte(`{"data":[],"pagination":{"nextCursor":null,"totalItems":0}}`))
	})
	_, cfg := startSim(t)
	ts := newTestServer(t, srv)
	cfg.URL, cfg.HTTPClient = ts, nil
	if _, err := newSource(t, cfg).Pull(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if auth != "ApiToken "+SimToken {
		t.Errorf("Authorization = %q, want ApiToken <token>", auth)
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

func TestSourceBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  connector.Config
	}{
		{"no URL", connector.Config{ClientSecret: "b"}},
		{"no token", connector.Config{URL: "http://127.0.0.1:1"}},
		{"bad scheme", connector.Config{URL: "ftp://x", ClientSecret: "b"}},
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

// lastCreated returns the threatInfo.createdAt of the last payload.
func lastCreated(t *testing.T, payloads [][]byte) time.Time {
	t.Helper()
	got, err := Decoder{}.Decode(payloads[len(payloads)-1])
	if err != nil {
		t.Fatal(err)
	}
	return got[0].VendorCreated
}
