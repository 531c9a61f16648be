package trellixhx

import (
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

const (
	testAgent = "Xk3qV9b2LmT0aRzP8cWd1F"
	testHost  = "WS-01"
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

// inject adds n alerts for the test host, advancing the clock by step after
// each (0: they share one reported_at), and returns their ids.
func inject(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	var ids []string
	for range n {
		before := sim.AlertIDs()
		if err := sim.Inject(NewAlert(testHost, testAgent)); err != nil {
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

func newResponder(t *testing.T, cfg connector.Config) *Responder {
	t.Helper()
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }
