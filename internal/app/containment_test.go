package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// containEnv starts bannin with the demo tenant and returns its
// CrowdStrike simulator, which knows the given hosts.
func containEnv(t *testing.T, b backend, hosts ...string) (*env, *crowdstrike.Sim) {
	t.Helper()
	e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)})
	s, ok := e.App.Simulator("hokuto", "falcon")
	if !ok {
		t.Fatal("no simulator for hokuto/falcon")
	}
	sim := s.(*crowdstrike.Sim)
	for _, h := range hosts {
		sim.AddDevice(aid(h), h)
	}
	return e, sim
}

// isolations returns the incident's isolate actions as stored.
func isolations(t *testing.T, a *app.App, in view.IncidentOut) []*response.Action {
	t.Helper()
	id, err := ticket.ParseRef(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := a.DB.IncidentActions(context.Background(), in.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []*response.Action
	for _, act := range acts {
		if act.Kind == response.KindIsolate {
			out = append(out, act)
		}
	}
	return out
}

// containCalls counts the contain calls the simulator received per key.
func containCalls(sim *crowdstrike.Sim) map[string]int {
	out := map[string]int{}
	for _, l := range sim.Ledger() {
		if l.Action == "contain" {
			out[l.Key]++
		}
	}
	return out
}

// TestContainmentIsolatesOnce delivers one critical alert about a PC twice
// in one request and twice more later, with a second alert of the same
// host: the host is isolated, with exactly one call to the vendor.
func TestContainmentIsolatesOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e, sim := containEnv(t, b, "pc-701")
		theft := csAlert("contain:1", "pc-701", credentialTheft()...)
		if r := e.post(t, "hokuto", ndjson(theft, theft)); r.code != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
		quiesce(t, e.App)
		more := csAlert("contain:2", "pc-701", append(credentialTheft(), crowdstrike.AlertTechnique("TA0006", "Credential Access", "T1003.002", "SAM"))...)
		for _, body := range [][]byte{theft, more} {
			if r := e.post(t, "hokuto", body); r.code != http.StatusAccepted {
				t.Fatalf("post: %d %s", r.code, r.body)
			}
		}
		quiesce(t, e.App)

		in := onlyIncident(t, e.App, "hokuto")
		if in.Severity != "critical" || in.Priority != "P1" {
			t.Errorf("incident is %s %s, want critical P1 (75 + 10 for T1003)", in.Severity, in.Priority)
		}
		acts := isolations(t, e.App, in)
		if len(acts) != 1 || acts[0].State != response.StateDone || acts[0].HostID != aid("pc-701") {
			t.Fatalf("isolations = %+v, want one, done, of pc-701", acts)
		}
		wantKey := "hokuto/" + in.ID + "/isolate/pc-701"
		if calls := sim.Calls(); len(calls) != 1 || calls[wantKey] != 1 {
			t.Errorf("simulator calls = %v, want exactly one, for %s", calls, wantKey)
		}
		if !sim.Contained(aid("pc-701")) {
			t.Error("pc-701 is not contained at the vendor")
		}
		if got := vendorIDs(t, e.App, "hokuto"); got["contain:1"] != 1 || got["contain:2"] != 1 {
			t.Errorf("stored alerts = %v, want each once", got)
		}
		if st := e.App.Processor.Stats(); st.Duplicates < 2 {
			t.Errorf("processor counted %d duplicates, want at least 2 (the alert delivered three times)", st.Duplicates)
		}
	})
}

