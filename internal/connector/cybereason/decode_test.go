package cybereason

import (
	"encoding/json"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the decoder's output")

func TestDecodeGolden(t *testing.T) {
	for name, payload := range conntest.Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Decoder{}.Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			text, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			text = append(text, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			conntest.Golden(t, golden, text, *update)
			for _, a := range got {
				if !json.Valid(a.Raw) {
					t.Errorf("alert %s: Raw is not JSON", a.VendorID)
				}
			}
		})
	}
}

// TestOneAlertPerMachine checks what the per-machine split keeps apart
// (ids, hosts, users) and what it shares (rule, process, pattern).
func TestOneAlertPerMachine(t *testing.T) {
	got, err := Decoder{}.Decode(conntest.Fixtures(t)["malop_two_machines"])
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ ID, Host, Name, OS, User string }
	var rows []row
	for _, a := range got {
		rows = append(rows, row{a.VendorID, a.Host.ID, a.Host.Name, a.Host.OS, a.User})
	}
	want := []row{
		{"11.3651150229438589171/-1845214371.1198775089551518743", "-1845214371.1198775089551518743", "FIN-WS-042", "windows", `FIN-WS-042\jdoe`},
		// The user list names no user of this machine: left empty, not guessed.
		{"11.3651150229438589171/-576472001.1198775089551518743", "-576472001.1198775089551518743", "fin-srv-07.corp.example", "macos", ""},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if got[0].Pattern() != got[1].Pattern() || got[0].Fingerprint() == got[1].Fingerprint() {
		t.Error("alerts of one MalOp must share the pattern and differ in fingerprint (host)")
	}
	if got[0].Rule != "CREDENTIAL_THEFT,MALICIOUS_POWERSHELL" || got[0].Process.SHA256 == "" {
		t.Errorf("rule %q, process %+v", got[0].Rule, got[0].Process)
	}
}

func TestDecodeBadPayload(t *testing.T) {
	for _, tc := range []struct{ name, payload, says string }{
		{"not json", `nope`, "not a JSON object"},
		{"array", `[{"guid":"x"}]`, "not a JSON object"},
		{"no guid", `{"displayName":"x","severity":"High"}`, "no guid"},
		{"malops not list", `{"malops":{"guid":"x"}}`, "not an array"},
		{"malops item not object", `{"malops":[1]}`, "not an object"},
		{"malops item without guid", `{"malops":[{"guid":"a"},{"severity":"Low"}]}`, "item 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decoder{}.Decode([]byte(tc.payload))
			if !errors.Is(err, connector.ErrBadPayload) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err = %v, want ErrBadPayload saying %q", err, tc.says)
			}
		})
	}
}

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		payload string
		sev     string
		score   int
	}{
		{`{"guid":"g","severity":"High"}`, "High", 80},
		{`{"guid":"g","severity":"Medium","priority":"LOW"}`, "Medium", 50},
		{`{"guid":"g","malopSeverity":"low"}`, "low", 30},
		{`{"guid":"g","severity":"Weird","priority":"HIGH"}`, "HIGH", 80},
		{`{"guid":"g","malopPriority":"LOW"}`, "LOW", 30},
		{`{"guid":"g","severity":"Weird"}`, "Weird", ScoreUnrated},
		{`{"guid":"g"}`, "", ScoreUnrated},
		{`{"guid":"g","severity":7}`, "7", ScoreUnrated},
	} {
		got, err := Decoder{}.Decode([]byte(tc.payload))
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d alerts, %v", tc.payload, len(got), err)
		}
		if got[0].VendorSeverity != tc.sev || got[0].Score != tc.score {
			t.Errorf("%s: severity %q score %d, want %q %d", tc.payload, got[0].VendorSeverity, got[0].Score, tc.sev, tc.score)
		}
	}
}

func TestTimes(t *testing.T) {
	got, err := Decoder{}.Decode([]byte(`{"guid":"g","creationTime":1694821955604,"lastUpdateTime":"1709579576110"}`))
	if err != nil {
		t.Fatal(err)
	}
	a := got[0]
	if a.VendorCreated.UnixMilli() != 1694821955604 || a.EventTime.UnixMilli() != 1709579576110 {
		t.Errorf("created %v event %v", a.VendorCreated, a.EventTime)
	}
	got, _ = Decoder{}.Decode([]byte(`{"guid":"g","creationTime":1694821955604}`))
	if !got[0].EventTime.Equal(got[0].VendorCreated) {
		t.Errorf("without lastUpdateTime the event time is the creation time, got %v", got[0].EventTime)
	}
}

// FuzzDecode checks that no input panics, that failures wrap
// ErrBadPayload, and that decoded alerts can be stored as JSON.
func FuzzDecode(f *testing.F) {
	for _, b := range conntest.Fixtures(f) {
		f.Add(b)
	}
	f.Add(NewMalop("evil.exe", "High", Machine{GUID: "m1", Name: "WS-01", OS: "WINDOWS"}))
	f.Add([]byte(`{"guid":"g","machines":[{"guid":"m","displayName":"h"},{"guid":"m"},null,7],"users":[{"displayName":"h\\u"}],"lastUpdateTime":1e400}`))
	f.Add([]byte(`{"malops":[{"guid":"a","rootCauseElementHashes":["aa",null,{}]}],"x": "y"}`))
	f.Add([]byte(`{"guid":{"a":1},"severity":["High"],"machines":"m","creationTime":-1}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := Decoder{}.Decode(payload)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error does not wrap ErrBadPayload: %v", err)
			}
			return
		}
		ids := map[string]bool{}
		for _, a := range got {
			if a.Vendor != VendorName || a.VendorID == "" {
				t.Fatalf("alert without vendor or id: %+v", a)
			}
			if ids[a.VendorID] && !strings.Contains(string(payload), `"malops"`) {
				t.Fatalf("VendorID %q twice from one MalOp", a.VendorID)
			}
			ids[a.VendorID] = true
			if a.Score < 1 || a.Score > 100 {
				t.Fatalf("score %d out of 1–100", a.Score)
			}
			if a.Action != alert.ActionNone {
				t.Fatalf("action %q", a.Action)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert cannot be marshalled: %v", err)
			}
		}
	})
}
