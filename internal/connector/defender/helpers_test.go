package defender

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

const (
	testMachine = "1e5f0a7b9c3d2e4f6a8b0c1d2e3f4a5b6c7d8e9f"
	testHost    = "ws-01.contoso.local"
)

// startSim serves a new simulator over real HTTP and returns it with a
// Config that reaches it.
func startSim(t *testing.T, opts ...SimOption) (*Sim, connector.Config) {
	t.Helper()
	sim := NewSim(opts...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	return sim, connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret, HTTPClient: srv.Client()}
}

// inject adds n alerts for the test machine, advancing the clock by step
// after each (0: they share one lastUpdateTime), and returns their ids.
func inject(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	var ids []string
	for range n {
		before := sim.AlertIDs()
		if err := sim.Inject(NewAlert(testHost, testMachine)); err != nil {
			t.Fatal(err)
		}
		for _, id := range sim.AlertIDs() {
			if !slices.Contains(before, id) {
				ids = append(ids, id)
			}
		}
		c.Add(step)
	}
	return ids
}

func newSource(t *testing.T, cfg connector.Config, opts ...SourceOption) *Source {
	t.Helper()
	src, err := NewSource(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func newResponder(t *testing.T, cfg connector.Config, opts ...ResponderOption) *Responder {
	t.Helper()
	r, err := NewResponder(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sorted(ids []string) []string { return slices.Sorted(slices.Values(ids)) }

func failNext(n, status int) func(*Sim, *connector.Config) {
	return func(s *Sim, _ *connector.Config) { s.FailNext(n, status) }
}

// startProxy serves sim behind a hook that sees every request, and returns
// its URL.
func startProxy(t *testing.T, sim *Sim, hook func(*http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook(r)
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// readCloser gives a read body back to a request.
func readCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
