package defender

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var host = connector.Target{HostID: testMachine, HostName: testHost}

// TestResponderIsolateRelease walks one machine through isolate, isolate
// again, release and release again, checking the API calls made.
func TestResponderIsolateRelease(t *testing.T) {
	sim, cfg := startSim(t)
	if err := sim.Inject(NewAlert(testHost, testMachine)); err != nil {
		t.Fatal(err)
	}
	r := newResponder(t, cfg)
	steps := []struct {
		name      string
		do        func(context.Context, connector.Target, string) (connector.Result, error)
		key       string
		already   bool
		contained bool
		calls     map[string]int
	}{
		{"release before any isolation", r.Release, "inc-0/release", true, false, nil},
		{"isolate", r.Isolate, "inc-1/isolate", false, true, map[string]int{"inc-1/isolate": 1}},
		{"isolate again", r.Isolate, "inc-1/isolate", true, true, map[string]int{"inc-1/isolate": 1}},
		{"release", r.Release, "inc-1/release", false, false, map[string]int{"inc-1/isolate": 1, "inc-1/release": 1}},
		{"release again", r.Release, "inc-1/release", true, false, map[string]int{"inc-1/isolate": 1, "inc-1/release": 1}},
		{"isolate anew", r.Isolate, "inc-2/isolate", false, true, map[string]int{"inc-1/isolate": 1, "inc-1/release": 1, "inc-2/isolate": 1}},
	}
	for _, st := range steps {
		res, err := st.do(context.Background(), host, st.key)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Already != st.already || res.Detail == "" {
			t.Errorf("%s: result %+v, want Already %v and a detail", st.name, res, st.already)
		}
		if got := sim.Contained(testMachine); got != st.contained {
			t.Errorf("%s: contained = %v, want %v", st.name, got, st.contained)
		}
		if diff := cmp.Diff(st.calls, sim.Calls(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: calls per key (-want +got):\n%s", st.name, diff)
		}
	}
	want := []simkit.Entry{
		{HostID: testMachine, Action: "isolate", Key: "inc-1/isolate", Status: 201},
		{HostID: testMachine, Action: "unisolate", Key: "inc-1/release", Status: 201},
		{HostID: testMachine, Action: "isolate", Key: "inc-2/isolate", Status: 201},
	}
	if diff := cmp.Diff(want, sim.Ledger(), cmpopts.IgnoreFields(simkit.Entry{}, "At")); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
	acts := sim.MachineActions()
	if len(acts) == 0 || acts[0].RequestorComment != "bannin: isolate "+KeyMarker+"inc-1/isolate" {
		t.Errorf("first action's comment = %+v, want the key in it", acts)
	}
}

// TestResponderIsolationType sends Selective when asked, Full by default.
func TestResponderIsolationType(t *testing.T) {
	for _, typ := range []string{"", IsolationSelective} {
		t.Run("type "+typ, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testMachine, testHost)
			var body string
			cfg.URL = startProxy(t, sim, func(r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/isolate") {
					b := make([]byte, 512)
					n, _ := r.Body.Read(b)
					body = string(b[:n])
					r.Body = readCloser(b[:n])
				}
			})
			var opts []ResponderOption
			want := IsolationFull
			if typ != "" {
				opts, want = append(opts, WithIsolationType(typ)), typ
			}
			if _, err := newResponder(t, cfg, opts...).Isolate(context.Background(), host, "k1"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, `"IsolationType":"`+want+`"`) || !strings.Contains(body, `"Comment":"bannin: isolate bannin-key=k1"`) {
				t.Errorf("isolate body = %s", body)
			}
		})
	}
	if _, err := NewResponder(connector.Config{URL: "https://x", ClientID: "t/c", ClientSecret: "s"}, WithIsolationType("Partial")); err == nil {
		t.Error("NewResponder accepted isolation type Partial")
	}
}

