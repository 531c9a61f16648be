package sophos

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

var target = connector.Target{HostID: testEndpoint, HostName: testHost}

func TestIsolateReleaseIdempotent(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testEndpoint, testHost)
	r := newResponder(t, cfg)
	ctx := context.Background()
	steps := []struct {
		name      string
		do        func(context.Context, connector.Target, string) (connector.Result, error)
		key       string
		already   bool
		contained bool
	}{
		{"isolate", r.Isolate, "k-iso", false, true},
		{"isolate again, same key (a retry)", r.Isolate, "k-iso", true, true},
		{"isolate again, new key", r.Isolate, "k-iso-2", true, true},
		{"release", r.Release, "k-rel", false, false},
		{"release again", r.Release, "k-rel", true, false},
	}
	for _, st := range steps {
		res, err := st.do(ctx, target, st.key)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Already != st.already || sim.Contained(testEndpoint) != st.contained {
			t.Errorf("%s: Already=%v contained=%v, want %v %v (%s)", st.name, res.Already, sim.Contained(testEndpoint), st.already, st.contained, res.Detail)
		}
	}
	calls := sim.Calls()
	if calls["k-iso"] != 1 || calls["k-rel"] != 1 || calls["k-iso-2"] != 0 || len(calls) != 2 {
		t.Errorf("calls per key = %v, want one isolate and one release", calls)
	}
	for _, e := range sim.Ledger() {
		if e.HostID != testEndpoint || (e.Action != "isolate" && e.Action != "release") {
			t.Errorf("ledger entry %+v", e)
		}
	}
}

func TestIsolateFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		target    connector.Target
		fault     func(*Sim)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "unknown endpoint", target: connector.Target{HostID: "no-such-endpoint"}, is: ErrNotFound, says: "HTTP 404"},
		{name: "no endpoint id", target: connector.Target{HostName: testHost}, says: "no endpoint id"},
		{name: "403 names the role", target: target, fault: func(s *Sim) { s.DenyRole(RoleManagement) }, is: ErrMissingRole, says: `"Service Principal Management" role`},
		{name: "429 on the state read", target: target, fault: func(s *Sim) { s.FailNext(1, 429) }, retryable: true, after: 2 * time.Second, says: "HTTP 429"},
		{name: "503", target: target, fault: func(s *Sim) { s.FailNext(1, 503) }, retryable: true, after: 2 * time.Second, says: "HTTP 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testEndpoint, testHost)
			r := newResponder(t, cfg)
			if _, err := r.Release(context.Background(), target, ""); err != nil { // warm up: token, whoami
				t.Fatal(err)
			}
			if tc.fault != nil {
				tc.fault(sim)
			}
			_, err := r.Isolate(context.Background(), tc.target, "k")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
			if sim.Contained(testEndpoint) || sim.Calls()["k"] != 0 {
				t.Errorf("a failed isolation changed state: contained=%v calls=%v", sim.Contained(testEndpoint), sim.Calls())
			}
			if tc.retryable {
				if _, err := r.Isolate(context.Background(), tc.target, "k"); err != nil || sim.Calls()["k"] != 1 {
					t.Errorf("retry: %v, calls %v", err, sim.Calls())
				}
			}
		})
	}
}

func TestIsolateManyPartialSuccess(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testEndpoint, testHost)
	sim.AddDevice("ep-2", "WS-02")
	r := newResponder(t, cfg)
	res, err := r.IsolateMany(context.Background(), []string{testEndpoint, "unknown-ep", "ep-2"}, true, "bulk-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Accepted, []string{testEndpoint, "ep-2"}) || !slices.Equal(res.Missing, []string{"unknown-ep"}) {
		t.Errorf("IsolateMany = %+v", res)
	}
	if !sim.Contained(testEndpoint) || !sim.Contained("ep-2") || sim.Contained("unknown-ep") {
		t.Error("bulk isolation did not isolate the known endpoints only")
	}
	if _, err := r.IsolateMany(context.Background(), nil, true, ""); err == nil {
		t.Error("empty bulk accepted")
	}
}

