package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
)

// noisePattern is a detection that fires across the estate all month: the
// 1,998 alerts of seed 001 that are not incidents.
type noisePattern struct {
	id       int
	title    string
	file     string
	severity int
	sha      string
	action   alert.Action
	tech     [4]string
}

var noise = []noisePattern{
	{50101, "Adware/PUP", "rfusclient.exe", 45, "faf0c5e4ef7dbcfd863377c55a4d1d87a3f6a58c13a8a9882e11012066f31976", alert.ActionBlocked, [4]string{"CSTA0004", "Malware", "CST0007", "Adware/PUP"}},
	{50102, "Suspicious script", "wscript.exe", 45, "", alert.ActionNone, [4]string{"TA0002", "Execution", "T1059.005", "Visual Basic"}},
	{50103, "Remote tool", "anydesk.exe", 50, "4a9f3c2b1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", alert.ActionNone, [4]string{"TA0011", "Command and Control", "T1219", "Remote Access Software"}},
	{50104, "Macro document", "winword.exe", 40, "", alert.ActionBlocked, [4]string{"TA0001", "Initial Access", "T1566.001", "Spearphishing Attachment"}},
	{50105, "Unsigned driver load", "drvinst.exe", 35, "", alert.ActionNone, [4]string{"TA0003", "Persistence", "T1543.003", "Windows Service"}},
	{50106, "Cryptominer", "xmrig.exe", 60, "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d", alert.ActionQuarantined, [4]string{"TA0040", "Impact", "T1496", "Resource Hijacking"}},
}

// Month writes a month of replay input for the demo tenant: about n alerts
// of estate-wide noise, allowlisted backups and re-deliveries, with two real
// incidents inside (ransomware on fs01 on the 12th, credential theft spreading
// from pc-201 on the 20th). The same seed gives the same lines.
func Month(w io.Writer, start time.Time, n int, seed uint64) (int, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var lines []envelope
	add := func(at time.Time, payload []byte) { lines = append(lines, envelope{at, payload}) }
	seq := 0
	id := func() string { seq++; return fmt.Sprintf("month:ind:%06d", seq) }
	for i := 0; i < n*85/100; i++ {
		p := noise[r.IntN(len(noise))]
		h := r.IntN(300)
		at := start.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		add(at, cs.NewAlert(fmt.Sprintf("pc-%03d", h), fmt.Sprintf("%032x", 0x1000+h), cs.AlertSeverity(p.severity),
			cs.AlertPattern(p.id, p.title), named(p.title), cs.AlertCompositeID(id()), cs.AlertCreated(at),
			cs.AlertProcess(p.file, `\Device\HarddiskVolume2\Users\Public\`+p.file, p.file, p.sha),
			cs.AlertTechnique(p.tech[0], p.tech[1], p.tech[2], p.tech[3]), cs.AlertDisposition(p.action)))
	}
	for i := 0; i < n*10/100; i++ {
		h := 1 + r.IntN(9)
		at := start.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		add(at, cs.NewAlert(fmt.Sprintf("srv-backup%02d", h), fmt.Sprintf("%032x", 0x2000+h), cs.AlertSeverity(70),
			cs.AlertRole("Server"), cs.AlertPattern(20202, "SuspiciousFileAccess"), named("Mass file access"),
			cs.AlertCompositeID(id()), cs.AlertCreated(at),
			cs.AlertProcess("AcmeBackup.exe", `\Device\HarddiskVolume1\Program Files\Acme\AcmeBackup.exe`, `"C:\Program Files\Acme\AcmeBackup.exe" --full`, strings.Repeat("ab", 32)),
			cs.AlertTechnique("TA0009", "Collection", "T1005", "Data from Local System")))
	}
	realIncidents(start, add, id)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	for i := 0; i < n*4/100; i++ { // forwarders re-deliver: the same alert again, a little later
		l := lines[r.IntN(len(lines))]
		lines = append(lines, envelope{l.at.Add(time.Duration(1+r.IntN(120)) * time.Second), l.payload})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	enc := json.NewEncoder(w)
	for _, l := range lines {
		if err := enc.Encode(map[string]any{"tenant": "hokuto", "source": "falcon", "received_at": l.at.UTC().Format(time.RFC3339Nano),
			"payload": json.RawMessage(l.payload)}); err != nil {
			return 0, err
		}
	}
	return len(lines), nil
}

type envelope struct {
	at      time.Time
	payload []byte
}

// realIncidents adds the month's two real attacks.
func realIncidents(start time.Time, add func(time.Time, []byte), id func() string) {
	t := start.Add(11*24*time.Hour + 2*time.Hour + 13*time.Minute) // the 12th, 02:13 UTC (11:13 JST)
	add(t, cs.NewAlert("fs01", "aid00000000000000000000000000f01", cs.AlertSeverity(80), cs.AlertRole("Server"),
		cs.AlertPattern(30303, "ShadowCopyDeletion"), named("Shadow copies deleted"), cs.AlertCompositeID(id()), cs.AlertCreated(t),
		cs.AlertProcess("vssadmin.exe", `\Device\HarddiskVolume1\Windows\System32\vssadmin.exe`, `vssadmin.exe delete shadows /all /quiet`, strings.Repeat("cd", 32)),
		cs.AlertTechnique("TA0040", "Impact", "T1490", "Inhibit System Recovery")))
	t = t.Add(90 * time.Second)
	add(t, cs.NewAlert("fs01", "aid00000000000000000000000000f01", cs.AlertSeverity(95), cs.AlertRole("Server"),
		cs.AlertPattern(30304, "RansomwareFileEncryption"), named("Ransomware encrypting files"), cs.AlertCompositeID(id()), cs.AlertCreated(t),
		cs.AlertProcess("locker.exe", `\Device\HarddiskVolume1\Users\Public\locker.exe`, `C:\Users\Public\locker.exe -e D:\share`, lockerSHA),
		cs.AlertTechnique("TA0040", "Impact", "T1486", "Data Encrypted for Impact")))
	t = start.Add(19*24*time.Hour + 14*time.Hour + 41*time.Minute) // the 20th, 23:41 JST
	for i, h := range []struct{ host, tech, name string }{
		{"pc-201", "T1003.001", "LSASS Memory"}, {"pc-202", "T1570", "Lateral Tool Transfer"}, {"pc-203", "T1021.002", "SMB/Windows Admin Shares"},
	} {
		at := t.Add(time.Duration(i) * 7 * time.Minute)
		add(at, cs.NewAlert(h.host, "aid00000000000000000000000000"+h.host[3:], cs.AlertSeverity(75-5*min(i, 1)),
			cs.AlertPattern(40404, "CredentialDumping"), named("Credential dumping tool"), cs.AlertCompositeID(id()), cs.AlertCreated(at),
			cs.AlertUser(`HOKUTO\k.tanaka`),
			cs.AlertProcess("mssecsvc.exe", `\Device\HarddiskVolume2\Users\Public\mssecsvc.exe`, `C:\Users\Public\mssecsvc.exe privilege::debug sekurlsa::logonpasswords`, mimikatzSHA),
			cs.AlertTechnique("TA0006", "Credential Access", h.tech, h.name)))
	}
}
