package carbonblack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

var target = connector.Target{HostID: testDevice, HostName: "FIN-WS-042"}

// TestIsolateReleaseIdempotent runs a sequence of actions and checks the
// state, the Already flag and the calls the console received after each.
func TestIsolateReleaseIdempotent(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testDevice, "FIN-WS-042")
	r := newResponder(t, cfg)
	ctx := context.Background()
	for i, step := range []struct {
		isolate   bool
		already   bool
		contained bool
		on, off   int
	}{
		{false, true, false, 0, 0}, // release a device that is not quarantined
		{true, false, true, 1, 0},
		{true, true, true, 1, 0}, // repeated with another key: no second call
		{false, false, false, 1, 1},
		{false, true, false, 1, 1},
		{true, false, true, 2, 1},
	} {
		act, verb := r.Release, "release"
		if step.isolate {
			act, verb = r.Isolate, "isolate"
		}
		res, err := act(ctx, target, "key-"+string(rune('a'+i)))
		if err != nil {
			t.Fatalf("step %d %s: %v", i, verb, err)
		}
		calls := sim.Calls()
		if res.Already != step.already || sim.Contained(testDevice) != step.contained ||
			calls["QUARANTINE_ON:"+testDevice] != step.on || calls["QUARANTINE_OFF:"+testDevice] != step.off {
			t.Errorf("step %d %s: %+v contained=%v calls=%v", i, verb, res, sim.Contained(testDevice), calls)
		}
		if res.Detail == "" || !strings.Contains(res.Detail, "FIN-WS-042") {
			t.Errorf("step %d: detail %q does not name the device", i, res.Detail)
		}
	}
}

func TestIsolateRefusesBadTargets(t *testing.T) {
	sim, cfg := startSim(t)
	r := newResponder(t, cfg)
	_, err := r.Isolate(context.Background(), connector.Target{HostID: "12345"}, "k")
	conntest.CheckErr(t, err, false, 0, ErrNotFound, "no device with id 12345")
	before := sim.Requests()
	for _, id := range []string{"", "FIN-WS-042", "-5", "12a"} {
		_, err := r.Isolate(context.Background(), connector.Target{HostID: id}, "k")
		conntest.CheckErr(t, err, false, 0, nil, "not a Carbon Black device_id")
	}
	if sim.Requests() != before {
		t.Error("a bad device id reached the API")
	}
}

// failAction wraps the simulator so that the next n device action calls
// answer status (the state read before them passes).
func failAction(sim *Sim, n int32, status int) http.Handler {
	var left atomic.Int32
	left.Store(n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/device_actions") && left.Add(-1) >= 0 {
			sim.fail(w, status, "FAILED", "injected on the action")
			return
		}
		sim.ServeHTTP(w, r)
	})
}

func TestIsolateFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim, *connector.Config)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{"429 on the state read", func(s *Sim, _ *connector.Config) { s.FailNext(1, 429) }, true, 2 * time.Second, nil, "devices/_search: HTTP 429"},
		{"502 on the state read", func(s *Sim, _ *connector.Config) { s.FailNext(1, 502) }, true, 0, nil, "HTTP 502"},
		{"no device.quarantine", func(s *Sim, _ *connector.Config) { s.DenyPermission(PermQuarantine) }, false, 0, ErrMissingPermission, `"device.quarantine: EXECUTE"`},
		{"no device read", func(s *Sim, _ *connector.Config) { s.DenyPermission(PermDevicesRead) }, false, 0, ErrMissingPermission, `"device: READ"`},
		{"wrong secret", func(_ *Sim, c *connector.Config) { c.ClientSecret = "x" }, false, 0, ErrUnauthorized, "API key"},
		{"time-out", func(s *Sim, c *connector.Config) {
			s.SetLatency(time.Minute)
			c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
		}, true, 0, nil, "time-out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testDevice, "FIN-WS-042")
			tc.setup(sim, &cfg)
			_, err := newResponder(t, cfg).Isolate(context.Background(), target, "k1")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
			if !strings.Contains(err.Error(), "isolate FIN-WS-042 ("+testDevice+")") {
				t.Errorf("error %q does not say what was being done", err)
			}
			if sim.Contained(testDevice) || len(sim.Calls()) != 0 {
				t.Errorf("failed isolate changed the console: contained=%v calls=%v", sim.Contained(testDevice), sim.Calls())
			}
		})
	}
}

