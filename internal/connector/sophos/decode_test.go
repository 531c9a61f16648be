package sophos

import (
	"encoding/json"
	"errors"
	"flag"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the decoder's output")

func TestDecodeGolden(t *testing.T) {
	conntest.DecodeGolden(t, Decoder{}, *update)
}

// TestDecodeFields checks the mappings one at a time on small payloads.
func TestDecodeFields(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		check         func(a alert.Alert) string
	}{
		{"severity low", `{"id":"1","severity":"low"}`, func(a alert.Alert) string { return want(a.Score, 30) }},
		{"severity medium", `{"id":"1","severity":"medium"}`, func(a alert.Alert) string { return want(a.Score, 50) }},
		{"severity high", `{"id":"1","severity":"high"}`, func(a alert.Alert) string { return want(a.Score, 80) }},
		{"severity High kept as sent", `{"id":"1","severity":"High"}`, func(a alert.Alert) string {
			return want(a.VendorSeverity+" "+itoa(a.Score), "High 80")
		}},
		{"severity unknown is medium", `{"id":"1","severity":"critical"}`, func(a alert.Alert) string { return want(a.Score, 50) }},
		{"severity missing is medium", `{"id":"1","type":"Event::X"}`, func(a alert.Alert) string { return want(a.Score, 50) }},
		{"user n/a is none", `{"id":"1","severity":"low","source":"n/a"}`, func(a alert.Alert) string { return want(a.User, "") }},
		{"user domain kept", `{"id":"1","severity":"low","source":"CORP\\eve"}`, func(a alert.Alert) string { return want(a.User, `CORP\eve`) }},
		{"title from type and threat", `{"id":"1","type":"Event::Endpoint::Threat::Detected","threat":"Mal/X"}`,
			func(a alert.Alert) string { return want(a.Title, "Detected: Mal/X") }},
		{"title without type", `{"id":"1","severity":"low","threat":"Mal/X"}`, func(a alert.Alert) string { return want(a.Title, "Mal/X") }},
		{"blocked", `{"id":"1","type":"Event::Endpoint::WebControlBlocked"}`, func(a alert.Alert) string { return want(a.Action, alert.ActionBlocked) }},
		{"cleanup failed did nothing", `{"id":"1","type":"Event::Endpoint::Threat::PuaCleanupFailed"}`,
			func(a alert.Alert) string { return want(a.Action, alert.ActionNone) }},
		{"cleaned is quarantined", `{"id":"1","type":"Event::Endpoint::Threat::CleanedUp"}`,
			func(a alert.Alert) string { return want(a.Action, alert.ActionQuarantined) }},
		{"event time falls back to created_at", `{"id":"1","severity":"low","created_at":"2026-01-02T03:04:05.678Z"}`,
			func(a alert.Alert) string { return want(a.EventTime.Format("15:04:05.000"), "03:04:05.678") }},
		{"event time from data.created_at epoch ms", `{"id":"1","severity":"low","data":{"created_at":1669273672085}}`,
			func(a alert.Alert) string { return want(a.EventTime.UnixMilli(), int64(1669273672085)) }},
		{"port out of range dropped", `{"id":"1","severity":"low","data":{"ips_threat":{"remote_ip":"192.0.2.1","remote_port":"99999"}}}`,
			func(a alert.Alert) string { return want(a.Network[0].Port, 0) }},
		{"endpoint id is the host id", `{"id":"1","severity":"low","location":"h","data":{"endpoint_id":"e-1","endpoint_platform":"linux"}}`,
			func(a alert.Alert) string { return want(a.Host.ID+" "+a.Host.Name+" "+a.Host.OS, "e-1 h linux") }},
		{"ips hash lower-cased, name from path", `{"id":"1","severity":"low","data":{"ips_threat":{"executable_name":"Bad","executable_path":"C:\\x\\bad.exe","raw_data":"PID: 1\nSHA-256:   ABCDEF"}}}`,
			func(a alert.Alert) string { return want(a.Process.Name+" "+a.Process.SHA256, "bad.exe abcdef") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tc.payload))
			if err != nil || len(got) != 1 {
				t.Fatalf("Decode = %d alerts, %v", len(got), err)
			}
			if msg := tc.check(got[0]); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func want[T comparable](got, want T) string {
	if got != want {
		return "got " + jsonText(got) + ", want " + jsonText(want)
	}
	return ""
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func itoa(n int) string { return jsonText(n) }

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct{ name, payload string }{
		{"not JSON", `Nov 23 syslog line`},
		{"array", `[{"id":"1"}]`},
		{"no id", `{"severity":"high","type":"Event::X"}`},
		{"id only", `{"id":"1"}`},
		{"items not a list", `{"items":{"id":"1"}}`},
		{"item without id", `{"items":[{"severity":"low"}]}`},
		{"item not an object", `{"items":[1]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tc.payload))
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Errorf("Decode = %d alerts, %v; want ErrBadPayload", len(got), err)
			}
		})
	}
}

func TestNewAlertDecodes(t *testing.T) {
	got, err := Decoder{}.Decode(NewAlert(testHost, testEndpoint, AlertID("x-1"), AlertSeverity("low")))
	if err != nil || len(got) != 1 {
		t.Fatalf("Decode = %v", err)
	}
	a := got[0]
	if a.VendorID != "x-1" || a.Host.ID != testEndpoint || a.Host.Name != testHost || a.Score != 30 || a.SuspiciousHash() == "" {
		t.Errorf("NewAlert decodes to %+v", a)
	}
}

func FuzzDecode(f *testing.F) {
	for _, b := range conntest.Fixtures(f) {
		f.Add(b)
	}
	f.Add(NewAlert(testHost, testEndpoint))
	f.Add([]byte(`{"id":1e400,"severity":["high"],"when":1e30,"data":{"ips_threat":{"remote_port":-1,"raw_data":"SHA-256"}}}`))
	f.Add([]byte(`{"items":[{"id":"1","type":"::","source":"\\","data":{"hmpa_exploit":{"process_pid":{}}}}],"has_more":true}`))
	f.Add([]byte(`{"id":"a","type":"Event::Endpoint::Threat::PuaCleanupFailed","data":{"make_actionable_at":1674533519751,"source_info":{"ip":7}}}`))
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
			if a.Score < 1 || a.Score > 100 {
				t.Fatalf("score %d out of 1–100", a.Score)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert cannot be marshalled: %v", err)
			}
		}
	})
}
