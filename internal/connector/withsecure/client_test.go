package withsecure

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

func TestPullPagesInOrder(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	rec := &recorder{next: sim}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL
	want := inject(t, sim, c, 7, time.Second)
	src, err := NewSource(cfg, WithPageSize(3))
	if err != nil {
		t.Fatal(err)
	}
	got, cursor := pullAll(t, src, "")
	if !slices.Equal(got, want) {
		t.Fatalf("pulled %v, want %v", got, want)
	}
	// The next listing starts after the last event, exclusively, with no
	// anchor: it does not read the feed again from the start.
	if more, _ := pullAll(t, src, cursor); len(more) != 0 {
		t.Fatalf("after the end: %v", more)
	}
	forms := rec.Forms()
	next := forms[len(forms)-1]
	lastTS := c.Now().Add(-time.Second).Format(timeLayout)
	if next.Get("persistenceTimestampStart") != lastTS || next.Get("exclusiveStart") != "true" || next.Has("anchor") {
		t.Errorf("next listing form %v, want persistenceTimestampStart=%s exclusiveStart=true and no anchor", next, lastTS)
	}
	forms = forms[:len(forms)-1]
	if len(forms) != 3 {
		t.Fatalf("%d list calls, want 3 (pages of 3, 3, 1)", len(forms))
	}
	first, second := forms[0], forms[1]
	for k, v := range map[string]string{"limit": "3", "order": "asc", "engineGroup": "epp,edr,ecp"} {
		if first.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, first.Get(k), v)
		}
	}
	if first.Has("anchor") || second.Get("anchor") == "" {
		t.Errorf("anchor: first %q, second %q; want none, then the nextAnchor", first.Get("anchor"), second.Get("anchor"))
	}
}

// TestPullResumesFromEveryCursor restarts from each cursor a pull returned,
// mid-paging and after the end, with events arriving in between, and
// checks that every restart yields exactly the events after it.
func TestPullResumesFromEveryCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	all := inject(t, sim, c, 3, time.Second)
	all = append(all, inject(t, sim, c, 3, 0)...) // three events share one persistenceTimestamp
	c.Add(time.Second)
	all = append(all, inject(t, sim, c, 2, time.Millisecond)...)
	src, err := NewSource(cfg, WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	type stop struct {
		cursor string
		seen   int
	}
	var stops []stop
	cursor, seen := "", 0
	for {
		p, err := src.Pull(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Payloads)
		cursor = p.Cursor
		stops = append(stops, stop{cursor, seen})
		if !p.More {
			break
		}
	}
	if seen != len(all) {
		t.Fatalf("pulled %d events, want %d", seen, len(all))
	}
	// New events arrive after the first pass. WithSecure stamps
	// persistenceTimestamp when it stores an event, so they are later.
	c.Add(time.Second)
	late := inject(t, sim, c, 3, time.Millisecond)
	for i, s := range stops {
		got, _ := pullAll(t, src, s.cursor)
		want := append(slices.Clone(all[s.seen:]), late...)
		if !slices.Equal(got, want) {
			t.Errorf("restart %d (after %d events): got %v, want %v", i, s.seen, got, want)
		}
	}
}

func TestPullEmptyAndRepeatedPage(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	src, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := src.Pull(context.Background(), "")
	if err != nil || len(p.Payloads) != 0 || p.More || p.Cursor != "" {
		t.Fatalf("empty feed: %+v, %v", p, err)
	}
	ids := inject(t, sim, c, 2, time.Second)
	p, err = src.Pull(context.Background(), "")
	if err != nil || len(p.Payloads) != 2 {
		t.Fatalf("first pull: %d payloads, %v", len(p.Payloads), err)
	}
	// The answer is lost and the same cursor is pulled again: the same
	// events come back (at-least-once), and from the new cursor nothing.
	again, err := src.Pull(context.Background(), "")
	if err != nil || !slices.Equal(payloadIDs(t, again.Payloads), ids) {
		t.Fatalf("repeat: %v, %v", payloadIDs(t, again.Payloads), err)
	}
	if got, _ := pullAll(t, src, p.Cursor); len(got) != 0 {
		t.Errorf("after the end: %v", got)
	}
	if strings.Contains(string(p.Payloads[0]), "\n") {
		t.Error("payloads are not compacted")
	}
}

