package sentinelone

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

const testThreat = "2087361155048800501"

// threatOS sets the agent's OS type.
func threatOS(os string) ThreatOption {
	return func(t map[string]any) { t["agentRealtimeInfo"].(map[string]any)["agentOsType"] = os }
}

// actorSim serves a simulator holding one threat, and a Responder for it.
func actorSim(t *testing.T, opts []SimOption, topts ...ThreatOption) (*Sim, connector.Config, *Responder) {
	t.Helper()
	sim, cfg := startSim(t, opts...)
	if err := sim.Inject(NewThreat("WS-01", testAgent, append([]ThreatOption{ThreatID(testThreat)}, topts...)...)); err != nil {
		t.Fatal(err)
	}
	return sim, cfg, newResponder(t, cfg)
}

func do(r *Responder, kind, threatID, sha, key string) (connector.Result, error) {
	return r.Do(context.Background(), connector.Target{HostID: testAgent, HostName: "WS-01"},
		connector.Act{Kind: kind, ThreatID: threatID, SHA256: sha}, key)
}

// TestActorMitigations runs each mitigation twice: once applied (one call,
// the threat's mitigationStatus shows it), then Already without a call.
func TestActorMitigations(t *testing.T) {
	for _, tc := range []struct{ kind, action, shown string }{
		{connector.ActKillProcess, MitigateKill, "kill"},
		{connector.ActQuarantineFile, MitigateQuarantine, "quarantine"},
		{connector.ActRemediate, MitigateRemediate, "remediate"},
		{connector.ActRollback, MitigateRollback, "rollback"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			sim, _, r := actorSim(t, nil)
			key := "inc-1/" + tc.kind
			res, err := do(r, tc.kind, testThreat, "", key)
			if err != nil || res.Already || !strings.Contains(res.Detail, tc.action) {
				t.Fatalf("first: %+v, %v", res, err)
			}
			res, err = do(r, tc.kind, testThreat, "", key)
			if err != nil || !res.Already {
				t.Fatalf("second: %+v, %v; want Already", res, err)
			}
			if diff := cmp.Diff(map[string]int{key: 1}, sim.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tc.shown}, sim.Mitigations(testThreat)); diff != "" {
				t.Errorf("mitigationStatus (-want +got):\n%s", diff)
			}
			e := sim.Ledger()
			if len(e) != 1 || e[0].HostID != testThreat || e[0].Action != tc.action {
				t.Errorf("ledger = %+v", e)
			}
		})
	}
}

// TestActorQuarantineShowsInPulledThreat: the threats list serves the
// threat in its new state, which the decoder reads as quarantined.
func TestActorQuarantineShowsInPulledThreat(t *testing.T) {
	_, cfg, r := actorSim(t, nil)
	if _, err := do(r, connector.ActQuarantineFile, testThreat, "", "k"); err != nil {
		t.Fatal(err)
	}
	page, err := newSource(t, cfg).Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 1 {
		t.Fatalf("Pull = %d payloads, %v", len(page.Payloads), err)
	}
	got, err := Decoder{}.Decode(page.Payloads[0])
	if err != nil || got[0].Action != alert.ActionQuarantined {
		t.Errorf("decoded action = %v, %v; want quarantined", got, err)
	}
}

// TestActorAlreadyFromTheAgent: a threat the agent mitigated itself needs
// no call; one unquarantined since is quarantined again.
func TestActorAlreadyFromTheAgent(t *testing.T) {
	sim, _, r := actorSim(t, nil, ThreatMitigated(alert.ActionQuarantined))
	for _, kind := range []string{connector.ActQuarantineFile, connector.ActKillProcess} {
		res, err := do(r, kind, testThreat, "", "k")
		if err != nil || !res.Already {
			t.Errorf("%s: %+v, %v; want Already", kind, res, err)
		}
	}
	if n := len(sim.Calls()); n != 0 {
		t.Errorf("%d calls, want none", n)
	}
	unq := func(t map[string]any) {
		t["mitigationStatus"] = []any{
			map[string]any{"action": "unquarantine", "status": "success"},
			map[string]any{"action": "quarantine", "status": "success"},
		}
	}
	sim, _, r = actorSim(t, nil, unq)
	res, err := do(r, connector.ActQuarantineFile, testThreat, "", "k")
	if err != nil || res.Already || sim.Calls()["k"] != 1 {
		t.Errorf("unquarantined: %+v, %v, calls %v; want one quarantine call", res, err, sim.Calls())
	}
}