// TestIsolateRetryAfterActionFailure: a 503 on the action call is
// retryable, and the retry sends exactly one accepted call.
func TestIsolateRetryAfterActionFailure(t *testing.T) {
	sim := NewSim()
	sim.AddDevice(testDevice, "FIN-WS-042")
	srv := httptest.NewServer(failAction(sim, 1, http.StatusServiceUnavailable))
	defer srv.Close()
	id, secret := sim.Credentials()
	r := newResponder(t, connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret})
	_, err := r.Isolate(context.Background(), target, "k1")
	conntest.CheckErr(t, err, true, 2*time.Second, nil, "device_actions: HTTP 503")
	res, err := r.Isolate(context.Background(), target, "k1")
	if err != nil || res.Already {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if _, err := r.Isolate(context.Background(), target, "k1"); err != nil {
		t.Fatal(err)
	}
	if c := sim.Calls(); c["QUARANTINE_ON:"+testDevice] != 1 || !sim.Contained(testDevice) {
		t.Errorf("calls %v contained %v, want one accepted call", c, sim.Contained(testDevice))
	}
}

func TestBlocklistHash(t *testing.T) {
	sim, cfg := startSim(t)
	r := newResponder(t, cfg)
	if got := r.Actions(); !slices.Equal(got, []string{connector.ActBlocklistHash}) {
		t.Errorf("Actions = %v", got)
	}
	ctx := context.Background()
	sha := "3B463C94B52414CFAAD61ECDAC64CA84EAEA1AB4BE69F75834AAA7701AB5E7D0"
	act := connector.Act{Kind: connector.ActBlocklistHash, SHA256: sha, Path: `c:\temp\powerdump.ps1`, Comment: "incident 7"}
	res, err := r.Do(ctx, connector.Target{}, act, "k-ban")
	if err != nil || res.Already || !sim.Banned(strings.ToLower(sha)) {
		t.Fatalf("ban: %+v, %v, banned=%v", res, err, sim.Banned(sha))
	}
	res, err = r.Do(ctx, connector.Target{}, act, "k-ban-2")
	if err != nil || !res.Already {
		t.Errorf("second ban: %+v, %v; want Already", res, err)
	}
	if c := sim.Calls(); c["BAN_SHA256:"+strings.ToLower(sha)] != 1 {
		t.Errorf("calls = %v, want one ban", c)
	}
	for _, tc := range []struct {
		act  connector.Act
		is   error
		says string
	}{
		{connector.Act{Kind: connector.ActBlocklistHash, SHA256: "abc"}, nil, "is not a SHA-256"},
		{connector.Act{Kind: connector.ActKillProcess, PID: "42"}, connector.ErrUnsupported, "kill_process"},
		{connector.Act{Kind: connector.ActRollback}, connector.ErrUnsupported, "rollback"},
	} {
		_, err := r.Do(ctx, target, tc.act, "k")
		conntest.CheckErr(t, err, false, 0, tc.is, tc.says)
	}
	sim.DenyPermission(PermReputationsAdd)
	other := connector.Act{Kind: connector.ActBlocklistHash, SHA256: strings.Repeat("ab", 32)}
	_, err = r.Do(ctx, connector.Target{}, other, "k")
	conntest.CheckErr(t, err, false, 0, ErrMissingPermission, `"org.reputations: CREATE"`)
	if errors.Is(err, ErrUnauthorized) || sim.Banned(other.SHA256) {
		t.Error("ban without permission went through")
	}
}
