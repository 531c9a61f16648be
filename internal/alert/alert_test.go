package alert

import "testing"

func TestFingerprint(t *testing.T) {
	base := Alert{Vendor: "crowdstrike", Rule: "40404", Host: Host{Name: "PC-201.hokuto.local"},
		Process: Process{Name: "a.exe", SHA256: "61c0810a23580cf492a6ba4f7654566108331e7a4134c968c2d6a05261b2d8a1", CommandLine: "a.exe  -x"}}
	same := base
	same.Host.Name = "pc-201"
	same.Process.CommandLine = "A.EXE -x"
	same.VendorID = "another id"
	if base.Fingerprint() != same.Fingerprint() {
		t.Error("host spelling, command-line case/spacing and vendor id must not change the fingerprint")
	}
	other := base
	other.Host.Name = "pc-202"
	if base.Fingerprint() == other.Fingerprint() {
		t.Error("another host must change the fingerprint")
	}
	if base.Pattern() != other.Pattern() {
		t.Error("the pattern ignores the host")
	}
	zero := base
	zero.Process.SHA256 = "0000000000000000000000000000000000000000000000000000000000000000"
	if zero.SuspiciousHash() != "" || base.SuspiciousHash() == "" {
		t.Error("an all-zero hash is no hash")
	}
}

func TestHostKey(t *testing.T) {
	for _, c := range []struct {
		in   Host
		want string
	}{
		{Host{Name: "FS01.corp.example"}, "fs01"},
		{Host{Name: "10.1.2.3"}, "10.1.2.3"},
		{Host{ID: "ABCDEF"}, "abcdef"},
		{Host{Name: "  "}, ""},
	} {
		if got := HostKey(c.in); got != c.want {
			t.Errorf("HostKey(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestScaleLevel(t *testing.T) {
	five := DefaultScale
	for score, want := range map[int]string{100: "emergency", 90: "emergency", 89: "critical", 75: "critical", 74: "high",
		60: "high", 59: "medium", 35: "medium", 34: "low", 0: "low"} {
		if got := five.Level(score); got != want {
			t.Errorf("Level(%d) = %s, want %s", score, got, want)
		}
	}
	four := Scale{"深刻", "高", "中", "低"}
	if four.Level(85) != "深刻" || four.Level(84) != "高" || four.Level(10) != "低" {
		t.Error("4-level scale cut wrongly")
	}
	if !five.AtLeast("critical", "high") || five.AtLeast("medium", "high") {
		t.Error("AtLeast ordering wrong")
	}
	if five.Floor("critical") != 75 || five.Level(five.Floor("high")) != "high" {
		t.Error("Floor must fall into its level")
	}
	if (Scale{"a", "b", "c"}).Validate() == nil || (Scale{"a", "a", "b", "c"}).Validate() == nil || five.Validate() != nil {
		t.Error("Validate: want 4–6 distinct names")
	}
}

func TestPriority(t *testing.T) {
	if P2.Higher(P0) != P0 || P0.Higher(P3) != P0 || Priority("").Higher(P1) != P1 {
		t.Error("Higher picks the more urgent")
	}
	if _, err := ParsePriority("p5"); err == nil {
		t.Error("P5 accepted")
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Windows\System32\cmd.exe`: "cmd.exe", "/usr/bin/curl": "curl", "cmd.exe": "cmd.exe", `C:\dir\`: "", "": "",
	} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}
