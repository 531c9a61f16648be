package crowdstrike

import (
	"context"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testAID = "aa11bb22cc33dd44ee55ff6677889900"

func newResponder(t *testing.T, cfg connector.Config) *Responder {
	t.Helper()
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResponderIsolateRelease walks one host through isolate, isolate
// again, release and release again, checking the API calls made.
func TestResponderIsolateRelease(t *testing.T) {
	sim, cfg := startSim(t)
	if err := sim.Inject(NewAlert("WS-01", testAID)); err != nil {
		t.Fatal(err)
	}
	r := newResponder(t, cfg)
	host := connector.Target{HostID: testAID, HostName: "WS-01"}
	steps := []struct {
		name      string
		do        func(context.Context, connector.Target, string) (connector.Result, error)
		key       string
		already   bool
		contained bool
		calls     map[string]int
	}{
		{"isolate", r.Isolate, "inc-1/isolate", false, true, map[string]int{"inc-1/isolate": 1}},
		{"isolate again", r.Isolate, "inc-1/isolate", true, true, map[string]int{"inc-1/isolate": 1}},
		{"release", r.Release, "inc-1/release", false, false, map[string]int{"inc-1/isolate": 1, "inc-1/release": 1}},
		{"release again", r.Release, "inc-1/release", true, false, map[string]int{"inc-1/isolate": 1, "inc-1/release": 1}},
	}
	for _, st := range steps {
		res, err := st.do(context.Background(), host, st.key)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Already != st.already || res.Detail == "" {
			t.Errorf("%s: result %+v, want Already %v and a detail", st.name, res, st.already)
		}
		if got := sim.Contained(testAID); got != st.contained {
			t.Errorf("%s: contained = %v, want %v", st.name, got, st.contained)
		}
		if diff := cmp.Diff(st.calls, sim.Calls()); diff != "" {
			t.Errorf("%s: calls per key (-want +got):\n%s", st.name, diff)
		}
	}
	want := []LedgerEntry{
		{AID: testAID, Action: "contain", Key: "inc-1/isolate", Status: 202},
		{AID: testAID, Action: "lift_containment", Key: "inc-1/release", Status: 202},
	}
	if diff := cmp.Diff(want, sim.Ledger(), cmpopts.IgnoreFields(LedgerEntry{}, "At")); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
}

func TestResponderErrors(t *testing.T) {
	tests := []struct {
		name      string
		target    connector.Target
		setup     func(*Sim)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "429", setup: func(s *Sim) { s.FailNext(1, 429) }, retryable: true, after: 2 * time.Second, says: "HTTP 429"},
		{name: "500", setup: func(s *Sim) { s.FailNext(1, 500) }, retryable: true, says: "HTTP 500"},
		{name: "unknown AID", target: connector.Target{HostID: "ffffffffffffffffffffffffffffffff"}, is: ErrNotFound, says: "ffffffffffffffffffffffffffffffff"},
		{name: "no AID", target: connector.Target{HostName: "WS-01"}, says: "no AID"},
		{name: "no Hosts: Write", setup: func(s *Sim) { s.DenyScope(ScopeHostsWrite) }, is: ErrMissingScope, says: `"Hosts: Write"`},
		{name: "no Hosts: Read", setup: func(s *Sim) { s.DenyScope(ScopeHostsRead) }, is: ErrMissingScope, says: `"Hosts: Read"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testAID, "WS-01")
			r := newResponder(t, cfg)
			// Warm up: a no-op release fetches the token.
			if _, err := r.Release(context.Background(), connector.Target{HostID: testAID}, "warm"); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(sim)
			}
			target := tt.target
			if target == (connector.Target{}) {
				target = connector.Target{HostID: testAID, HostName: "WS-01"}
			}
			_, err := r.Isolate(context.Background(), target, "k")
			conntest.CheckErr(t, err, tt.retryable, tt.after, tt.is, tt.says)
		})
	}
}

// TestResponderRetriesOnce checks that retrying a failed isolation with the
// same key ends with exactly one containment call.
func TestResponderRetriesOnce(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAID, "WS-01")
	r := newResponder(t, cfg)
	host := connector.Target{HostID: testAID}
	for _, status := range []int{429, 500} {
		sim.FailNext(1, status)
		if _, err := r.Isolate(context.Background(), host, "inc-7/isolate"); !conntest.IsRetryable(err) {
			t.Fatalf("HTTP %d: %v, want a RetryableError", status, err)
		}
	}
	for range 2 {
		if _, err := r.Isolate(context.Background(), host, "inc-7/isolate"); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]int{"inc-7/isolate": 1}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
