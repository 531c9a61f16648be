package carbonblack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// TestPullResumesExactly pulls in small pages, restarting from the stored
// cursor with a new Source each time (as after a crash), while alerts
// arrive between pulls, some sharing the checkpoint's timestamp.
func TestPullResumesExactly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int
		step     time.Duration // between injected alerts; 0: one shared timestamp
	}{
		{"distinct times, page 3", 3, time.Second},
		{"one shared time, page 2", 2, 0},
		{"one shared time, page 1", 1, 0},
		{"millisecond steps, page 4", 4, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now))
			var want, got []string
			cursor := ""
			for range 4 {
				want = append(want, inject(t, sim, c, 5, tc.step)...)
				for range 100 {
					src := newSource(t, cfg, WithPageSize(tc.pageSize), WithSourceClock(c.Now))
					page, err := src.Pull(context.Background(), cursor)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, conntest.PayloadIDs(t, Decoder{}, page.Payloads)...)
					cursor = page.Cursor
					if !page.More {
						break
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pulled %d alerts:\n %v\nwant %d:\n %v", len(got), got, len(want), want)
			}
			again, _ := conntest.PullAll(t, newSource(t, cfg, WithSourceClock(c.Now)), Decoder{}, cursor)
			if len(again) != 0 {
				t.Errorf("pull after the end returned %v", again)
			}
		})
	}
}

// TestPullSameInstantAfterCheckpoint: an alert stored with exactly the
// checkpoint's backend_update_timestamp after the pull is still returned.
func TestPullSameInstantAfterCheckpoint(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	src := newSource(t, cfg, WithSourceClock(c.Now))
	first := inject(t, sim, c, 2, 0)
	got, cursor := conntest.PullAll(t, src, Decoder{}, "")
	late := inject(t, sim, c, 1, 0)
	more, _ := conntest.PullAll(t, src, Decoder{}, cursor)
	if !slices.Equal(got, first) || !slices.Equal(more, late) {
		t.Errorf("first pull %v (want %v), second %v (want %v)", got, first, more, late)
	}
}

// TestPullUpdatedAlertAgain: Carbon Black moves an updated alert to the end
// of the sort; it is pulled again, once, with the same id.
func TestPullUpdatedAlertAgain(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	src := newSource(t, cfg, WithSourceClock(c.Now), WithPageSize(2))
	ids := inject(t, sim, c, 3, time.Second)
	_, cursor := conntest.PullAll(t, src, Decoder{}, "")
	upd := strings.Replace(string(NewAlert(98765432, "FIN-WS-042", 9)), "{", `{"id":"`+ids[0]+`",`, 1)
	if err := sim.Inject([]byte(upd)); err != nil {
		t.Fatal(err)
	}
	got, cursor := conntest.PullAll(t, src, Decoder{}, cursor)
	if !slices.Equal(got, ids[:1]) {
		t.Errorf("after the update pulled %v, want %v", got, ids[:1])
	}
	if again, _ := conntest.PullAll(t, src, Decoder{}, cursor); len(again) != 0 {
		t.Errorf("pulled the update twice: %v", again)
	}
}

// TestPullCorpusAlerts injects Elastic's two versions of one alert (the
// second an update of the first) and pulls the current one.
func TestPullCorpusAlerts(t *testing.T) {
	files := conntest.CorpusFiles(t, "Carbon Black", corpusDir)
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	for _, f := range files {
		payloads := readLines(t, f)
		for i, p := range payloads {
			if err := sim.Inject(p); err != nil {
				t.Logf("line %d not taken: %v", i+1, err)
			}
		}
	}
	got, _ := conntest.PullAll(t, newSource(t, cfg, WithSourceClock(c.Now), WithLookback(5*365*24*time.Hour)), Decoder{}, "")
	if len(got) != 1 || got[0] != "411eedfc-8408-2f9e-59f2-a83dfaae0ec1" {
		t.Errorf("pulled %v, want the one alert", got)
	}
}

// TestSearchRequest checks the request the source sends: path, auth
// header and the documented search body, with the default 60 s delay.
func TestSearchRequest(t *testing.T) {
	var bodies []string
	var path, token string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, token = r.URL.Path, r.Header.Get("X-Auth-Token")
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		b, _ := json.Marshal(body)
		bodies = append(bodies, string(b))
		_, _ = w.Write([]byte(`{"results":[],"num_found":0}`))
	}))
	defer srv.Close()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	src, err := NewSource(connector.Config{URL: srv.URL, ClientID: "ORG1/API1", ClientSecret: "SECRET"},
		WithSourceClock(func() time.Time { return now }), WithPageSize(50))
	if err != nil {
		t.Fatal(err)
	}
	for _, cur := range []string{
		`{"updated":"2026-03-01T09:00:00.500Z","ids":["a"]}`,
		`{"updated":"2026-03-01T11:00:00.000Z","ids":["b"]}`, // ahead of the clock
	} {
		page, err := src.Pull(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		if page.Cursor != cur || page.More || len(page.Payloads) != 0 {
			t.Errorf("empty page changed the cursor: %+v", page)
		}
	}
	body := func(start string) string {
		return `{"criteria":{},"rows":50,"sort":[{"field":"backend_update_timestamp","order":"ASC"}],"start":0,` +
			`"time_range":{"end":"2026-03-01T09:59:00.000Z","start":"` + start + `"}}`
	}
	want := []string{body("2026-03-01T09:00:00.499Z"), body("2026-03-01T09:59:00.000Z")}
	if path != "/api/alerts/v7/orgs/ORG1/alerts/_search" || token != "SECRET/API1" || !slices.Equal(bodies, want) {
		t.Errorf("path %s token %q bodies\n%s\nwant\n%s", path, token, strings.Join(bodies, "\n"), strings.Join(want, "\n"))
	}
}