func TestActions(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithSimClock(c.Now))
	for _, p := range [][]byte{
		NewAlert(testHost, testEndpoint, AlertID("pua-1"), AlertType("Event::Endpoint::Threat::PuaCleanupFailed")),
		NewAlert(testHost, testEndpoint, AlertID("mal-1")),
		NewAlert(testHost, testEndpoint, AlertID("upd-1"), AlertType("Event::Endpoint::UpdateFailure")),
	} {
		if err := sim.Inject(p); err != nil {
			t.Fatal(err)
		}
	}
	r := newResponder(t, cfg)
	if got := r.Actions(); !slices.Equal(got, []string{connector.ActRemediate, connector.ActBlocklistHash}) {
		t.Errorf("Actions = %v", got)
	}
	hash := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name    string
		act     connector.Act
		key     string
		already bool
		is      error
		says    string
		ledger  string // the action the simulator must have recorded for key
	}{
		{name: "remediate PUA", act: connector.Act{Kind: connector.ActRemediate, ThreatID: "pua-1"}, key: "r1", says: "cleanPua", ledger: "cleanPua"},
		{name: "remediate malware", act: connector.Act{Kind: connector.ActRemediate, ThreatID: "mal-1"}, key: "r2", says: "cleanVirus", ledger: "cleanVirus"},
		{name: "remediate without clean-up", act: connector.Act{Kind: connector.ActRemediate, ThreatID: "upd-1"}, key: "r3", is: connector.ErrUnsupported, says: "offers no clean-up"},
		{name: "remediate unknown alert", act: connector.Act{Kind: connector.ActRemediate, ThreatID: "nope"}, key: "r4", is: ErrNotFound, says: "HTTP 404"},
		{name: "remediate without id", act: connector.Act{Kind: connector.ActRemediate}, key: "r5", says: "no alert id"},
		{name: "block hash", act: connector.Act{Kind: connector.ActBlocklistHash, SHA256: strings.ToUpper(hash)}, key: "b1", says: "blocked", ledger: "block"},
		{name: "block hash again", act: connector.Act{Kind: connector.ActBlocklistHash, SHA256: hash}, key: "b2", already: true, says: "already blocked"},
		{name: "block a non-hash", act: connector.Act{Kind: connector.ActBlocklistHash, SHA256: "abc"}, key: "b3", says: "not a SHA-256"},
		{name: "kill process not offered", act: connector.Act{Kind: connector.ActKillProcess, PID: "1"}, key: "k1", is: connector.ErrUnsupported, says: "kill_process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Do(context.Background(), target, tc.act, tc.key)
			if tc.is != nil || tc.ledger == "" && !tc.already {
				if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("Do = %+v, %v; want an error %v saying %q", res, err, tc.is, tc.says)
				}
				return
			}
			if err != nil || res.Already != tc.already || !strings.Contains(res.Detail, tc.says) {
				t.Fatalf("Do = %+v, %v", res, err)
			}
			if tc.ledger == "" {
				return
			}
			if sim.Calls()[tc.key] != 1 {
				t.Errorf("calls for %s = %d, want 1", tc.key, sim.Calls()[tc.key])
			}
			found := false
			for _, e := range sim.Ledger() {
				found = found || e.Key == tc.key && e.Action == tc.ledger
			}
			if !found {
				t.Errorf("no %s entry with key %s in %+v", tc.ledger, tc.key, sim.Ledger())
			}
		})
	}
	if !sim.Blocked(hash) {
		t.Error("hash not blocked in the simulator")
	}
}

func TestCommentKey(t *testing.T) {
	for _, tc := range []struct{ text, key, back string }{
		{"bannin isolate", "abc", "abc"},
		{"bannin isolate", "", ""},
		{"x [bannin-key:unterminated", "", ""},
	} {
		c := tc.text
		if tc.key != "" {
			c = comment(tc.text, tc.key)
		}
		if got := KeyOf(c); got != tc.back {
			t.Errorf("KeyOf(%q) = %q, want %q", c, got, tc.back)
		}
	}
}

// TestRegistryEndToEnd drives the integration only through what it
// registered, as the app does: simulator, source, responder.
func TestRegistryEndToEnd(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	sim := v.NewSimulator()
	srv := newServer(t, sim)
	if err := sim.Inject(NewAlert(testHost, testEndpoint, AlertID("e2e-1"))); err != nil {
		t.Fatal(err)
	}
	id, secret := sim.Credentials()
	cfg := connector.Config{URL: srv, ClientID: id, ClientSecret: secret}
	src, err := v.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	page, err := src.Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 1 {
		t.Fatalf("Pull = %d payloads, %v", len(page.Payloads), err)
	}
	alerts, err := v.Decoder.Decode(page.Payloads[0])
	if err != nil || alerts[0].VendorID != "e2e-1" {
		t.Fatalf("Decode = %v, %v", alerts, err)
	}
	resp, err := v.NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tgt := connector.Target{HostID: alerts[0].Host.ID, HostName: alerts[0].Host.Name}
	if _, err := resp.Isolate(context.Background(), tgt, "e2e-key"); err != nil || !sim.Contained(testEndpoint) || sim.Calls()["e2e-key"] != 1 {
		t.Errorf("Isolate: %v, contained=%v, calls=%v", err, sim.Contained(testEndpoint), sim.Calls())
	}
	if _, ok := resp.(connector.Actor); !ok {
		t.Error("the responder is not a connector.Actor")
	}
}
