package cybereason

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

// TestDo runs each remote action against a MalOp on one machine, and each
// way it can fail.
func TestDo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		act    connector.Act // ThreatID "" is filled with the MalOp guid
		setup  func(*Sim)
		is     error
		says   string // "" for success
		target string // element type remediated on success
	}{
		{"kill process", connector.Act{Kind: connector.ActKillProcess}, nil, nil, "", "Process"},
		{"quarantine file", connector.Act{Kind: connector.ActQuarantineFile}, nil, nil, "", "File"},
		{"kill by path", connector.Act{Kind: connector.ActKillProcess, Path: `C:\Users\x\evil.exe`}, nil, nil, "", "Process"},
		{"path names another", connector.Act{Kind: connector.ActKillProcess, Path: `C:\Windows\other.exe`}, nil, ErrNotFound, "no Process element named other.exe", ""},
		{"unsupported", connector.Act{Kind: connector.ActRollback}, nil, connector.ErrUnsupported, "rollback", ""},
		{"no MalOp", connector.Act{Kind: connector.ActKillProcess, ThreatID: " "}, nil, nil, "no MalOp guid", ""},
		{"unknown MalOp", connector.Act{Kind: connector.ActKillProcess, ThreatID: "11.999"}, nil, ErrNotFound, "no MalOp 11.999", ""},
		{"sensor offline", connector.Act{Kind: connector.ActKillProcess}, func(s *Sim) { s.SetOnline(wsGUID, false) }, nil, "not connected", ""},
		{"403 names the role", connector.Act{Kind: connector.ActQuarantineFile}, func(s *Sim) { s.Sessions().Deny(RoleRemediate) }, ErrMissingPermission, "L3 Analyst", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			if err := sim.Inject(NewMalop("evil.exe", "High", Machine{GUID: wsGUID, Name: wsName, OS: "WINDOWS"})); err != nil {
				t.Fatal(err)
			}
			malop := sim.MalopIDs()[0]
			if tc.setup != nil {
				tc.setup(sim)
			}
			act := tc.act
			if act.ThreatID == "" {
				act.ThreatID = malop + "/" + wsGUID // an alert's VendorID
			}
			r := newResponder(t, cfg)
			res, err := r.Do(context.Background(), connector.Target{HostID: wsGUID, HostName: wsName}, act, "k-act")
			if tc.says != "" {
				conntest.CheckErr(t, err, false, 0, tc.is, tc.says)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rem := sim.Remediations()
			if len(rem) != 1 || rem[0].Key != "k-act" || rem[0].HostID != PylumID(wsGUID, wsName) {
				t.Errorf("remediations %+v", rem)
			}
			if res.Already || res.Detail == "" {
				t.Errorf("result %+v", res)
			}
			if len(sim.Elements(malop, tc.target)) != 1 {
				t.Errorf("MalOp has elements %v", sim.Elements(malop, tc.target))
			}
		})
	}
}

// TestDoSendsTheElement checks the remediate body: the MalOp, the sensor's
// pylumId and the element guid of the right type.
func TestDoSendsTheElement(t *testing.T) {
	sim := NewSim()
	if err := sim.Inject(NewMalop("evil.exe", "High", Machine{GUID: wsGUID, Name: wsName, OS: "WINDOWS"})); err != nil {
		t.Fatal(err)
	}
	malop := sim.MalopIDs()[0]
	var bodies []remediateBody
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pathRemediate {
			b, _ := io.ReadAll(r.Body)
			var rb remediateBody
			if err := json.Unmarshal(b, &rb); err != nil {
				t.Errorf("remediate body: %v", err)
			}
			bodies = append(bodies, rb)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	user, pw := sim.Credentials()
	r := newResponder(t, connector.Config{URL: srv.URL, ClientID: user, ClientSecret: pw})
	if _, err := r.Do(context.Background(), connector.Target{HostID: wsGUID}, connector.Act{Kind: connector.ActQuarantineFile, ThreatID: malop}, "k"); err != nil {
		t.Fatal(err)
	}
	want := remediateBody{MalopID: malop, InitiatorUserName: user, ActionsByMachine: map[string][]remediateAction{
		PylumID(wsGUID, wsName): {{TargetID: sim.Elements(malop, "File")[0], ActionType: ActionQuarantineFile}},
	}}
	if len(bodies) != 1 {
		t.Fatalf("%d remediate calls, want 1", len(bodies))
	}
	if diff := cmp.Diff(want, bodies[0]); diff != "" {
		t.Errorf("remediate body (-want +got):\n%s", diff)
	}
}

func TestActorRegistered(t *testing.T) {
	_, cfg := startSim(t)
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	r, err := v.NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := r.(connector.Actor)
	if !ok || !slices.Equal(a.Actions(), []string{connector.ActKillProcess, connector.ActQuarantineFile}) {
		t.Errorf("responder is not an Actor with kill_process and quarantine_file")
	}
}
