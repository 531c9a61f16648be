package cybereason

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

const (
	wsGUID = "-1845214371.1198775089551518743"
	wsName = "WS-01"
)

// TestIsolateRelease: isolate, repeat (Already, no second call), release,
// repeat; each accepted call counted once under its key.
func TestIsolateRelease(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(wsGUID, wsName)
	r := newResponder(t, cfg)
	ctx := context.Background()
	target := connector.Target{HostID: wsGUID, HostName: wsName}
	for _, step := range []struct {
		name      string
		isolate   bool
		key       string
		already   bool
		contained bool
	}{
		{"isolate", true, "k-iso", false, true},
		{"isolate again", true, "k-iso-2", true, true},
		{"release", false, "k-rel", false, false},
		{"release again", false, "k-rel-2", true, false},
	} {
		act := r.Release
		if step.isolate {
			act = r.Isolate
		}
		res, err := act(ctx, target, step.key)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if res.Already != step.already || sim.Contained(wsGUID) != step.contained {
			t.Errorf("%s: Already=%v contained=%v, want %v %v (%s)", step.name, res.Already, sim.Contained(wsGUID), step.already, step.contained, res.Detail)
		}
	}
	calls := sim.Calls()
	if calls["k-iso"] != 1 || calls["k-rel"] != 1 || len(calls) != 2 {
		t.Errorf("calls = %v, want one isolate and one un-isolate", calls)
	}
}

// TestFindSensor: the target may name the machine by guid, by name, or by
// a name in HostID; a name shared by two sensors needs the guid.
func TestFindSensor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target connector.Target
		want   string // machine guid contained afterwards, "" for an error
		says   string
	}{
		{"guid and name", connector.Target{HostID: wsGUID, HostName: wsName}, wsGUID, ""},
		{"guid only", connector.Target{HostID: wsGUID}, wsGUID, ""},
		{"name only, any case", connector.Target{HostName: "ws-01"}, wsGUID, ""},
		{"name in HostID", connector.Target{HostID: wsName}, wsGUID, ""},
		{"shared name with guid", connector.Target{HostID: "twin-b", HostName: "TWIN"}, "twin-b", ""},
		{"shared name without guid", connector.Target{HostName: "TWIN"}, "", "2 sensors match"},
		{"unknown", connector.Target{HostID: "nope", HostName: "nope"}, "", "no sensor for machine"},
		{"empty", connector.Target{}, "", "no machine guid or name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(wsGUID, wsName)
			sim.AddDevice("twin-a", "TWIN")
			sim.AddDevice("twin-b", "TWIN")
			_, err := newResponder(t, cfg).Isolate(context.Background(), tc.target, "k")
			if tc.want == "" {
				conntest.CheckErr(t, err, false, 0, nil, tc.says)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range []string{wsGUID, "twin-a", "twin-b"} {
				if sim.Contained(g) != (g == tc.want) {
					t.Errorf("machine %s contained=%v", g, sim.Contained(g))
				}
			}
		})
	}
}

// TestIsolateFromMalop isolates the hosts of decoded MalOp alerts: the
// machine the MalOp reports isolated is Already, the other is isolated.
func TestIsolateFromMalop(t *testing.T) {
	sim, cfg := startSim(t)
	payload, err := os.ReadFile(filepath.Join("testdata", "malop_two_machines.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject(payload); err != nil {
		t.Fatal(err)
	}
	alerts, err := Decoder{}.Decode(payload)
	if err != nil || len(alerts) != 2 {
		t.Fatalf("%d alerts, %v", len(alerts), err)
	}
	r := newResponder(t, cfg)
	for i, want := range []bool{false, true} {
		a := alerts[i]
		res, err := r.Isolate(context.Background(), connector.Target{HostID: a.Host.ID, HostName: a.Host.Name}, "k-"+a.VendorID)
		if err != nil {
			t.Fatalf("%s: %v", a.Host.Name, err)
		}
		if res.Already != want || !sim.Contained(a.Host.ID) {
			t.Errorf("%s: Already=%v contained=%v", a.Host.Name, res.Already, sim.Contained(a.Host.ID))
		}
	}
	if n := len(sim.Calls()); n != 1 {
		t.Errorf("%d isolate calls, want 1", n)
	}
}

// TestResponderFaults: every failure class of the sensor lookup and the
// command, including the per-sensor "Failed" answer.
func TestResponderFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*Sim)
		retryable bool
		after     time.Duration
		is        error
		says      string
	}{
		{"sensor offline: Failed", func(s *Sim) { s.SetOnline(wsGUID, false) }, true, 0, nil, `answered "Failed"`},
		{"429", func(s *Sim) { s.FailNext(1, http.StatusTooManyRequests) }, true, 2 * time.Second, nil, "HTTP 429"},
		{"502", func(s *Sim) { s.FailNext(1, http.StatusBadGateway) }, true, 0, nil, "HTTP 502"},
		{"403 on the command", func(s *Sim) { s.Sessions().Deny(RoleIsolation) }, false, 0, ErrMissingPermission, "Responder"},
		{"403 on the sensors list", func(s *Sim) { s.Sessions().Deny(RoleSensors) }, false, 0, ErrMissingPermission, "Sensor Viewer"},
		{"session refused twice", func(s *Sim) { s.FailNext(2, http.StatusUnauthorized) }, false, 0, ErrUnauthorized, "just opened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(wsGUID, wsName)
			tc.setup(sim)
			_, err := newResponder(t, cfg).Isolate(context.Background(), connector.Target{HostID: wsGUID, HostName: wsName}, "k")
			conntest.CheckErr(t, err, tc.retryable, tc.after, tc.is, tc.says)
			if sim.Contained(wsGUID) {
				t.Error("contained after a failure")
			}
		})
	}
}

// TestIsolateAfterSessionExpiry: the responder logs in again once and the
// isolation goes through, counted once.
func TestIsolateAfterSessionExpiry(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(wsGUID, wsName)
	r := newResponder(t, cfg)
	target := connector.Target{HostID: wsGUID, HostName: wsName}
	if _, err := r.Release(context.Background(), target, "k0"); err != nil { // logs in; Already
		t.Fatal(err)
	}
	sim.Sessions().ExpireAll()
	if _, err := r.Isolate(context.Background(), target, "k1"); err != nil {
		t.Fatal(err)
	}
	if !sim.Contained(wsGUID) || sim.Calls()["k1"] != 1 || sim.Sessions().Issued() != 2 {
		t.Errorf("contained=%v calls=%v logins=%d", sim.Contained(wsGUID), sim.Calls(), sim.Sessions().Issued())
	}
}