// TestResponderPending: an isolation still Pending counts as done, and a
// racing second caller's 400 ActiveRequestAlreadyExists is Already too.
func TestResponderPending(t *testing.T) {
	sim, cfg := startSim(t, WithPendingActions())
	sim.AddDevice(testMachine, testHost)
	r := newResponder(t, cfg)
	if res, err := r.Isolate(context.Background(), host, "k"); err != nil || res.Already {
		t.Fatalf("Isolate = %+v, %v", res, err)
	}
	if sim.Contained(testMachine) {
		t.Error("contained while the action is pending")
	}
	res, err := r.Isolate(context.Background(), host, "k")
	if err != nil || !res.Already || !strings.Contains(res.Detail, StatusPending) {
		t.Errorf("second Isolate = %+v, %v; want Already (pending)", res, err)
	}
	// The state check passed (no action seen) but the API refuses the
	// duplicate: simulate the race by posting directly.
	if _, err := r.post(context.Background(), pathMachines+testMachine+"/isolate", map[string]string{"Comment": "x"}); !hasCode(err, codeActiveRequest) {
		t.Errorf("duplicate pending isolate: %v, want %s", err, codeActiveRequest)
	}
	sim.CompleteActions()
	if !sim.Contained(testMachine) {
		t.Error("not contained after the action completed")
	}
	if n := sim.Calls()["k"]; n != 1 {
		t.Errorf("%d isolate calls with key k, want 1", n)
	}
}

// TestResponderFailedAction: an action the device cannot carry out comes
// back Failed; the responder says so and a retry sends it again.
func TestResponderFailedAction(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testMachine, testHost)
	sim.FailActions(1)
	r := newResponder(t, cfg)
	_, err := r.Isolate(context.Background(), host, "k")
	if err == nil || !strings.Contains(err.Error(), "is Failed") || conntest.IsRetryable(err) {
		t.Fatalf("Isolate = %v, want a non-retryable Failed", err)
	}
	if res, err := r.Isolate(context.Background(), host, "k"); err != nil || res.Already {
		t.Fatalf("retry = %+v, %v; want a new call", res, err)
	}
	if !sim.Contained(testMachine) {
		t.Error("not contained after the retry")
	}
}

func TestResponderErrors(t *testing.T) {
	tests := []struct {
		name      string
		target    connector.Target
		opts      []SimOption
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{name: "429", setup: failNext(1, 429), retryable: true, after: 2 * time.Second, says: "HTTP 429"},
		{name: "500", setup: failNext(1, 500), retryable: true, says: "HTTP 500"},
		{name: "401 twice", setup: failNext(2, 401), is: ErrUnauthorized, says: "HTTP 401"},
		{name: "wrong secret", setup: func(_ *Sim, c *connector.Config) { c.ClientSecret = "expired" }, is: ErrUnauthorized, says: "client secret"},
		{name: "unknown machine", target: connector.Target{HostID: "ffff"}, is: ErrNotFound, says: "ffff"},
		{name: "no machine id", target: connector.Target{HostName: testHost}, says: "no machine id"},
		{name: "no isolate permission", setup: func(s *Sim, _ *connector.Config) { s.DenyPermission(PermMachineIsolate) }, is: ErrMissingPermission, says: `"Machine.Isolate"`},
		{name: "no read permission", setup: func(s *Sim, _ *connector.Config) { s.DenyPermission(PermMachineRead) }, is: ErrMissingPermission, says: `"Machine.Read.All"`},
		{name: "time-out", opts: []SimOption{WithLatency(time.Minute)}, setup: func(_ *Sim, c *connector.Config) {
			c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
		}, retryable: true, says: "time-out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := startSim(t, tt.opts...)
			sim.AddDevice(testMachine, testHost)
			if tt.setup != nil {
				tt.setup(sim, &cfg)
			}
			target := tt.target
			if target == (connector.Target{}) {
				target = host
			}
			_, err := newResponder(t, cfg).Isolate(context.Background(), target, "k")
			conntest.CheckErr(t, err, tt.retryable, tt.after, tt.is, tt.says)
			if sim.Contained(testMachine) {
				t.Error("machine isolated although the call failed")
			}
		})
	}
}

