package withsecure

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

const (
	testDevice = "d5dd6d22-dc1d-41f4-833d-1cca84c9c68a"
	testHost   = "WS-042"
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

// recorder wraps a simulator and keeps the form of every security-events
// request, so tests can check what the source sent.
type recorder struct {
	next  http.Handler
	mu    sync.Mutex
	forms []url.Values
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == pathEvents {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		form, _ := url.ParseQuery(string(b))
		rc.mu.Lock()
		rc.forms = append(rc.forms, form)
		rc.mu.Unlock()
	}
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) Forms() []url.Values {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]url.Values(nil), rc.forms...)
}

// inject adds n events for the test device, advancing the clock by step
// after each (0: they share one persistenceTimestamp), and returns the ids
// added.
func inject(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	before := map[string]bool{}
	for _, id := range sim.EventIDs() {
		before[id] = true
	}
	for range n {
		if err := sim.Inject(NewEvent(testDevice, testHost)); err != nil {
			t.Fatal(err)
		}
		c.Add(step)
	}
	var ids []string
	for _, id := range sim.EventIDs() {
		if !before[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// pullAll pulls from cursor until a page says no more is waiting, and
// returns the event ids in the order received and the last cursor.
func pullAll(t *testing.T, src *Source, cursor string) ([]string, string) {
	t.Helper()
	var ids []string
	for range 100 {
		p, err := src.Pull(context.Background(), cursor)
		if err != nil {
			t.Fatalf("pull from %q: %v", cursor, err)
		}
		ids = append(ids, payloadIDs(t, p.Payloads)...)
		cursor = p.Cursor
		if !p.More {
			return ids, cursor
		}
	}
	t.Fatal("pulls never ended")
	return nil, ""
}

func payloadIDs(t *testing.T, payloads [][]byte) []string {
	t.Helper()
	var ids []string
	for _, p := range payloads {
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(p, &ev); err != nil {
			t.Fatalf("payload is not JSON: %v", err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

// corpusDir is the shared corpus of real WithSecure security events.
func corpusDir() string {
	return filepath.Join("..", "..", "..", "..", "shared", "corpus", "withsecure-elements-api", "withsecure", "security-events")
}

// corpusFiles returns the corpus files by name, or skips the test when the
// corpus is not there.
func corpusFiles(t *testing.T) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(corpusDir(), "*.json"))
	if len(paths) == 0 {
		t.Skipf("WithSecure corpus not found at %s (it is kept beside the repository, in ../shared/corpus)", corpusDir())
	}
	sort.Strings(paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
