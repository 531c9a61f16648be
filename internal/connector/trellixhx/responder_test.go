package trellixhx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

var target = connector.Target{HostID: testAgent, HostName: testHost}

func TestResponderIsolateRelease(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAgent, testHost)
	r := newResponder(t, cfg)
	ctx := context.Background()

	res, err := r.Isolate(ctx, target, "inc-1/isolate")
	if err != nil || res.Already || !sim.Contained(testAgent) {
		t.Fatalf("Isolate = %+v, %v; contained %v", res, err, sim.Contained(testAgent))
	}
	res, err = r.Isolate(ctx, target, "inc-1/isolate")
	if err != nil || !res.Already {
		t.Fatalf("second Isolate = %+v, %v; want Already", res, err)
	}
	res, err = r.Release(ctx, target, "inc-1/release")
	if err != nil || res.Already || sim.Contained(testAgent) || sim.State(testAgent) != StateNormal {
		t.Fatalf("Release = %+v, %v; state %s", res, err, sim.State(testAgent))
	}
	res, err = r.Release(ctx, target, "inc-1/release")
	if err != nil || !res.Already {
		t.Fatalf("second Release = %+v, %v; want Already", res, err)
	}
	want := map[string]int{"inc-1/isolate": 1, "approve:inc-1/isolate": 1, "inc-1/release": 1}
	if diff := cmp.Diff(want, sim.Calls()); diff != "" {
		t.Errorf("calls per key (-want +got):\n%s", diff)
	}
	var actions []string
	for _, e := range sim.Ledger() {
		actions = append(actions, e.Action)
	}
	if diff := cmp.Diff([]string{"contain", "approve", "uncontain"}, actions); diff != "" {
		t.Errorf("containment calls (-want +got):\n%s", diff)
	}
}

// TestResponderStates: what Isolate and Release do from each state HX
// reports, and which calls they make.
func TestResponderStates(t *testing.T) {
	tests := []struct {
		state     string
		isolate   bool // else release
		already   bool
		calls     []string
		wantState string
	}{
		{StateNormal, true, false, []string{"contain", "approve"}, StateContained},
		{StateContainRequested, true, false, []string{"approve"}, StateContained}, // approve the waiting request, do not ask again
		{StateContaining, true, true, nil, StateContaining},
		{StateContained, true, true, nil, StateContained},
		{StateUncontaining, true, false, []string{"contain", "approve"}, StateContained},
		{StateContained, false, false, []string{"uncontain"}, StateNormal},
		{StateContaining, false, false, []string{"uncontain"}, StateNormal},
		{StateContainRequested, false, false, []string{"uncontain"}, StateNormal}, // cancels the request
		{StateNormal, false, true, nil, StateNormal},
		{StateUncontaining, false, true, nil, StateUncontaining},
	}
	for _, tc := range tests {
		verb := map[bool]string{true: "isolate", false: "release"}[tc.isolate]
		t.Run(verb+" from "+tc.state, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testAgent, testHost)
			sim.SetState(testAgent, tc.state)
			r := newResponder(t, cfg)
			do := r.Release
			if tc.isolate {
				do = r.Isolate
			}
			res, err := do(context.Background(), target, "k")
			if err != nil || res.Already != tc.already {
				t.Fatalf("%s = %+v, %v; want Already %v", verb, res, err, tc.already)
			}
			var calls []string
			for _, e := range sim.Ledger() {
				calls = append(calls, e.Action)
			}
			if diff := cmp.Diff(tc.calls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if got := sim.State(testAgent); got != tc.wantState {
				t.Errorf("state %s, want %s", got, tc.wantState)
			}
		})
	}
}

// TestResponderApprovalRefused is HX's partial success: the request is
// accepted (202) but the API user may not approve it. That is not
// containment: Isolate fails naming the approver role and saying the
// request is pending; a retry once the role is granted approves without a
// second request.
func TestResponderApprovalRefused(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAgent, testHost)
	sim.DenyScope(ScopeContainApprove)
	r := newResponder(t, cfg)
	_, err := r.Isolate(context.Background(), target, "inc-2/isolate")
	conntest.CheckErr(t, err, false, 0, ErrPendingApproval, "pending approval in HX")
	conntest.CheckErr(t, err, false, 0, ErrMissingRole, "api_admin")
	if sim.Contained(testAgent) || sim.State(testAgent) != StateContainRequested {
		t.Fatalf("state %s, want contain_requested and not contained", sim.State(testAgent))
	}

	sim2, cfg2 := startSim(t)
	sim2.AddDevice(testAgent, testHost)
	sim2.SetState(testAgent, StateContainRequested)
	if _, err := newResponder(t, cfg2).Isolate(context.Background(), target, "inc-2/isolate"); err != nil || !sim2.Contained(testAgent) {
		t.Fatalf("retry with the role: %v, contained %v", err, sim2.Contained(testAgent))
	}
	if got := sim2.Calls(); got["inc-2/isolate"] != 0 || got["approve:inc-2/isolate"] != 1 {
		t.Errorf("retry calls %v: want only an approval", got)
	}
}