func TestPullStaleAnchorRestartsAtLastEvent(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	ids := inject(t, sim, c, 4, time.Second)
	src, err := NewSource(cfg, WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	p, err := src.Pull(context.Background(), "")
	if err != nil || !p.More {
		t.Fatalf("first page: more=%v err=%v", p.More, err)
	}
	cur, err := parseCursor(p.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	cur.Anchor = "expired-anchor"
	got, _ := pullAll(t, src, cur.String())
	if !slices.Equal(got, ids[2:]) {
		t.Errorf("after a refused anchor: %v, want %v", got, ids[2:])
	}
}

func TestPullRejectsForeignCursor(t *testing.T) {
	_, cfg := startSim(t)
	src, _ := NewSource(cfg)
	for _, cur := range []string{"abc", `{"last":"yesterday"}`} {
		if _, err := src.Pull(context.Background(), cur); err == nil {
			t.Errorf("cursor %q accepted", cur)
		}
	}
}

func TestPullFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim)
		cfg       func(*connector.Config)
		wantErr   error
		retryable bool
		after     time.Duration
		mention   string
		tokens    int
	}{
		{name: "expired token is refreshed once", setup: func(s *Sim) { s.ExpireTokens() }, tokens: 2},
		{name: "wrong secret", cfg: func(c *connector.Config) { c.ClientSecret = "nope" }, wantErr: ErrUnauthorized, mention: "client id and secret"},
		{name: "403 names the read scope", setup: func(s *Sim) { s.DenyScope(ScopeRead) }, wantErr: ErrMissingScope, mention: `"connect.api.read" scope`},
		{name: "429 honours Retry-After", setup: func(s *Sim) { s.FailNext(1, 429) }, retryable: true, after: 7 * time.Second},
		{name: "500", setup: func(s *Sim) { s.FailNext(1, 500) }, retryable: true},
		{name: "503", setup: func(s *Sim) { s.FailNext(1, 503) }, retryable: true, after: 7 * time.Second},
		{name: "400 is not retryable", setup: func(s *Sim) { s.FailNext(1, 400) }, mention: "HTTP 400"},
		{name: "time-out", setup: func(s *Sim) { s.SetLatency(time.Second) },
			cfg: func(c *connector.Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} }, retryable: true, mention: "time-out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now), WithRetryAfter(7*time.Second))
			inject(t, sim, c, 1, time.Second)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			src, err := NewSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.cfg == nil { // a first token, so that faults hit the list call
				if _, err := src.Pull(context.Background(), ""); err != nil {
					t.Fatal(err)
				}
			}
			if tc.setup != nil {
				tc.setup(sim)
			}
			p, err := src.Pull(context.Background(), "")
			var re *connector.RetryableError
			switch {
			case tc.wantErr == nil && !tc.retryable && tc.mention == "":
				if err != nil || len(p.Payloads) != 1 {
					t.Fatalf("pull: %d payloads, %v", len(p.Payloads), err)
				}
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			case errors.As(err, &re) != tc.retryable:
				t.Fatalf("err = %v (%T), retryable want %v", err, err, tc.retryable)
			case tc.retryable && re.After != tc.after:
				t.Errorf("After = %v, want %v", re.After, tc.after)
			}
			if tc.mention != "" && (err == nil || !strings.Contains(err.Error(), tc.mention)) {
				t.Errorf("err = %v, want it to mention %q", err, tc.mention)
			}
			if tc.tokens != 0 && sim.TokensIssued() != tc.tokens {
				t.Errorf("%d tokens issued, want %d", sim.TokensIssued(), tc.tokens)
			}
			sim.SetLatency(0)
		})
	}
}

// TestPullUnauthorizedWithFreshToken: the API refuses every token; the
// source refreshes once and then fails with ErrUnauthorized.
func TestPullUnauthorizedWithFreshToken(t *testing.T) {
	sim := NewSim()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != pathToken {
			sim.fail(w, http.StatusUnauthorized, "token revoked")
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	src, _ := NewSource(connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret})
	_, err := src.Pull(context.Background(), "")
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "freshly issued token") {
		t.Errorf("err = %v, want ErrUnauthorized after a refresh", err)
	}
	if sim.TokensIssued() != 2 {
		t.Errorf("%d tokens issued, want 2 (one refresh)", sim.TokensIssued())
	}
}

func TestPullCancelled(t *testing.T) {
	_, cfg := startSim(t)
	src, _ := NewSource(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := src.Pull(ctx, "")
	var re *connector.RetryableError
	if !errors.Is(err, context.Canceled) || errors.As(err, &re) {
		t.Errorf("err = %v, want context.Canceled, not retryable", err)
	}
}

func TestNewSourceConfig(t *testing.T) {
	for _, cfg := range []connector.Config{
		{ClientID: "a", ClientSecret: "b"},
		{URL: "ftp://x", ClientID: "a", ClientSecret: "b"},
		{URL: "https://api.connect.withsecure.com"},
	} {
		if _, err := NewSource(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if _, err := NewSource(connector.Config{URL: "api.connect.withsecure.com", ClientID: "a", ClientSecret: "b"}); err != nil {
		t.Errorf("host without scheme: %v", err)
	}
}
