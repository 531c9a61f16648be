package trellixhx

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

// The fixtures in testdata are hand-written: no public HX alert payload
// exists (VENDORS.md §1.7).
func TestDecodeGolden(t *testing.T) {
	conntest.DecodeGolden(t, Decoder{}, *update)
}

// TestDecodeFields pins the fields triage and containment rely on, so that
// a golden file regenerated carelessly cannot hide a regression.
func TestDecodeFields(t *testing.T) {
	type summary struct {
		ID, HostID, HostName, Severity, Action string
		Score                                  int
		Proc, PID, MD5, SHA256, User, Net      string
	}
	tests := []struct {
		fixture string
		want    []summary
	}{
		{"hx_ioc_process", []summary{{"1042", testAgent, "", "IOC", "none", 70, "powershell.exe", "4242", "7353f60b1739074eb17c5f4dddefe239", "", `CORP\jdoe`, ""}}},
		{"hx_ioc_network", []summary{{"1043", testAgent, "", "IOC", "none", 70, "rundll32.exe", "6120", "", "", `CORP\jdoe`, "203.0.113.77:443"}}},
		{"hx_mal_quarantined", []summary{{"2001", "Qw7eR5tY3uI1oP9aSd2fGh", "FIN-LAPTOP-07", "MAL", "quarantined", 80, "invoice_0301.exe", "", "44d88612fea8a8f36de82e1278abb02f",
			"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "", ""}}},
		// Marked a false positive in HX: kept, but scored low.
		{"hx_exd_blocked", []summary{{"3005", "Zx1cV2bN3mA4sD5fG6hJ7k", "", "EXD", "blocked", 10, "AcroRd32.exe", "5020", "", "", `CORP\mlee`, ""}}},
		{"hx_list", []summary{
			{"1044", testAgent, "", "IOC", "none", 70, "svchost.exe", "988", "", "", "", "c2.example.net:0"},
			{"1045", "Qw7eR5tY3uI1oP9aSd2fGh", "", "MAL", "none", 80, "", "", "", "", "", ""},
		}},
		// Inbound: the destination is the device, the source the remote peer.
		{"edr_process_event", []summary{{"7f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "D4E1C2B0-1A2B-4C3D-8E9F-00AA11BB22CC", "", "high", "none", 70, "cmd.exe", "7312",
			"911D039E71583A07320B32BDE22F8E22", "B99D114B267FFD068C3289199B6DF95A9F9E00872EBA78E0C0C4A87F3B3AC98E", "svc_backup", "198.51.100.9:50211"}}},
	}
	all := conntest.Fixtures(t)
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			got, err := Decoder{}.Decode(all[tc.fixture])
			if err != nil {
				t.Fatal(err)
			}
			var sums []summary
			for _, a := range got {
				net := ""
				if len(a.Network) > 0 {
					n := a.Network[0]
					net = n.IP + n.Domain + ":" + itoa(n.Port)
				}
				sums = append(sums, summary{a.VendorID, a.Host.ID, a.Host.Name, a.VendorSeverity, string(a.Action), a.Score,
					a.Process.Name, a.Process.PID, a.Process.MD5, a.Process.SHA256, a.User, net})
			}
			if diff := cmp.Diff(tc.want, sums); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeBadPayload(t *testing.T) {
	tests := []struct {
		name, payload, says string
	}{
		{"not JSON", `not json`, "not a JSON object"},
		{"array", `[{"_id":1}]`, "not a JSON object"},
		{"unknown shape", `{"foo":1}`, "neither an HX alert"},
		{"HX alert without agent id", `{"_id":1,"source":"IOC","agent":{}}`, "names no agent"},
		{"HX alert of unknown source", `{"_id":1,"source":"XYZ","agent":{"_id":"a"}}`, "not IOC, EXD or MAL"},
		{"list entries not an array", `{"data":{"entries":{}}}`, "not an array"},
		{"list with a bad entry", `{"data":{"entries":[{"_id":1,"source":"IOC","agent":{"_id":"a"}},{"x":1}]}}`, "data.entries[1]"},
		{"EDR event without id", `{"_eventType":"File Deleted","_deviceId":"d"}`, "no _eventId"},
		{"EDR event without device", `{"_eventType":"File Deleted","_eventId":"e"}`, "names no device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tc.payload))
			if err == nil {
				t.Fatalf("decoded %d alerts, want an error", len(got))
			}
			if !errors.Is(err, connector.ErrBadPayload) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q: want ErrBadPayload saying %q", err, tc.says)
			}
		})
	}
}

func TestScore(t *testing.T) {
	hx := func(source, fp string) string {
		return `{"_id":1,"agent":{"_id":"a"},"source":"` + source + `","is_false_positive":` + fp + `}`
	}
	edr := func(extra string) string {
		return `{"_eventId":"e","_eventType":"File Modified","_deviceId":"d"` + extra + `}`
	}
	tests := []struct {
		payload  string
		score    int
		severity string
		action   alert.Action
	}{
		{hx("MAL", "false"), 80, "MAL", alert.ActionNone},
		{hx("exd", "false"), 80, "EXD", alert.ActionNone},
		{hx("IOC", "false"), 70, "IOC", alert.ActionNone},
		{hx("IOC", `"true"`), 10, "IOC", alert.ActionNone},
		{edr(""), 20, "", alert.ActionNone},
		{edr(`,"severity":"Critical"`), 90, "Critical", alert.ActionNone},
		{edr(`,"severity":"low"`), 30, "low", alert.ActionNone},
		{edr(`,"severity":55`), 55, "55", alert.ActionNone},
		{edr(`,"severity":"bogus"`), 20, "", alert.ActionNone},
		{edr(`,"threatSeverity":"medium"`), 50, "medium", alert.ActionNone},
	}
	for _, tc := range tests {
		got, err := Decoder{}.Decode([]byte(tc.payload))
		if err != nil {
			t.Errorf("%s: %v", tc.payload, err)
			continue
		}
		a := got[0]
		if a.Score != tc.score || a.VendorSeverity != tc.severity || a.Action != tc.action {
			t.Errorf("%s: score %d severity %q action %q; want %d %q %q", tc.payload, a.Score, a.VendorSeverity, a.Action, tc.score, tc.severity, tc.action)
		}
	}
}

func TestResolutionAction(t *testing.T) {
	for in, want := range map[string]alert.Action{
		"ALERT": alert.ActionNone, "BLOCK": alert.ActionBlocked, "PARTIAL_BLOCK": alert.ActionNone,
		"QUARANTINED": alert.ActionQuarantined, "DELETED": alert.ActionQuarantined, "": alert.ActionNone,
		"TERMINATED": alert.ActionKilled,
	} {
		if got := resolutionAction(in); got != want {
			t.Errorf("resolutionAction(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode checks that no input panics, that failures wrap
// ErrBadPayload, and that decoded alerts can be stored as JSON.
func FuzzDecode(f *testing.F) {
	for _, b := range conntest.Fixtures(f) {
		f.Add(b)
	}
	f.Add(NewAlert(testHost, testAgent))
	f.Add([]byte(`{"_id":1e400,"agent":{"_id":[]},"source":"MAL","event_values":{"detections":{"detection":{"infected-object":{"file-object":{"file-path":"\\"}}}}}}`))
	f.Add([]byte(`{"data":{"entries":[{"_id":"1","source":"IOC","agent":{"_id":"x"},"event_values":{"a/b/remotePort":"99999"}}]}}`))
	f.Add([]byte(`{"_ver":2107,"_eventType":"File Deleted","_deviceId":"D","_eventId":"E","_time":"2023-04-05T07:05:21.186Z","pid": "2280","destPort":443,"direction":"outbound","severity":1e300}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := Decoder{}.Decode(payload)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error does not wrap ErrBadPayload: %v", err)
			}
			return
		}
		for _, a := range got {
			if a.Vendor != VendorName || a.VendorID == "" || a.Host.ID == "" {
				t.Fatalf("alert without vendor, id or host id: %+v", a)
			}
			if a.Score < 1 || a.Score > 100 {
				t.Fatalf("score %d out of 1–100", a.Score)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert cannot be marshalled: %v", err)
			}
		}
	})
}

// TestEventValuesPreferOwnType: when keys of two event types share a field
// name, the alert's own event type wins, whatever the map order.
func TestEventValuesPreferOwnType(t *testing.T) {
	payload := []byte(`{"_id":9,"agent":{"_id":"a"},"source":"IOC","event_type":"processEvent","event_values":{
		"fileWriteEvent/md5":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","processEvent/md5":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		"alpha/pid":"1","processEvent/pid":"2","zulu/pid":"3"}}`)
	for range 20 {
		got, err := Decoder{}.Decode(payload)
		if err != nil {
			t.Fatal(err)
		}
		if p := got[0].Process; p.MD5 != "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" || p.PID != "2" {
			t.Fatalf("process %+v: want processEvent's md5 and pid", p)
		}
	}
}