// TestContainmentCriticalHostWaitsForApproval sends ransomware on fs01, a
// critical host: the isolation waits for a human, then runs once on
// approval and can be released.
func TestContainmentCriticalHostWaitsForApproval(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e, sim := containEnv(t, b, "fs01")
		ctx := context.Background()
		ransom := csAlert("fs01:1", "fs01", crowdstrike.AlertSeverity(90), crowdstrike.AlertRole("Server"),
			crowdstrike.AlertTechnique("TA0040", "Impact", "T1486", "Data Encrypted for Impact"))
		if r := e.post(t, "hokuto", ransom); r.code != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
		quiesce(t, e.App)
		in := onlyIncident(t, e.App, "hokuto")
		if in.Priority != "P0" || in.Severity != "emergency" || !in.NeedsHuman {
			t.Errorf("incident = %s %s needs_human %v, want P0 emergency needing a human", in.Priority, in.Severity, in.NeedsHuman)
		}
		acts := isolations(t, e.App, in)
		if len(acts) != 1 || acts[0].State != response.StateAwaitingApproval || !strings.Contains(acts[0].Reason, "critical host") {
			t.Fatalf("isolations = %+v, want one awaiting approval because fs01 is a critical host", acts)
		}
		if calls := sim.Calls(); len(calls) != 0 || sim.Contained(aid("fs01")) {
			t.Fatalf("the vendor was called before approval: %v", calls)
		}

		approved, err := e.App.Response.Approve(ctx, "hokuto", in.ID, "analyst-1")
		if err != nil || len(approved) != 1 {
			t.Fatalf("approve = %v, %v; want the one held isolation", approved, err)
		}
		quiesce(t, e.App)
		acts = isolations(t, e.App, in)
		if acts[0].State != response.StateDone || acts[0].Approver != "analyst-1" {
			t.Errorf("after approval: %s approved by %q, want done by analyst-1", acts[0].State, acts[0].Approver)
		}
		if calls := containCalls(sim); len(calls) != 1 || !sim.Contained(aid("fs01")) {
			t.Errorf("contain calls after approval = %v, contained %v; want one call and fs01 contained", calls, sim.Contained(aid("fs01")))
		}
		if _, err := e.App.Response.Approve(ctx, "hokuto", in.ID, "analyst-2"); !errors.Is(err, sqlstore.ErrConflict) {
			t.Errorf("second approval: %v, want a conflict (nothing waits any more)", err)
		}

		rel, err := e.App.Response.Release(ctx, "hokuto", in.ID, response.ReleaseRequest{Host: "fs01", By: "analyst-1", Reason: "restored from backup"})
		if err != nil {
			t.Fatalf("release: %v", err)
		}
		quiesce(t, e.App)
		done, err := e.App.DB.Action(ctx, "hokuto", rel.ID)
		if err != nil || done.State != response.StateDone || sim.Contained(aid("fs01")) {
			t.Errorf("release = %+v, %v, contained %v; want done and fs01 back to normal", done, err, sim.Contained(aid("fs01")))
		}
		if calls := containCalls(sim); len(calls) != 1 {
			t.Errorf("contain calls after the release = %v, want still one", calls)
		}
	})
}

// TestContainmentRetries makes the vendor fail: rate limited twice, the
// isolation is tried again when the vendor says and succeeds; failing for
// good, it is given up after response.MaxTries with the reason recorded.
func TestContainmentRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		failN    int
		status   int
		state    response.State
		attempts int
		detail   string
	}{
		{"429 twice", 2, http.StatusTooManyRequests, response.StateDone, 3, "accepted"},
		{"500 for good", 100, http.StatusInternalServerError, response.StateFailed, response.MaxTries,
			fmt.Sprintf("gave up after %d tries", response.MaxTries)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b backend) {
				e, sim := containEnv(t, b, "pc-801")
				sim.FailNext(tt.failN, tt.status)
				if r := e.post(t, "hokuto", csAlert("retry:1", "pc-801", credentialTheft()...)); r.code != http.StatusAccepted {
					t.Fatalf("post: %d %s", r.code, r.body)
				}
				quiesce(t, e.App)
				in := onlyIncident(t, e.App, "hokuto")
				acts := isolations(t, e.App, in)
				if len(acts) != 1 {
					t.Fatalf("isolations = %+v, want one", acts)
				}
				act := acts[0]
				if act.State != tt.state || act.Attempts != tt.attempts || !strings.Contains(act.Detail, tt.detail) {
					t.Errorf("isolation = %s after %d tries (%q), want %s after %d saying %q",
						act.State, act.Attempts, act.Detail, tt.state, tt.attempts, tt.detail)
				}
				if want := act.State == response.StateDone; sim.Contained(aid("pc-801")) != want {
					t.Errorf("pc-801 contained = %v, want %v", !want, want)
				}
				id, _ := ticket.ParseRef(in.ID)
				view, err := e.App.View.IncidentView(context.Background(), "hokuto", id)
				if err != nil {
					t.Fatal(err)
				}
				if len(view.Actions) != 1 || view.Actions[0].State != string(tt.state) {
					t.Errorf("incident view actions = %+v, want one %s", view.Actions, tt.state)
				}
				if tt.state == response.StateFailed && !viewShows(view, tt.detail) {
					t.Errorf("incident view does not say why the isolation failed (%q): %+v", tt.detail, view.Actions)
				}
			})
		})
	}
}

// viewShows reports whether the incident view, as the API serves it, says
// what.
func viewShows(v *view.IncidentView, what string) bool {
	b, err := json.Marshal(v)
	return err == nil && strings.Contains(string(b), what)
}
