package sentinelone

import (
	"context"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestResponderIsolateRelease walks one agent through isolate, isolate
// again, release and release again, checking the API calls made.
func TestResponderIsolateRelease(t *testing.T) {
	sim, cfg := startSim(t)
	if err := sim.Inject(NewThreat("WS-01", testAgent)); err != nil {
		t.Fatal(err)
	}
	r := newResponder(t, cfg)
	host := connector.Target{HostID: testAgent, HostName: "WS-01"}
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
		if got := sim.Contained(testAgent); got != st.contained {
			t.Errorf("%s: contained = %v, want %v", st.name, got, st.contained)
		}
		if diff := cmp.Diff(st.calls, sim.Calls()); diff != "" {
			t.Errorf("%s: calls per key (-want +got):\n%s", st.name, diff)
		}
	}
	want := []LedgerEntry{
		{HostID: testAgent, Action: "disconnect", Key: "inc-1/isolate", Status: 200},
		{HostID: testAgent, Action: "connect", Key: "inc-1/release", Status: 200},
	}
	if diff := cmp.Diff(want, sim.Ledger(), cmpopts.IgnoreFields(LedgerEntry{}, "At")); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
}

// TestResponderAlreadyPending checks that an agent on its way to the asked
// state (disconnecting) is left alone.
func TestResponderAlreadyPending(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAgent, "WS-01")
	sim.SetNetworkStatus(testAgent, NetDisconnecting)
	res, err := newResponder(t, cfg).Isolate(context.Background(), connector.Target{HostID: testAgent}, "k")
	if err != nil || !res.Already {
		t.Fatalf("Isolate = %+v, %v; want Already", res, err)
	}
	if n := len(sim.Calls()); n != 0 {
		t.Errorf("%d disconnect calls made, want none", n)
	}
}

// TestResponderCallsByAgentWithoutKey checks the simulator's fallback key.
func TestResponderCallsByAgentWithoutKey(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAgent, "WS-01")
	if _, err := newResponder(t, cfg).Isolate(context.Background(), connector.Target{HostID: testAgent}, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"disconnect:" + testAgent: 1}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestResponderErrors(t *testing.T) {
	tests := []struct {
		name      string
		target    connector.Target
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "429", setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "HTTP 429"},
		{name: "500", setup: failNext(1, 500), retryable: true, says: "HTTP 500"},
		{name: "401", setup: func(_ *Sim, c *connector.Config) { c.ClientSecret = "expired" }, is: ErrUnauthorized, says: "HTTP 401"},
		{name: "unknown agent", target: connector.Target{HostID: "1999999999999999999"}, is: ErrNotFound, says: "1999999999999999999"},
		{name: "no agent id", target: connector.Target{HostName: "WS-01"}, says: "no agent id"},
		{name: "no disconnect permission", setup: func(s *Sim, _ *connector.Config) { s.DenyPermission(PermEndpointsDisconn) }, is: ErrMissingPermission, says: `"Endpoints: Disconnect From Network"`},
		{name: "no view permission", setup: func(s *Sim, _ *connector.Config) { s.DenyPermission(PermEndpointsView) }, is: ErrMissingPermission, says: `"Endpoints: View"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testAgent, "WS-01")
			if tt.setup != nil {
				tt.setup(sim, &cfg)
			}
			target := tt.target
			if target == (connector.Target{}) {
				target = connector.Target{HostID: testAgent, HostName: "WS-01"}
			}
			_, err := newResponder(t, cfg).Isolate(context.Background(), target, "k")
			conntest.CheckErr(t, err, tt.retryable, tt.after, tt.is, tt.says)
			if sim.Contained(testAgent) {
				t.Error("agent disconnected although the call failed")
			}
		})
	}
}

// TestResponderRetriesOnce checks that retrying a failed isolation with the
// same key ends with exactly one disconnect call.
func TestResponderRetriesOnce(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAgent, "WS-01")
	r := newResponder(t, cfg)
	host := connector.Target{HostID: testAgent}
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