// TestActorNotApplied: the console affects nothing (rollback on Linux):
// an error, not success.
func TestActorNotApplied(t *testing.T) {
	_, _, r := actorSim(t, nil, threatOS("linux"))
	_, err := do(r, connector.ActRollback, testThreat, "", "k")
	conntest.CheckErr(t, err, false, 0, ErrNotApplied, "linux")
	if _, err := do(r, connector.ActKillProcess, testThreat, "", "k2"); err != nil {
		t.Errorf("kill on linux: %v", err)
	}
}

func TestActorErrors(t *testing.T) {
	tests := []struct {
		name      string
		opts      []SimOption
		setup     func(*Sim, *connector.Config)
		kind, id  string
		sha       string
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "kill without permission", kind: connector.ActKillProcess, setup: deny(PermThreatsKill), is: ErrMissingPermission, says: `"Threats: Kill"`},
		{name: "rollback without permission", kind: connector.ActRollback, setup: deny(PermThreatsRollback), is: ErrMissingPermission, says: `"Threats: Rollback"`},
		{name: "threats not readable", kind: connector.ActRemediate, setup: deny(PermThreatsView), is: ErrMissingPermission, says: `"Threats: View"`},
		{name: "blocklist without permission", kind: connector.ActBlocklistHash, setup: deny(PermBlocklistCreate), is: ErrMissingPermission, says: `"Blocklist: Create"`},
		{name: "429", kind: connector.ActQuarantineFile, setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "HTTP 429"},
		{name: "429 longer wait", opts: []SimOption{WithRetryAfter(45 * time.Second)}, kind: connector.ActBlocklistHash, setup: failNext(1, 429), retryable: true, after: 45 * time.Second, says: "HTTP 429"},
		{name: "503", kind: connector.ActKillProcess, setup: failNext(1, 503), retryable: true, says: "HTTP 503"},
		{name: "401", kind: connector.ActKillProcess, setup: func(_ *Sim, c *connector.Config) { c.ClientSecret = "old" }, is: ErrUnauthorized, says: "HTTP 401"},
		{name: "unknown threat", kind: connector.ActKillProcess, id: "2087361155048809999", is: ErrNotFound, says: "2087361155048809999"},
		{name: "no threat id", kind: connector.ActRemediate, id: "-", says: "no threat id"},
		{name: "blocklist by SHA-256 alone", kind: connector.ActBlocklistHash, id: "-", sha: strings.Repeat("ab", 32), says: "takes a SHA-1"},
		{name: "blocklist: hash not the threat's", kind: connector.ActBlocklistHash, sha: strings.Repeat("cd", 32), says: "is not the threat's file"},
		{name: "unsupported", kind: "isolate_user", is: connector.ErrUnsupported, says: "isolate_user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg, _ := actorSim(t, tt.opts)
			if tt.setup != nil {
				tt.setup(sim, &cfg)
			}
			id := tt.id
			switch id {
			case "":
				id = testThreat
			case "-":
				id = ""
			}
			_, err := do(newResponder(t, cfg), tt.kind, id, tt.sha, "k")
			conntest.CheckErr(t, err, tt.retryable, tt.after, tt.is, tt.says)
			if n := len(sim.Calls()); n != 0 {
				t.Errorf("%d accepted calls, want none: %v", n, sim.Calls())
			}
		})
	}
}

func deny(perm string) func(*Sim, *connector.Config) {
	return func(s *Sim, _ *connector.Config) { s.DenyPermission(perm) }
}

