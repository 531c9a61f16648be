package crowdstrike

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
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

// inject adds n alerts for one host, advancing the clock by step after
// each (0: they share one created_timestamp), and returns their ids.
func inject(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	before := len(sim.AlertIDs())
	for range n {
		if err := sim.Inject(NewAlert("WS-01", "aa11bb22cc33dd44ee55ff6677889900")); err != nil {
			t.Fatal(err)
		}
		c.Add(step)
	}
	return sim.AlertIDs()[before:]
}

func newSource(t *testing.T, cfg connector.Config, opts ...SourceOption) *Source {
	t.Helper()
	src, err := NewSource(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}
