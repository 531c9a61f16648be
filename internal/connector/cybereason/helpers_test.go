package cybereason

import (
	"context"
	"net/http/httptest"
	"strings"
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

// injectN adds n single-machine MalOps, advancing the clock by step after
// each (0: they share one lastUpdateTime), and returns their guids.
func injectN(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	var guids []string
	for range n {
		before := len(sim.MalopIDs())
		if err := sim.Inject(NewMalop("evil.exe", "High", Machine{GUID: "m-ws-01", Name: "WS-01", OS: "WINDOWS"})); err != nil {
			t.Fatal(err)
		}
		ids := sim.MalopIDs()
		if len(ids) != before+1 {
			t.Fatalf("inject: %d MalOps, want %d", len(ids), before+1)
		}
		guids = append(guids, newest(ids, guids))
		c.Add(step)
	}
	return guids
}

// newest returns the id in ids not in known (ids of one time sort by
// guid, so the new one is not always last).
func newest(ids, known []string) string {
	seen := map[string]bool{}
	for _, k := range known {
		seen[k] = true
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if !seen[ids[i]] {
			return ids[i]
		}
	}
	return ""
}

// pullAll pulls from cursor until a page says no more is waiting, and
// returns the MalOp guids in the order received and the last cursor.
func pullAll(t *testing.T, src *Source, cursor string) ([]string, string) {
	t.Helper()
	var guids []string
	for range 1000 {
		page, err := src.Pull(context.Background(), cursor)
		if err != nil {
			t.Fatalf("Pull(%q): %v", cursor, err)
		}
		guids = append(guids, payloadGUIDs(t, page.Payloads)...)
		cursor = page.Cursor
		if !page.More {
			return guids, cursor
		}
	}
	t.Fatal("Pull kept saying More")
	return nil, ""
}

// payloadGUIDs decodes payloads and returns their MalOp guids.
func payloadGUIDs(t *testing.T, payloads [][]byte) []string {
	t.Helper()
	var guids []string
	for _, p := range payloads {
		got, err := Decoder{}.Decode(p)
		if err != nil || len(got) == 0 {
			t.Fatalf("payload does not decode: %v", err)
		}
		guid, _, _ := strings.Cut(got[0].VendorID, "/")
		guids = append(guids, guid)
	}
	return guids
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