// TestActorRetriesOnce: a mitigation retried with the same key after 429
// and 500 ends with exactly one call.
func TestActorRetriesOnce(t *testing.T) {
	sim, _, r := actorSim(t, nil)
	for _, status := range []int{429, 500} {
		sim.FailNext(1, status)
		if _, err := do(r, connector.ActQuarantineFile, testThreat, "", "inc-9/q"); !conntest.IsRetryable(err) {
			t.Fatalf("HTTP %d: %v, want a RetryableError", status, err)
		}
	}
	for range 2 {
		if _, err := do(r, connector.ActQuarantineFile, testThreat, "", "inc-9/q"); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]int{"inc-9/q": 1}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestActorBlocklist blocks the SHA-1 of a threat on its site, then again
// (Already, no call); a SHA-1 given alone goes to the whole tenant.
func TestActorBlocklist(t *testing.T) {
	sim, _, r := actorSim(t, nil)
	res, err := do(r, connector.ActBlocklistHash, testThreat, "", "inc-2/block")
	if err != nil || res.Already {
		t.Fatalf("first: %+v, %v", res, err)
	}
	res, err = do(r, connector.ActBlocklistHash, testThreat, "", "inc-2/block")
	if err != nil || !res.Already {
		t.Fatalf("second: %+v, %v; want Already", res, err)
	}
	const sha1 = "1f2e3d4c5b6a79880716253443526170f8e9dacb" // NewThreat's
	// The threat's own SHA-256 given with it is accepted.
	res, err = do(r, connector.ActBlocklistHash, testThreat, "5e0f7bb1d2b7d3b0a9e1c4f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70", "inc-2/block")
	if err != nil || !res.Already {
		t.Fatalf("with its SHA-256: %+v, %v; want Already", res, err)
	}
	bl := sim.Blocklist()
	if len(bl) != 1 || bl[0].Value != sha1 || bl[0].OSType != "windows" || bl[0].Type != "black_hash" ||
		!cmp.Equal(bl[0].Scope.SiteIDs, []string{SimSiteID}) || !strings.Contains(bl[0].Description, KeyTag+"inc-2/block") {
		t.Errorf("blocklist = %+v", bl)
	}
	other := "00112233445566778899aabbccddeeff00112233"
	res, err = do(r, connector.ActBlocklistHash, "", strings.ToUpper(other), "inc-3/block")
	if err != nil || res.Already {
		t.Fatalf("by SHA-1: %+v, %v", res, err)
	}
	bl = sim.Blocklist()
	if len(bl) != 2 || bl[1].Value != other || !bl[1].Scope.Tenant {
		t.Errorf("blocklist = %+v", bl)
	}
	// A tenant-wide entry covers the threat's site too.
	res, err = do(r, connector.ActBlocklistHash, "", other, "inc-4/block")
	if err != nil || !res.Already {
		t.Errorf("tenant entry: %+v, %v; want Already", res, err)
	}
	if diff := cmp.Diff(map[string]int{"inc-2/block": 1, "inc-3/block": 1}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestActorBlocklistConflict: a create the console refuses as a duplicate
// (409) is Already.
func TestActorBlocklistConflict(t *testing.T) {
	var posts int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"data":[],"pagination":{"nextCursor":null,"totalItems":0}}`))
			return
		}
		posts++
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"errors":[{"code":4090010,"title":"Already Exists"}]}`))
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	r := newResponder(t, connector.Config{URL: srv.URL, ClientSecret: "t"})
	res, err := do(r, connector.ActBlocklistHash, "", "00112233445566778899aabbccddeeff00112233", "k")
	if err != nil || !res.Already || posts != 1 {
		t.Errorf("%+v, %v, %d posts; want Already after one post", res, err, posts)
	}
}

// TestSimMitigateRefusesEmptyFilter: an empty filter would act on every
// threat.
func TestSimMitigateRefusesEmptyFilter(t *testing.T) {
	sim := NewSim()
	req := httptest.NewRequest(http.MethodPost, pathMitigate+MitigateKill, strings.NewReader(`{"filter":{}}`))
	req.Header.Set("Authorization", "ApiToken "+SimToken)
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest {
		t.Errorf("HTTP %d, want 400", w.Code)
	}
	// A missing permission is named in the answer.
	sim.DenyPermission(PermThreatsQuarantine)
	req = httptest.NewRequest(http.MethodPost, pathMitigate+MitigateQuarantine, strings.NewReader(`{"filter":{"ids":["1"]}}`))
	req.Header.Set("Authorization", "ApiToken "+SimToken)
	w = httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), PermThreatsQuarantine) {
		t.Errorf("HTTP %d %s; want 403 naming %q", w.Code, w.Body, PermThreatsQuarantine)
	}
}
