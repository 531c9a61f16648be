package carbonblack

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

const testDevice = "98765432"

// startSim serves a new simulator over real HTTP and returns it with a
// Config that reaches it.
func startSim(t *testing.T, opts ...SimOption) (*Sim, connector.Config) {
	t.Helper()
	return startSimWith(t, NewSim(opts...))
}

// startSimWith serves an existing simulator.
func startSimWith(t *testing.T, sim *Sim) (*Sim, connector.Config) {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	return sim, connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret, HTTPClient: srv.Client()}
}

// inject adds n alerts about testDevice, advancing the clock by step after
// each (0: they share one backend_update_timestamp), and returns their ids.
func inject(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	var ids []string
	for range n {
		before := map[string]bool{}
		for _, id := range sim.AlertIDs() {
			before[id] = true
		}
		if err := sim.Inject(NewAlert(98765432, "FIN-WS-042", 7)); err != nil {
			t.Fatal(err)
		}
		for _, id := range sim.AlertIDs() {
			if !before[id] {
				ids = append(ids, id)
			}
		}
		c.Add(step)
	}
	return ids
}

// newSource returns a Source whose searches end at the clock's now (no
// delay) unless opts say otherwise.
func newSource(t *testing.T, cfg connector.Config, opts ...SourceOption) *Source {
	t.Helper()
	src, err := NewSource(cfg, append([]SourceOption{WithDelay(0)}, opts...)...)
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