// TestResponderAutoApprove: on an appliance that approves requests itself,
// the request contains the host and the approval is a no-op.
func TestResponderAutoApprove(t *testing.T) {
	sim, cfg := startSim(t, WithAutoApprove())
	sim.AddDevice(testAgent, testHost)
	if _, err := newResponder(t, cfg).Isolate(context.Background(), target, "k"); err != nil || !sim.Contained(testAgent) {
		t.Fatalf("Isolate: %v, contained %v", err, sim.Contained(testAgent))
	}
}

func TestResponderErrors(t *testing.T) {
	tests := []struct {
		name      string
		target    connector.Target
		setup     func(*Sim)
		release   bool
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{"no agent id", connector.Target{HostName: testHost}, nil, false, false, 0, nil, "no agent id"},
		{"bad agent id", connector.Target{HostID: "../alerts"}, nil, false, false, 0, nil, "not an HX agent _id"},
		{"unknown host", connector.Target{HostID: "nope"}, nil, false, false, 0, ErrNotFound, "HTTP 404"},
		{"cannot read hosts", target, func(s *Sim) { s.DenyScope(ScopeHosts) }, false, false, 0, ErrMissingRole, "api_analyst"},
		{"cannot request", target, func(s *Sim) { s.DenyScope(ScopeContainRequest) }, false, false, 0, ErrMissingRole, "api_analyst"},
		{"cannot release", target, func(s *Sim) { s.SetState(testAgent, StateContained); s.DenyScope(ScopeContainRelease) }, true, false, 0, ErrMissingRole, "api_admin"},
		{"429", target, func(s *Sim) { s.FailNext(1, http.StatusTooManyRequests) }, false, true, 3 * time.Second, nil, "HTTP 429"},
		{"502", target, func(s *Sim) { s.FailNext(1, http.StatusBadGateway) }, false, true, 0, nil, "HTTP 502"},
		{"wrong password", target, func(s *Sim) { s.FailNext(1, http.StatusUnauthorized) }, false, false, 0, ErrUnauthorized, "name or password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t, WithRetryAfter(3*time.Second))
			sim.AddDevice(testAgent, testHost)
			if tc.setup != nil {
				tc.setup(sim)
			}
			r := newResponder(t, cfg)
			do := r.Isolate
			if tc.release {
				do = r.Release
			}
			_, err := do(context.Background(), tc.target, "k")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
		})
	}
}

// TestResponderRetriesAfterFailure: an isolation interrupted by a 5xx on
// the approval and retried with the same key ends contained, with one
// request and one approval.
func TestResponderRetriesAfterFailure(t *testing.T) {
	sim := NewSim()
	sim.AddDevice(testAgent, testHost)
	var patches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && patches.Add(1) == 1 {
			fail(w, http.StatusServiceUnavailable, "Service Unavailable", "appliance busy")
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	r := newResponder(t, connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret})
	ctx := context.Background()
	_, err := r.Isolate(ctx, target, "inc-3/isolate")
	if !conntest.IsRetryable(err) || sim.State(testAgent) != StateContainRequested {
		t.Fatalf("first try: %v, state %s; want retryable and contain_requested", err, sim.State(testAgent))
	}
	if _, err := r.Isolate(ctx, target, "inc-3/isolate"); err != nil || !sim.Contained(testAgent) {
		t.Fatalf("retry: %v, contained %v", err, sim.Contained(testAgent))
	}
	want := map[string]int{"inc-3/isolate": 1, "approve:inc-3/isolate": 1}
	if diff := cmp.Diff(want, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestResponderStateChangesUnderIt: another user acts between the state
// read and bannin's call; HX answers 409 and the responder carries on from
// the new state instead of failing.
func TestResponderStateChangesUnderIt(t *testing.T) {
	tests := []struct {
		name     string
		method   string // the call before which the state changes
		from, to string
		isolate  bool
		already  bool
		want     string
	}{
		{"analyst requested first", http.MethodPost, StateNormal, StateContainRequested, true, false, StateContained},
		{"admin contained first", http.MethodPost, StateNormal, StateContained, true, true, StateContained},
		{"released by someone else", http.MethodDelete, StateContained, StateNormal, false, true, StateNormal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := NewSim()
			sim.AddDevice(testAgent, testHost)
			sim.SetState(testAgent, tc.from)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == tc.method {
					sim.SetState(testAgent, tc.to)
				}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			id, secret := sim.Credentials()
			r := newResponder(t, connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret})
			do := r.Release
			if tc.isolate {
				do = r.Isolate
			}
			res, err := do(context.Background(), target, "k")
			if err != nil || res.Already != tc.already || sim.State(testAgent) != tc.want {
				t.Errorf("= %+v, %v; state %s; want Already %v, state %s", res, err, sim.State(testAgent), tc.already, tc.want)
			}
		})
	}
}

// TestResponderConcurrent: several incidents isolate the same host at once;
// all succeed, and HX accepts exactly one containment request.
func TestResponderConcurrent(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testAgent, testHost)
	r := newResponder(t, cfg)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := r.Isolate(context.Background(), target, "inc-"+itoa(i))
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	accepted := 0
	for _, e := range sim.Ledger() {
		if e.Action == "contain" && e.Status == http.StatusAccepted {
			accepted++
		}
	}
	if accepted != 1 || !sim.Contained(testAgent) {
		t.Errorf("%d accepted requests, contained %v; want 1, true", accepted, sim.Contained(testAgent))
	}
}
