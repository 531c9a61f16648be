package sentinelone

import (
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the decoder's output")

func TestDecodeGolden(t *testing.T) {
	conntest.DecodeGolden(t, Decoder{}, *update)
}

func TestDecodeBadPayload(t *testing.T) {
	host := `"agentRealtimeInfo":{"agentId":"1755913284427112207"}`
	tests := []struct {
		name, payload, reason string
	}{
		{"empty", ``, "not a JSON object: it does not begin with {"},
		{"array", `[{"id":"1"}]`, "not a JSON object"},
		{"truncated", `{"threatInfo":{`, "not a JSON object"},
		{"trailing data", `{"threatInfo":{}} {}`, "not a JSON object"},
		{"unknown object", `{"hello":"world"}`, "neither a threat (threatInfo) nor a STAR alert"},
		{"threatInfo not an object", `{"id":"1","threatInfo":"x"}`, "threatInfo is not an object"},
		{"threat without id", `{"threatInfo":{"confidenceLevel":"malicious"},` + host + `}`, "threat has no id or threatInfo.threatId"},
		{"threat without confidence", `{"id":"2087361155048800311","threatInfo":{"classification":"Trojan"},` + host + `}`, "threat 2087361155048800311 has no threatInfo.confidenceLevel"},
		{"threat with unknown confidence", `{"id":"1","threatInfo":{"confidenceLevel":"n/a"},` + host + `}`, "has no threatInfo.confidenceLevel"},
		{"threat without endpoint", `{"id":"1","threatInfo":{"confidenceLevel":"malicious"}}`, "threat 1 names no endpoint"},
		{"alert without id", `{"alertInfo":{"createdAt":"2026-03-02T04:05:06Z"},"ruleInfo":{"severity":"High"}}`, "alert has no alertInfo.alertId"},
		{"alert without severity", `{"alertInfo":{"alertId":"9"},"ruleInfo":{"name":"r"},"agentRealtimeInfo":{"id":"1"}}`, "alert 9 has no ruleInfo.severity"},
		{"alert with unknown severity", `{"alertInfo":{"alertId":"9"},"ruleInfo":{"severity":"Severe"},"agentRealtimeInfo":{"id":"1"}}`, "has no ruleInfo.severity"},
		{"alert without endpoint", `{"alertInfo":{"alertId":"9"},"ruleInfo":{"severity":"High"}}`, "alert 9 names no endpoint"},
		{"data not an array", `{"data":{}}`, "data is not an array"},
		{"nested list", `{"data":[{"data":[]}]}`, "neither a threat (threatInfo) nor a STAR alert (alertInfo, ruleInfo) (data item 0)"},
		{"bad item", `{"data":[{"alertInfo":{"alertId":"9"},"ruleInfo":{"severity":"High"}}]}`, "alert 9 names no endpoint (agentRealtimeInfo.id or name, or agentDetectionInfo.name) (data item 0)"},
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

func TestScore(t *testing.T) {
	threat := func(conf, mit string) string {
		return `{"id":"1","agentRealtimeInfo":{"agentId":"7"},"mitigationStatus":` + mit +
			`,"threatInfo":{"confidenceLevel":"` + conf + `"}}`
	}
	alertOf := func(sev string) string {
		return `{"alertInfo":{"alertId":"2"},"agentRealtimeInfo":{"id":"7"},"ruleInfo":{"severity":"` + sev + `"}}`
	}
	tests := []struct {
		name, payload string
		vendor        string
		score         int
		action        alert.Action
	}{
		{"malicious", threat("malicious", `[]`), "malicious", 80, alert.ActionNone},
		{"suspicious", threat("suspicious", `[]`), "suspicious", 50, alert.ActionNone},
		{"MALICIOUS any case", threat("MALICIOUS", `[]`), "MALICIOUS", 80, alert.ActionNone},
		{"mitigated keeps its score", threat("malicious", `[{"action":"quarantine","status":"success"},{"action":"kill","status":"success"}]`), "malicious", 80, alert.ActionQuarantined},
		{"killed", threat("suspicious", `[{"action":"kill","status":"success"}]`), "suspicious", 50, alert.ActionKilled},
		{"failed kill is no action", threat("malicious", `[{"action":"kill","status":"failed"}]`), "malicious", 80, alert.ActionNone},
		{"unquarantined later", threat("malicious", `[{"action":"unquarantine","status":"success"},{"action":"quarantine","status":"success"}]`), "malicious", 80, alert.ActionNone},
		{"remediated", threat("malicious", `[{"action":"remediate","status":"success"}]`), "malicious", 80, alert.ActionQuarantined},
		{"Critical", alertOf("Critical"), "Critical", 90, alert.ActionNone},
		{"High", alertOf("High"), "High", 70, alert.ActionNone},
		{"Medium", alertOf("Medium"), "Medium", 50, alert.ActionNone},
		{"Low", alertOf("Low"), "Low", 30, alert.ActionNone},
		{"low any case", alertOf("low"), "low", 30, alert.ActionNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tt.payload))
			if err != nil || len(got) != 1 {
				t.Fatalf("Decode = %d alerts, %v", len(got), err)
			}
			a := got[0]
			if a.VendorSeverity != tt.vendor || a.Score != tt.score || a.Action != tt.action {
				t.Errorf("got (%q, %d, %s), want (%q, %d, %s)", a.VendorSeverity, a.Score, a.Action, tt.vendor, tt.score, tt.action)
			}
		})
	}
}

// TestMitigatedWithoutList checks that a threat the API calls mitigated
// without naming the action counts as blocked.
func TestMitigatedWithoutList(t *testing.T) {
	got, err := Decoder{}.Decode([]byte(`{"id":"1","agentRealtimeInfo":{"agentId":"7"},"threatInfo":{"confidenceLevel":"malicious","mitigationStatus":"mitigated"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Action != alert.ActionBlocked {
		t.Errorf("action = %s, want blocked", got[0].Action)
	}
}

// TestIDsStayExact checks that 19-digit ids are not rounded through float64.
func TestIDsStayExact(t *testing.T) {
	got, err := Decoder{}.Decode([]byte(`{"id":2087361155048800311,"agentRealtimeInfo":{"agentId":1755913284427112207},"threatInfo":{"confidenceLevel":"malicious"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].VendorID != "2087361155048800311" || got[0].Host.ID != "1755913284427112207" {
		t.Errorf("ids = %s, %s; want them digit for digit", got[0].VendorID, got[0].Host.ID)
	}
}

// FuzzDecode checks that no input panics, that failures wrap
// ErrBadPayload, and that decoded alerts can be stored as JSON.
func FuzzDecode(f *testing.F) {
	for _, b := range conntest.Fixtures(f) {
		f.Add(b)
	}
	f.Add(NewThreat("WS-01", "1755913284427112207"))
	f.Add([]byte(`{"id":1e400,"threatInfo":{"confidenceLevel":"malicious","createdAt":1e30},"agentRealtimeInfo":[]}`))
	f.Add([]byte(`{"data":[{"alertInfo":{"alertId":"1","dstPort":"99999"},"ruleInfo":{"severity":"Low"},"agentRealtimeInfo":{"id":{}}}]}`))
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
			if a.Host.ID == "" && a.Host.Name == "" {
				t.Fatalf("alert without endpoint: %+v", a)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert cannot be marshalled: %v", err)
			}
		}
	})
}