// TestPullWaitsOutTheDelay: an alert is pulled once the clock is
// DefaultDelay past its backend_update_timestamp, not before.
func TestPullWaitsOutTheDelay(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	src := newSource(t, cfg, WithSourceClock(c.Now), WithDelay(DefaultDelay))
	ids := inject(t, sim, c, 1, 0)
	for _, step := range []struct {
		wait time.Duration
		want int
	}{{0, 0}, {DefaultDelay - time.Millisecond, 0}, {time.Millisecond, 1}} {
		c.Add(step.wait)
		got, _ := conntest.PullAll(t, src, Decoder{}, "")
		if len(got) != step.want {
			t.Errorf("%v after the alert: pulled %v, want %d of %v", c.Now().Sub(conntest.NewClock().Now()), got, step.want, ids)
		}
	}
}

// TestPullFaults checks every failure class against the simulator.
func TestPullFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{"429 with Retry-After", func(s *Sim, _ *connector.Config) { s.FailNext(1, 429) }, true, 2 * time.Second, nil, "HTTP 429"},
		{"500", func(s *Sim, _ *connector.Config) { s.FailNext(1, 500) }, true, 0, nil, "HTTP 500"},
		{"503 with Retry-After", func(s *Sim, _ *connector.Config) { s.FailNext(1, 503) }, true, 2 * time.Second, nil, "HTTP 503"},
		{"wrong secret", func(_ *Sim, c *connector.Config) { c.ClientSecret = "nope" }, false, 0, ErrUnauthorized, "API key"},
		{"wrong org key", func(_ *Sim, c *connector.Config) { c.ClientID = "OTHER/" + SimAPIID }, false, 0, ErrUnauthorized, "org key"},
		{"401 injected", func(s *Sim, _ *connector.Config) { s.FailNext(1, 401) }, false, 0, ErrUnauthorized, "Settings > API Access"},
		{"permission withheld", func(s *Sim, _ *connector.Config) { s.DenyPermission(PermAlertsRead) }, false, 0, ErrMissingPermission, `"org.alerts: READ"`},
		{"time-out", func(s *Sim, c *connector.Config) {
			s.SetLatency(time.Minute)
			c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
		}, true, 0, nil, "time-out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			tc.setup(sim, &cfg)
			_, err := newSource(t, cfg).Pull(context.Background(), "")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
			if tc.name == "429 with Retry-After" {
				if _, err := newSource(t, cfg).Pull(context.Background(), ""); err != nil {
					t.Errorf("after the failure: %v", err)
				}
			}
		})
	}
}

func TestPullRateLimit(t *testing.T) {
	c := conntest.NewClock()
	_, cfg := startSim(t, WithClock(c.Now), WithRateLimit(1, time.Minute))
	src := newSource(t, cfg, WithSourceClock(c.Now))
	if _, err := src.Pull(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	_, err := src.Pull(context.Background(), "")
	conntest.CheckErr(t, err, true, time.Minute, nil, "HTTP 429")
	c.Add(time.Minute)
	if _, err := src.Pull(context.Background(), ""); err != nil {
		t.Errorf("next window: %v", err)
	}
}

func TestNewSourceConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  connector.Config
		says string
	}{
		{"no URL", connector.Config{ClientID: "O/A", ClientSecret: "s"}, "Config.URL"},
		{"no org key", connector.Config{URL: "https://x", ClientID: "A", ClientSecret: "s"}, "<org key>/<API id>"},
		{"empty API id", connector.Config{URL: "https://x", ClientID: "O/", ClientSecret: "s"}, "<org key>/<API id>"},
		{"no secret", connector.Config{URL: "https://x", ClientID: "O/A"}, "API secret key"},
		{"bad URL", connector.Config{URL: "ftp://x", ClientID: "O/A", ClientSecret: "s"}, "http(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSource(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("NewSource = %v, want an error saying %q", err, tc.says)
			}
		})
	}
	src, err := NewSource(connector.Config{URL: "https://x", ClientID: "O/A", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x", `{"updated":"yesterday"}`, `{"ids":["a"]}`} {
		if _, err := src.Pull(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "not written by this source") {
			t.Errorf("Pull(%q) = %v", bad, err)
		}
	}
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := connector.Split(b)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
