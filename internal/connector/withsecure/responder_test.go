package withsecure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

func newResponder(t *testing.T, opts ...SimOption) (*Sim, *Responder) {
	t.Helper()
	sim, cfg := startSim(t, opts...)
	sim.AddDevice(testDevice, testHost)
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sim, r
}

var target = connector.Target{HostID: testDevice, HostName: testHost}

func TestIsolateAndReleaseAreIdempotent(t *testing.T) {
	sim, r := newResponder(t)
	ctx := context.Background()
	for _, step := range []struct {
		name      string
		do        func() (connector.Result, error)
		already   bool
		contained bool
	}{
		{"isolate", func() (connector.Result, error) { return r.Isolate(ctx, target, "inc-1/isolate") }, false, true},
		{"isolate again, same key", func() (connector.Result, error) { return r.Isolate(ctx, target, "inc-1/isolate") }, true, true},
		{"isolate again, other key", func() (connector.Result, error) { return r.Isolate(ctx, target, "inc-2/isolate") }, true, true},
		{"release", func() (connector.Result, error) { return r.Release(ctx, target, "inc-1/release") }, false, false},
		{"release again", func() (connector.Result, error) { return r.Release(ctx, target, "inc-1/release") }, true, false},
	} {
		res, err := step.do()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if res.Already != step.already || sim.Contained(testDevice) != step.contained {
			t.Errorf("%s: already=%v contained=%v, want %v %v (%s)", step.name, res.Already, sim.Contained(testDevice), step.already, step.contained, res.Detail)
		}
	}
	calls := sim.Calls()
	if calls["inc-1/isolate"] != 1 || calls["inc-2/isolate"] != 0 || calls[OpRelease+":"+testDevice] != 1 || len(calls) != 2 {
		t.Errorf("calls = %v, want one isolation under its key and one release", calls)
	}
	var msg string
	sim.mu.Lock()
	if len(sim.ops) > 0 {
		msg = sim.ops[0].Message
	}
	sim.mu.Unlock()
	if !strings.Contains(msg, KeyMarker+"inc-1/isolate") {
		t.Errorf("isolation message %q does not carry the key", msg)
	}
}

// TestMultistatusEntryDecides: the answer is 207 whatever happened; the
// device's entry says whether the operation was taken.
func TestMultistatusEntryDecides(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		wantErr   error
		retryable bool
		mention   string
	}{
		{name: "404 unknown device", status: 404, wantErr: ErrNotFound, mention: "Device not found"},
		{name: "409 conflicting operation", status: 409, mention: "status 409: operation already pending"},
		{name: "400 unsupported on this device", status: 400, mention: "status 400"},
		{name: "503 in the entry", status: 503, retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, r := newResponder(t)
			details := map[int]string{404: "Device not found", 409: "operation already pending"}[tc.status]
			sim.FailOperation(testDevice, tc.status, details)
			_, err := r.Isolate(context.Background(), target, "k1")
			var re *connector.RetryableError
			switch {
			case err == nil:
				t.Fatal("a failed entry was taken as success")
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			case errors.As(err, &re) != tc.retryable:
				t.Errorf("err = %v, retryable want %v", err, tc.retryable)
			case !strings.Contains(err.Error(), tc.mention):
				t.Errorf("err = %v, want it to mention %q", err, tc.mention)
			}
			if sim.Contained(testDevice) || sim.Calls()["k1"] != 0 {
				t.Errorf("contained=%v calls=%v after a refused entry", sim.Contained(testDevice), sim.Calls())
			}
			sim.FailOperation(testDevice, 0, "")
			if _, err := r.Isolate(context.Background(), target, "k1"); err != nil || !sim.Contained(testDevice) {
				t.Errorf("retry after the failure cleared: %v contained=%v", err, sim.Contained(testDevice))
			}
		})
	}
}

func TestResponderFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim)
		wantErr   error
		retryable bool
		after     time.Duration
		mention   string
	}{
		{name: "unknown device", setup: func(s *Sim) {}, wantErr: ErrNotFound, mention: "no device"},
		{name: "403 names the write scope", setup: func(s *Sim) { s.DenyScope(ScopeWrite) }, wantErr: ErrMissingScope, mention: `"connect.api.write" scope`},
		{name: "403 on the device read names the read scope", setup: func(s *Sim) { s.DenyScope(ScopeRead) }, wantErr: ErrMissingScope, mention: `"connect.api.read" scope`},
		{name: "429", setup: func(s *Sim) { s.FailNext(1, 429) }, retryable: true, after: 4 * time.Second},
		{name: "502", setup: func(s *Sim) { s.FailNext(1, 502) }, retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, r := newResponder(t, WithRetryAfter(4*time.Second))
			tgt := target
			if tc.name == "unknown device" {
				tgt = connector.Target{HostID: "00000000-0000-0000-0000-000000000000"}
			}
			tc.setup(sim)
			_, err := r.Isolate(context.Background(), tgt, "k")
			var re *connector.RetryableError
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			case errors.As(err, &re) != tc.retryable:
				t.Fatalf("err = %v, retryable want %v", err, tc.retryable)
			case tc.retryable && re.After != tc.after:
				t.Errorf("After = %v, want %v", re.After, tc.after)
			case tc.mention != "" && !strings.Contains(err.Error(), tc.mention):
				t.Errorf("err = %v, want it to mention %q", err, tc.mention)
			}
			if sim.Contained(tgt.HostID) || len(sim.Calls()) != 0 {
				t.Errorf("an operation went through: calls %v", sim.Calls())
			}
		})
	}
}

func TestResponderRefreshesExpiredToken(t *testing.T) {
	sim, r := newResponder(t)
	if _, err := r.Isolate(context.Background(), target, "k1"); err != nil {
		t.Fatal(err)
	}
	sim.ExpireTokens()
	res, err := r.Release(context.Background(), target, "k2")
	if err != nil || res.Already || sim.Contained(testDevice) {
		t.Fatalf("release after expiry: %+v, %v", res, err)
	}
	if sim.TokensIssued() != 2 {
		t.Errorf("%d tokens, want 2", sim.TokensIssued())
	}
}

func TestResponderNeedsDeviceID(t *testing.T) {
	sim, r := newResponder(t)
	_, err := r.Isolate(context.Background(), connector.Target{HostName: testHost}, "k")
	if err == nil || !strings.Contains(err.Error(), "no device id") || sim.Requests() != 0 {
		t.Errorf("err = %v, requests %d", err, sim.Requests())
	}
}

func TestResponderAsksForBothScopes(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testDevice, testHost)
	src, _ := NewSource(cfg)
	if _, err := src.Pull(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	// A source's token carries the read scope only: it cannot isolate.
	tok, err := src.api.bearer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp := rawCall(t, cfg.URL, http.MethodPost, pathOperations, tok,
		`{"operation":"isolateFromNetwork","targets":["`+testDevice+`"]}`)
	if resp != http.StatusForbidden {
		t.Errorf("read-only token: operation answered %d, want 403", resp)
	}
}
