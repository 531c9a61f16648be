package sophos

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

const (
	testEndpoint = "0320820b-84b4-41ea-95fd-5893fb17e420"
	testHost     = "WS-01"
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

func newSource(t *testing.T, cfg connector.Config, opts ...SourceOption) *Source {
	t.Helper()
	src, err := NewSource(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func newResponder(t *testing.T, cfg connector.Config) *Responder {
	t.Helper()
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// inject adds n alerts for one endpoint, advancing the clock by step after
// each (0: they share one created_at), and returns their ids.
func inject(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	var ids []string
	for range n {
		before := len(sim.AlertIDs())
		if err := sim.Inject(NewAlert(testHost, testEndpoint)); err != nil {
			t.Fatal(err)
		}
		all := sim.AlertIDs()
		if len(all) != before+1 {
			t.Fatalf("inject: %d alerts, want %d", len(all), before+1)
		}
		ids = append(ids, all[len(all)-1])
		c.Add(step)
	}
	return ids
}

// newServer serves h over real HTTP and returns its URL.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
