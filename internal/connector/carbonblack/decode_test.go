package carbonblack

import (
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the decoder's output")

func TestDecodeGolden(t *testing.T) {
	conntest.DecodeGolden(t, Decoder{}, *update)
}

// TestDecodeFields checks the mapping rules one at a time.
func TestDecodeFields(t *testing.T) {
	base := `"id":"x1","device_id":7,"device_name":"h","backend_timestamp":"2026-01-01T00:00:00.000Z"`
	for _, tc := range []struct {
		name, body string
		check      func(alert.Alert) bool
	}{
		{"severity 1 is 10", `"severity":1`, func(a alert.Alert) bool { return a.Score == 10 && a.VendorSeverity == "1" }},
		{"severity 10 is 100", `"severity":10`, func(a alert.Alert) bool { return a.Score == 100 }},
		{"severity as a string", `"severity":"6"`, func(a alert.Alert) bool { return a.Score == 60 }},
		{"device id is the containment id", `"severity":5`, func(a alert.Alert) bool { return a.Host.ID == "7" }},
		{"TERMINATE is killed", `"severity":5,"sensor_action":"TERMINATE"`, func(a alert.Alert) bool { return a.Action == alert.ActionKilled }},
		{"DENY is blocked", `"severity":5,"sensor_action":"DENY"`, func(a alert.Alert) bool { return a.Action == alert.ActionBlocked }},
		{"did not run under policy is blocked", `"severity":5,"run_state":"DID_NOT_RUN","policy_applied":"APPLIED"`, func(a alert.Alert) bool { return a.Action == alert.ActionBlocked }},
		{"ALLOW is none", `"severity":5,"sensor_action":"ALLOW","run_state":"RAN"`, func(a alert.Alert) bool { return a.Action == alert.ActionNone }},
		{"ttps give techniques", `"severity":5,"ttps":["MITRE_T1059_001_POWERSHELL","MITRE_T1059_CMD_LINE_OR_SCRIPT_INTER","FILELESS","MITRE_T1055"]`,
			func(a alert.Alert) bool {
				return cmp.Equal(a.Techniques, []string{"T1059.001", "T1059", "T1055"})
			}},
		{"scheme added to alert_url", `"severity":5,"alert_url":"defense.conferdeploy.net/alerts?x"`,
			func(a alert.Alert) bool { return a.Link == "https://defense.conferdeploy.net/alerts?x" }},
		{"event time falls back to backend_timestamp", `"severity":5`,
			func(a alert.Alert) bool { return a.EventTime.Equal(a.VendorCreated) && !a.EventTime.IsZero() }},
		{"name without a path has no path", `"severity":5,"process_name":"powershell.exe","process_pid":0`,
			func(a alert.Alert) bool {
				return a.Process.Name == "powershell.exe" && a.Process.Path == "" && a.Process.PID == ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte("{" + base + "," + tc.body + "}"))
			if err != nil || len(got) != 1 {
				t.Fatalf("Decode = %d alerts, %v", len(got), err)
			}
			if a := got[0]; !tc.check(a) {
				t.Errorf("decoded %+v", a)
			}
		})
	}
}

// TestDecodeRefuses checks that payloads bannin cannot judge or act on go
// to quarantine with a reason.
func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ name, payload, says string }{
		{"not JSON", `severity=5`, "not a JSON object"},
		{"array", `[{"id":"a"}]`, "not a JSON object"},
		{"no id", `{"severity":5,"device_id":1}`, "no alert id"},
		{"no severity", `{"id":"a","device_id":1}`, "no severity 1–10"},
		{"severity 0", `{"id":"a","severity":0,"device_id":1}`, "no severity 1–10"},
		{"severity 11", `{"id":"a","severity":11,"device_id":1}`, "no severity 1–10"},
		{"severity fraction", `{"id":"a","severity":5.5,"device_id":1}`, "no severity 1–10"},
		{"severity name", `{"id":"a","severity":"HIGH","device_id":1}`, "no severity 1–10"},
		{"no device", `{"id":"a","severity":5}`, "names no device"},
		{"device id not an integer", `{"id":"a","severity":5,"device_id":"abc"}`, "not an integer"},
		{"results not a list", `{"results":{"id":"a"}}`, "results is not an array"},
		{"bad item in results", `{"results":[{"id":"a","severity":5,"device_id":1},{"id":"b"}]}`, "results item 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tc.payload))
			if !errors.Is(err, connector.ErrBadPayload) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Decode = %d alerts, %v; want ErrBadPayload saying %q", len(got), err, tc.says)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, b := range conntest.Fixtures(f) {
		f.Add(b)
	}
	f.Add(NewAlert(42, "ws-42", 9))
	f.Add([]byte(`{"id":"a","severity":1e400,"device_id":1e30,"backend_timestamp":1e30}`))
	f.Add([]byte(`{"id":"a","severity":"10","device_id":"7","ttps":"MITRE_T1059_001","attack_tactic":["TA0002"],"process_pid":-1,"netconn_remote_port":"99999"}`))
	f.Add([]byte(`{"results":[{"id":"a","severity":5,"device_name":"h","process_cmdline":"\"powershell.exe\" & {Write-Host \\\"\"X\\\"\"}"}],"num_found":1}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := Decoder{}.Decode(payload)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error does not wrap ErrBadPayload: %v", err)
			}
			return
		}
		for _, a := range got {
			if a.Vendor != VendorName || a.VendorID == "" {
				t.Fatalf("alert without vendor or id: %+v", a)
			}
			if a.Score < 10 || a.Score > 100 || a.Score%10 != 0 {
				t.Fatalf("score %d is not severity×10", a.Score)
			}
			if a.Host.ID == "" && a.Host.Name == "" {
				t.Fatalf("alert without endpoint: %+v", a)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert cannot be marshalled: %v", err)
			}
		}
	})
}
