package ocsf

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ransomware() alert.Alert {
	at := time.Date(2026, 10, 12, 1, 2, 3, 0, time.UTC)
	return alert.Alert{
		Tenant: "acme", Source: "falcon", Vendor: "crowdstrike", VendorID: "ldt:abc:123",
		Rule: "Ransomware/EncryptFiles", Title: "Files encrypted by a ransomware", Product: "epp",
		EventTime: at, VendorCreated: at.Add(time.Second), Received: at.Add(2 * time.Second),
		Host: alert.Host{ID: "aid-fs01", Name: "FS01", IPs: []string{"10.0.0.5"}, OS: "Windows Server 2022", Role: "server"},
		User: `ACME\backup`,
		Process: alert.Process{Name: "enc.exe", Path: `C:\Users\Public\enc.exe`, CommandLine: `enc.exe /all`, PID: "4242",
			SHA256: "AB" + string(bytes.Repeat([]byte("c"), 62)), MD5: "0123456789abcdef0123456789abcdef"},
		Parent:         alert.Process{Name: "cmd.exe", CommandLine: "cmd /c enc.exe"},
		Network:        []alert.Network{{IP: "203.0.113.9", Port: 443, Domain: "c2.example"}},
		Tactics:        []string{"TA0040"},
		Techniques:     []string{"T1486", "T1490"},
		VendorSeverity: "90", Score: 90, Confidence: 95, Action: alert.ActionNone,
		Link: "https://falcon.example/x",
	}
}

func TestFromAlertFields(t *testing.T) {
	a := ransomware()
	f := FromAlert(&a)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"class_uid", f.ClassUID, 2004},
		{"type_uid", f.TypeUID, 200401},
		{"severity_id", f.SeverityID, 5},
		{"time", f.Time, a.EventTime.UnixMilli()},
		{"device.hostname", f.Device.Hostname, "FS01"},
		{"device.uid", f.Device.UID, "aid-fs01"},
		{"device.os.type_id", f.Device.OS.TypeID, 100},
		{"finding_info.uid", f.FindingInfo.UID, "ldt:abc:123"},
		{"finding_info.title", f.FindingInfo.Title, a.Title},
		{"finding_info.attacks[0].technique.uid", f.FindingInfo.Attacks[0].Technique.UID, "T1486"},
		{"finding_info.attacks[0].tactic.uid", f.FindingInfo.Attacks[0].Tactic.UID, "TA0040"},
		{"evidences[0].process.cmd_line", f.Evidences[0].Process.CmdLine, "enc.exe /all"},
		{"evidences[0].file.hashes[0].algorithm_id", f.Evidences[0].File.Hashes[0].AlgorithmID, 3},
		{"evidences[0].file.hashes[0].value (lower case)", f.Evidences[0].File.Hashes[0].Value, "ab" + string(bytes.Repeat([]byte("c"), 62))},
		{"actor.user.name", f.Actor.User.Name, `ACME\backup`},
		{"actor.process.pid", *f.Actor.Process.PID, int64(4242)},
		{"disposition", f.Disposition, "Allowed"},
		{"evidences[1].dst_endpoint.ip", f.Evidences[1].DstEP.IP, "203.0.113.9"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSeverityID(t *testing.T) {
	for _, c := range []struct{ score, want int }{{0, 1}, {19, 1}, {20, 2}, {30, 2}, {49, 2}, {50, 3}, {69, 3}, {70, 4}, {80, 4}, {89, 4}, {90, 5}, {100, 5}} {
		if got, _ := SeverityID(c.score); got != c.want {
			t.Errorf("SeverityID(%d) = %d, want %d", c.score, got, c.want)
		}
	}
}

// TestEmptyAlert: an alert with nothing but ids still gives a valid
// finding, without empty device, actor or evidence objects.
func TestEmptyAlert(t *testing.T) {
	f := FromAlert(&alert.Alert{Vendor: "syslog", VendorID: "x", Rule: "syslog:unparsed"})
	if f.Device != nil || f.Actor != nil || f.Evidences != nil || f.Time != 0 || f.FindingInfo.Title != "syslog:unparsed" {
		t.Errorf("empty alert gave %+v", f)
	}
}

func TestGolden(t *testing.T) {
	a := ransomware()
	got, err := json.MarshalIndent(FromAlert(&a), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "ransomware.ocsf.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("OCSF output differs from %s:\n%s", path, got)
	}
}
