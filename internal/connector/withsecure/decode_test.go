package withsecure

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDecodeDeepGuardEvent(t *testing.T) {
	raw := readTestdata(t, "deepguard-block.json")
	got, err := Decoder{}.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d alerts, want 1", len(got))
	}
	want := alert.Alert{
		Vendor:         VendorName,
		VendorID:       "5f0e8a43-1111-3c4d-9e2f-aabbccddeeff_7",
		Rule:           "deepGuard:deep_guard.admin.block",
		Title:          "Trojan:W32/Dropper.Gen",
		Product:        "deepGuard",
		EventTime:      time.Date(2026, 3, 1, 9, 59, 58, 0, time.UTC),
		VendorCreated:  time.Date(2026, 3, 1, 10, 0, 1, 250e6, time.UTC),
		Host:           alert.Host{ID: testDevice, Name: testHost, IPs: []string{"10.1.2.3"}},
		User:           `CORP\jdoe`,
		VendorSeverity: "critical",
		Score:          90,
		Action:         alert.ActionBlocked,
		Process: alert.Process{
			Name:        "dropper.exe",
			Path:        `C:\Users\jdoe\AppData\Local\Temp\dropper.exe`,
			CommandLine: `C:\Users\jdoe\AppData\Local\Temp\dropper.exe -k "a b"`,
			PID:         "4412",
			SHA1:        "e17865289c80d63673b09124b5a50f2915599478",
		},
		Parent: alert.Process{
			Name: "powershell.exe",
			Path: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
			SHA1: "dc3e119de3c46c5913cbdc504827797bd633c610",
		},
	}
	if d := cmp.Diff(want, got[0], cmpopts.IgnoreFields(alert.Alert{}, "Raw")); d != "" {
		t.Errorf("alert (-want +got):\n%s", d)
	}
	if string(got[0].Raw) != string(raw) {
		t.Error("Raw is not the payload")
	}
}

