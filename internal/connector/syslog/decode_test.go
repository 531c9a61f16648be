package syslog

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/messages.golden.json from the decoder's output")

// testNow is the clock of the golden decode: RFC 3164 stamps take its year.
var testNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

// testLines returns the hand-written messages of testdata/messages.log.
func testLines(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil || len(lines) == 0 {
		t.Fatalf("read testdata/messages.log: %d lines, %v", len(lines), err)
	}
	return lines
}

// goldenCase is one message and what it decodes to, as the golden file holds it.
type goldenCase struct {
	Message string        `json:"message"`
	Alerts  []alert.Alert `json:"alerts"`
}

func TestDecodeGolden(t *testing.T) {
	d := Decoder{Now: func() time.Time { return testNow }}
	var got []goldenCase
	for i, line := range testLines(t) {
		alerts, err := d.Decode([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if len(alerts) != 1 {
			t.Fatalf("line %d: %d alerts, want 1", i+1, len(alerts))
		}
		var env Envelope
		if err := json.Unmarshal(alerts[0].Raw, &env); err != nil || env.Message != line {
			t.Errorf("line %d: Raw is not an envelope of the line (%v)", i+1, err)
		}
		got = append(got, goldenCase{Message: line, Alerts: alerts})
	}
	text, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	text = append(text, '\n')
	golden := filepath.Join("testdata", "messages.golden.json")
	conntest.Golden(t, golden, text, *update)
}

func TestDecodeBadPayload(t *testing.T) {
	tests := []struct{ name, payload, reason string }{
		{"empty", "", "empty payload"},
		{"white space", " \n\t ", "empty payload"},
		{"NUL bytes", "<13>abc\x00def", "NUL bytes"},
		{"binary", "\x01\x02\x03\x04\xff\xfe\x05\x06abc", "payload is binary"},
		{"broken envelope", `{"message":`, "envelope is not a JSON object"},
		{"envelope without message", `{"received":"2026-03-10T12:00:00Z","peer":"10.0.0.1:514"}`, "envelope has no message"},
		{"envelope of an over-long message", `{"received":"2026-03-10T12:00:00Z","peer":"10.0.0.1:514","transport":"tcp","error":"message over 65536 bytes","size":70000,"head":"<13>Mar"}`,
			"message over 65536 bytes (from 10.0.0.1:514 over tcp"},
		{"envelope with binary message", `{"message":"\u0001\u0002\u0003\u0004"}`, "payload is binary"},
		{"envelope message of wrong type", `{"message":12}`, "envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tt.payload))
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("Decode = %v, %v; want an error wrapping ErrBadPayload", got, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

// TestDecodeKeepsUnknown: a syslog message of no known format, or one that
// claims CEF/LEEF and breaks it, is an alert of score 0, never an error.
func TestDecodeKeepsUnknown(t *testing.T) {
	tests := []struct {
		name, line       string
		host, sev, title string
		desc             string
	}{
		{"3164 text", "<11>Mar 10 12:00:00 web01 nginx: upstream timed out", "web01", "error", "upstream timed out", ""},
		{"no header at all", "something happened on the box", "", "", "something happened on the box", ""},
		{"broken CEF", "<12>Mar 10 12:00:00 sensor CEF:0|V|P|1", "sensor", "warning", "CEF:0|V|P|1", "CEF: CEF header has 3 of 7 fields"},
		{"broken LEEF", "<12>Mar 10 12:00:00 sensor LEEF:2.0|V|P|1|e|xZZ|a=1", "sensor", "warning", "LEEF:2.0|V|P|1|e|xZZ|a=1", `LEEF: LEEF delimiter "xZZ" is not a character code`},
		{"long title cut at 120", "<14>Mar 10 12:00:00 h app: " + strings.Repeat("é", 200), "h", "informational", strings.Repeat("é", 120), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{Now: func() time.Time { return testNow }}.Decode([]byte(tt.line))
			if err != nil || len(got) != 1 {
				t.Fatalf("Decode = %v, %v; want one alert", got, err)
			}
			a := got[0]
			if a.Rule != "syslog:unparsed" || a.Score != 0 || a.Host.Name != tt.host || a.VendorSeverity != tt.sev ||
				a.Title != tt.title || a.Description != tt.desc || a.Vendor != VendorName || a.VendorID == "" || len(a.Raw) == 0 {
				t.Errorf("alert %+v\nwant rule syslog:unparsed, score 0, host %q, severity %q, title %q, description %q", a, tt.host, tt.sev, tt.title, tt.desc)
			}
		})
	}
}

func TestDecodeEnvelope(t *testing.T) {
	received := time.Date(2027, 1, 1, 0, 0, 30, 0, time.UTC)
	env := Envelope{Received: received, Peer: "192.0.2.1:5514", Transport: "tls",
		Message: "<134>Dec 31 23:59:59 dsm01 CEF:0|Trend Micro|Deep Security Agent|20|4000000|Eicar|6|dvchost=pc1 act=Quarantine"}
	payload, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decoder{}.Decode(payload)
	if err != nil || len(got) != 1 {
		t.Fatalf("Decode = %v, %v", got, err)
	}
	a := got[0]
	if !a.Received.Equal(received) || !a.EventTime.Equal(time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("received %v, event time %v: want the envelope's time and the stamp in the year before", a.Received, a.EventTime)
	}
	if string(a.Raw) != string(payload) || a.Host.Name != "pc1" || a.Action != alert.ActionQuarantined || a.Score != 60 {
		t.Errorf("alert %+v", a)
	}
	// The same message again (a sender's retransmission) has the same id.
	again, _ := Decoder{}.Decode(payload)
	if again[0].VendorID != a.VendorID {
		t.Errorf("vendor id %q then %q for the same message", a.VendorID, again[0].VendorID)
	}
}

// TestDecodeFileOfLines: a raw payload of several lines (bannin normalize
// on a log file) gives one alert per non-empty line.
func TestDecodeFileOfLines(t *testing.T) {
	lines := testLines(t)
	body := strings.Join(lines, "\r\n") + "\n\n"
	got, err := Decoder{Now: func() time.Time { return testNow }}.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(lines) {
		t.Fatalf("%d alerts from %d lines", len(got), len(lines))
	}
}

func TestDecodeScoreAndHost(t *testing.T) {
	tests := []struct {
		name, line string
		score      int
		host       string
		ips        []string
	}{
		{"CEF 0", "CEF:0|V|P|1|s|n|0|src=10.0.0.1", 0, "10.0.0.1", []string{"10.0.0.1"}},
		{"CEF 10", "CEF:0|V|P|1|s|n|10|shost=pc1 src=10.0.0.1", 100, "pc1", []string{"10.0.0.1"}},
		{"CEF over 10 clamps", "CEF:0|V|P|1|s|n|42|src=10.0.0.1", 100, "10.0.0.1", []string{"10.0.0.1"}},
		{"CEF Low", "CEF:0|V|P|1|s|n|Low|dhost=srv1", 30, "srv1", nil},
		{"CEF Medium", "CEF:0|V|P|1|s|n|Medium|dvchost=agent1", 50, "agent1", nil},
		{"CEF Very-High", "CEF:0|V|P|1|s|n|Very-High|", 90, "", nil},
		{"CEF unknown word", "CEF:0|V|P|1|s|n|Severe|", 0, "", nil},
		{"LEEF 1", "LEEF:1.0|V|P|1|e|sev=1\tsrc=10.0.0.2", 10, "10.0.0.2", []string{"10.0.0.2"}},
		{"LEEF 10", "LEEF:1.0|V|P|1|e|sev=10\tidentHostName=ws7\tsrc=10.0.0.2", 100, "ws7", []string{"10.0.0.2"}},
		{"firewall: the internal side when the source is outside", "CEF:0|Fortinet|Fortigate|7|1|utm:ips|7|src=203.0.113.5 dst=10.9.9.9 dpt=443", 70, "10.9.9.9", []string{"10.9.9.9"}},
		{"firewall: the source when both are inside", "CEF:0|Palo Alto Networks|PAN-OS|10|spyware|THREAT|5|src=10.1.1.1 dst=10.2.2.2", 90, "10.1.1.1", []string{"10.1.1.1"}},
		{"WAF: the protected server", "CEF:0|Imperva Inc.|SecureSphere|14|x|x|High|src=10.1.1.1 dst=10.2.2.2 dhost=app1", 70, "app1", []string{"10.2.2.2"}},
		{"endpoint: the agent's host", "<13>Mar 10 12:00:00 agent7 CEF:0|Trend Micro|Deep Security Agent|20|1|x|3|", 30, "agent7", nil},
		{"FortiGate level", `<13>date=2026-03-10 time=12:00:00 devname=f logid=1 type=event subtype=system level=critical srcip=10.0.0.3`, 80, "10.0.0.3", []string{"10.0.0.3"}},
		{"FortiGate IPS severity", `<13>date=2026-03-10 time=12:00:00 devname=f logid=1 type=utm subtype=ips level=alert severity=low srcip=10.0.0.3`, 30, "10.0.0.3", []string{"10.0.0.3"}},
		{"IPv6 mapped", "CEF:0|V|P|1|s|n|5|src=::ffff:10.0.0.4", 50, "10.0.0.4", []string{"10.0.0.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{Now: func() time.Time { return testNow }}.Decode([]byte(tt.line))
			if err != nil || len(got) != 1 {
				t.Fatalf("Decode = %v, %v", got, err)
			}
			a := got[0]
			if a.Score != tt.score || a.Host.Name != tt.host || !cmp.Equal(a.Host.IPs, tt.ips) {
				t.Errorf("score %d, host %q %v; want %d, %q %v", a.Score, a.Host.Name, a.Host.IPs, tt.score, tt.host, tt.ips)
			}
		})
	}
}