// TestResponderRetriesOnce checks that retrying a failed isolation with the
// same key ends with exactly one isolate call, and that a token expiring
// between calls is refreshed.
func TestResponderRetriesOnce(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testMachine, testHost)
	r := newResponder(t, cfg)
	for _, status := range []int{429, 500, 503} {
		sim.FailNext(1, status)
		if _, err := r.Isolate(context.Background(), host, "inc-7/isolate"); !conntest.IsRetryable(err) {
			t.Fatalf("HTTP %d: %v, want a RetryableError", status, err)
		}
	}
	sim.ExpireTokens()
	for range 2 {
		if _, err := r.Isolate(context.Background(), host, "inc-7/isolate"); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]int{"inc-7/isolate": 1}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestActorQuarantineFile(t *testing.T) {
	const sha1 = "6cbce4a295c163791b60fc23d285e6d84f28ee4c"
	const sha256 = "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c"
	sim, cfg := startSim(t)
	if err := sim.Inject(NewAlert(testHost, testMachine)); err != nil { // names the file
		t.Fatal(err)
	}
	r := newResponder(t, cfg)
	act := connector.Act{Kind: connector.ActQuarantineFile, SHA256: sha256}
	res, err := r.Do(context.Background(), host, act, "inc-3/quarantine")
	if err != nil || res.Already {
		t.Fatalf("Do = %+v, %v", res, err)
	}
	res, err = r.Do(context.Background(), host, act, "inc-3/quarantine")
	if err != nil || !res.Already {
		t.Errorf("again = %+v, %v; want Already", res, err)
	}
	acts := sim.MachineActions()
	if len(acts) != 1 || acts[0].Type != ActionStopQuarantine || acts[0].RelatedFileInfo == nil || acts[0].RelatedFileInfo.FileIdentifier != sha1 {
		t.Errorf("actions = %+v, want one StopAndQuarantineFile for %s", acts, sha1)
	}
	if n := sim.Calls()["inc-3/quarantine"]; n != 1 {
		t.Errorf("%d calls with the key, want 1", n)
	}
	for _, tt := range []struct {
		name string
		act  connector.Act
		is   error
		says string
	}{
		{"unknown file", connector.Act{Kind: connector.ActQuarantineFile, SHA256: strings.Repeat("ab", 32)}, ErrNotFound, "HTTP 404"},
		{"no hash", connector.Act{Kind: connector.ActQuarantineFile}, nil, "SHA-256"},
		{"unsupported", connector.Act{Kind: connector.ActRollback}, connector.ErrUnsupported, "rollback"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Do(context.Background(), host, tt.act, "k")
			conntest.CheckErr(t, err, false, 0, tt.is, tt.says)
		})
	}
	sim.DenyPermission(PermStopQuarantine)
	_, err = r.Do(context.Background(), host, connector.Act{Kind: connector.ActQuarantineFile, SHA256: strings.Repeat("1", 40)}, "k2")
	conntest.CheckErr(t, err, false, 0, ErrMissingPermission, `"Machine.StopAndQuarantine"`)
}

func TestActorBlocklistHash(t *testing.T) {
	const sha256 = "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c"
	sim, cfg := startSim(t)
	r := newResponder(t, cfg)
	if diff := cmp.Diff([]string{connector.ActQuarantineFile, connector.ActBlocklistHash}, r.Actions()); diff != "" {
		t.Errorf("Actions (-want +got):\n%s", diff)
	}
	act := connector.Act{Kind: connector.ActBlocklistHash, SHA256: strings.ToUpper(sha256), Comment: "inc-4"}
	if res, err := r.Do(context.Background(), connector.Target{}, act, "inc-4/block"); err != nil || res.Already {
		t.Fatalf("Do = %+v, %v", res, err)
	}
	if res, err := r.Do(context.Background(), connector.Target{}, act, "inc-4/block"); err != nil || !res.Already {
		t.Errorf("again = %+v, %v; want Already", res, err)
	}
	ins := sim.Indicators()
	if len(ins) != 1 || ins[0].IndicatorValue != sha256 || ins[0].IndicatorType != "FileSha256" || ins[0].Action != "BlockAndRemediate" ||
		!strings.Contains(ins[0].Description, KeyMarker+"inc-4/block") {
		t.Errorf("indicators = %+v", ins)
	}
	sim.DenyPermission(PermIndicatorsWrite)
	_, err := r.Do(context.Background(), connector.Target{}, connector.Act{Kind: connector.ActBlocklistHash, SHA256: strings.Repeat("c", 64)}, "k")
	conntest.CheckErr(t, err, false, 0, ErrMissingPermission, `"Ti.ReadWrite.All"`)
	if _, err := r.Do(context.Background(), connector.Target{}, connector.Act{Kind: connector.ActBlocklistHash, SHA256: "zz"}, "k"); err == nil || errors.Is(err, ErrMissingPermission) {
		t.Errorf("bad hash: %v, want refused before any call", err)
	}
}