func TestDecodeSeverityAndAction(t *testing.T) {
	for _, tc := range []struct {
		severity, action, detailAction string
		score                          int
		want                           alert.Action
	}{
		{"info", "reported", "", 10, alert.ActionNone},
		{"warning", "blocked", "", 40, alert.ActionBlocked},
		{"error", "quarantined", "", 60, alert.ActionQuarantined},
		{"fatal_error", "disinfected", "", 80, alert.ActionQuarantined},
		{"critical", "none", "deny", 90, alert.ActionBlocked},
		{"CRITICAL", "allow", "", 90, alert.ActionNone},
		{"info", "none", "allow", 10, alert.ActionNone},
	} {
		t.Run(tc.severity+"/"+tc.action, func(t *testing.T) {
			p := `{"id":"e1","severity":"` + tc.severity + `","action":"` + tc.action +
				`","engine":"integrityChecker","device":{"id":"dev1"},"details":{"action":"` + tc.detailAction + `"}}`
			got, err := Decoder{}.Decode([]byte(p))
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Score != tc.score || got[0].Action != tc.want || got[0].VendorSeverity != tc.severity {
				t.Errorf("score %d action %q severity %q, want %d %q %q", got[0].Score, got[0].Action, got[0].VendorSeverity, tc.score, tc.want, tc.severity)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ name, payload, reason string }{
		{"not an object", `[1,2]`, "not a JSON object"},
		{"no id", `{"severity":"info","device":{"id":"d"}}`, "no id"},
		{"unknown severity", `{"id":"e","severity":"high","device":{"id":"d"}}`, "severity"},
		{"no severity", `{"id":"e","device":{"id":"d"}}`, "severity"},
		{"no device", `{"id":"e","severity":"info","details":{}}`, "names no device"},
		{"items not array", `{"items":{"id":"x"}}`, "items is not an array"},
		{"bad item", `{"items":[{"id":"e","severity":"info","device":{"id":"d"}},{"id":"f"}]}`, "items[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decoder{}.Decode([]byte(tc.payload))
			if !errors.Is(err, connector.ErrBadPayload) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %v, want ErrBadPayload mentioning %q", err, tc.reason)
			}
		})
	}
}

func TestDecodeListAnswer(t *testing.T) {
	p := `{"items":[{"id":"a","severity":"info","device":{"id":"d1","name":"H1"}},
	{"id":"b","severity":"warning","target":{"id":"d2","name":"H2"}}],"nextAnchor":null}`
	got, err := Decoder{}.Decode([]byte(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].VendorID != "a" || got[1].Host.ID != "d2" || got[1].Host.Name != "H2" {
		t.Errorf("got %+v", got)
	}
	if !strings.HasPrefix(string(got[1].Raw), `{"id":"b"`) {
		t.Errorf("item Raw = %s, want the item's own bytes", got[1].Raw)
	}
}

func TestDecodeEngineSpecificProcess(t *testing.T) {
	for _, tc := range []struct {
		name, engine, details string
		want                  alert.Process
	}{
		{"app control target", "applicationControl",
			`"targetPath":"c:\\apps\\x.exe","targetSha1":"e13fce15c513387daadfc1138aa63d4778bd17c6","targetCommandLine":"x.exe /a","parentPath":"c:\\windows\\explorer.exe"`,
			alert.Process{Name: "x.exe", Path: `c:\apps\x.exe`, SHA1: "e13fce15c513387daadfc1138aa63d4778bd17c6", CommandLine: "x.exe /a"}},
		{"tamper initiator with placeholder hash", "tamperProtection",
			`"path":"C:\\fs\\fshoster32.exe","initiator":"C:\\tools\\kill.exe","initiatorHash":"sha1","command":"net stop fshoster"`,
			alert.Process{Name: "kill.exe", Path: `C:\tools\kill.exe`, CommandLine: "net stop fshoster"}},
		{"integrity checker: path is the file", "integrityChecker",
			`"path":"/root/modified.txt","processId":"80263"`,
			alert.Process{PID: "80263"}},
		{"xfence sha256", "xFence",
			`"processPath":"/Users/t/x","processHash":"1ee4abe7466df9e1ebdda00785490b89263be8c9a68f202fe2bba2aada973aa2"`,
			alert.Process{Name: "x", Path: "/Users/t/x", SHA256: "1ee4abe7466df9e1ebdda00785490b89263be8c9a68f202fe2bba2aada973aa2"}},
		{"bare process name", "connectionControl", `"process":"plink.exe","ip":"52.85.47.88","port":"22"`,
			alert.Process{Name: "plink.exe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := `{"id":"e","severity":"info","engine":"` + tc.engine + `","device":{"id":"d"},"details":{` + tc.details + `}}`
			got, err := Decoder{}.Decode([]byte(p))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got[0].Process); d != "" {
				t.Errorf("process (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeNetwork(t *testing.T) {
	for _, tc := range []struct {
		details string
		want    []alert.Network
	}{
		{`"ip":"52.85.47.88","port":"22"`, []alert.Network{{IP: "52.85.47.88", Port: 22}}},
		{`"remoteAddress":"15.170.0.0","remotePort":"321"`, []alert.Network{{IP: "15.170.0.0", Port: 321}}},
		{`"url":"hxxps://Malicious.example.com/x"`, []alert.Network{{Domain: "malicious.example.com"}}},
		{`"url":"www.banking.com"`, []alert.Network{{Domain: "www.banking.com"}}},
		{`"websiteUrl":"hxxp://www.gtn/test.exe"`, []alert.Network{{Domain: "www.gtn"}}},
		{`"url":"%zz"`, nil},
	} {
		p := `{"id":"e","severity":"info","device":{"id":"d"},"details":{` + tc.details + `}}`
		got, err := Decoder{}.Decode([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, got[0].Network); d != "" {
			t.Errorf("%s: network (-want +got):\n%s", tc.details, d)
		}
	}
}

// FuzzDecode checks that no payload makes the decoder panic, and that
// every alert it returns names a device and has a known score.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"id":"e","severity":"info","device":{"id":"d"}}`,
		`{"items":[{"id":"a","severity":"critical","device":{"id":"d","name":"h"},"details":{"sha1":"x","url":"hxxp://a"}}]}`,
		`{"id":"e","severity":"warning","engine":"xFence","device":{"id":"d"},"details":{"processHash":"1ee4","port":"99999999999999999999"}}`,
		`{"id":1,"severity":["x"],"device":"d","details":[]}`,
		`{"id":"e","severity":"error","target":{"id":"t"},"details":{"clientTimestamp":"-1","hostIpAddress":"/24,,::1/64"}}`,
		`{}`, `[]`, `null`, `{"items":null}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add(NewEvent(testDevice, testHost))
	if b, err := os.ReadFile(filepath.Join("testdata", "deepguard-block.json")); err == nil {
		f.Add(b)
	}
	// A few corpus events, when the corpus is there.
	for _, name := range []string{"amsi-infection-block.json", "xfence-blocked.json", "firewall-fs_rule_triggered-block.json"} {
		if b, err := os.ReadFile(filepath.Join(corpusDir(), name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decoder{}.Decode(b)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error not ErrBadPayload: %v", err)
			}
			return
		}
		for _, a := range got {
			if a.VendorID == "" || (a.Host.ID == "" && a.Host.Name == "") || a.Score < 10 || a.Score > 90 {
				t.Fatalf("alert without id, device or score: %+v", a)
			}
		}
	})
}
