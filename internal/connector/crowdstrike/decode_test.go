package crowdstrike

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the decoder's output")

func TestDecodeGolden(t *testing.T) {
	for name, payload := range conntest.Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Decoder{}.Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got == nil {
				got = []alert.Alert{}
			}
			text, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			text = append(text, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			conntest.Golden(t, golden, text, *update)
			checkRaw(t, payload, got)
		})
	}
}

// checkRaw checks that every alert keeps its payload: the whole payload, or
// its own resource of an entities response.
func checkRaw(t *testing.T, payload []byte, got []alert.Alert) {
	t.Helper()
	for _, a := range got {
		if len(got) == 1 && !bytes.Equal(a.Raw, payload) {
			t.Errorf("alert %s: Raw is not the payload", a.VendorID)
		}
		if !bytes.Contains(payload, a.Raw) || !json.Valid(a.Raw) {
			t.Errorf("alert %s: Raw %.60q… is not a JSON object of the payload", a.VendorID, a.Raw)
		}
	}
}

func TestDecodeBadPayload(t *testing.T) {
	tests := []struct {
		name, payload, reason string
	}{
		{"empty", ``, "not a JSON object: it does not begin with {"},
		{"array", `[{"composite_id":"x"}]`, "not a JSON object"},
		{"string", `"alert"`, "not a JSON object"},
		{"truncated", `{"composite_id":"x"`, "not a JSON object"},
		{"trailing data", `{"composite_id":"x"} {}`, "not a JSON object"},
		{"unknown object", `{"hello":"world"}`, "neither an Alerts API alert"},
		{"alert without composite_id", `{"agent_id":"abc","severity":50}`, "alert has no composite_id"},
		{"empty composite_id", `{"composite_id":"","agent_id":"abc"}`, "alert has no composite_id"},
		{"stream without event", `{"metadata":{"eventType":"EppDetectionSummaryEvent"}}`, "no event object"},
		{"stream without type", `{"metadata":{},"event":{"AgentId":"a"}}`, "no metadata.eventType"},
		{"epp without CompositeId", `{"metadata":{"eventType":"EppDetectionSummaryEvent"},"event":{"AgentId":"a"}}`, "no CompositeId"},
		{"legacy without DetectId", `{"metadata":{"eventType":"IncidentSummaryEvent"},"event":{"ExternalApiType":"Event_DetectionSummaryEvent"}}`, "no DetectId"},
		{"resources not array", `{"resources":{}}`, "resources is not an array"},
		{"resource without id", `{"resources":[{"agent_id":"a"}]}`, "alert has no composite_id (resource 0)"},
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

func TestDecodeRouting(t *testing.T) {
	epp := func(typ string) string {
		return `{"metadata":{"eventType":"` + typ + `","eventCreationTime":1770892215044},"event":{"CompositeId":"c1","AgentId":"a1","Severity":70}}`
	}
	tests := []struct {
		name, payload string
		want          int // alerts
		score         int
	}{
		{"EppDetectionSummaryEvent", epp("EppDetectionSummaryEvent"), 1, 70},
		{"EPPDetectionSummaryEvent", epp("EPPDetectionSummaryEvent"), 1, 70},
		{"eppdetectionsummaryevent", epp("eppdetectionsummaryevent"), 1, 70},
		{"stream DetectionSummaryEvent is legacy 1-5", `{"metadata":{"eventType":"DetectionSummaryEvent"},"event":{"DetectId":"ldt:a:1","Severity":2}}`, 1, 30},
		{"legacy routed by ExternalApiType, not eventType", `{"metadata":{"eventType":"IncidentSummaryEvent"},"event":{"ExternalApiType":"Event_DetectionSummaryEvent","DetectId":"ldt:a:1","Severity":5}}`, 1, 90},
		{"incident summary alone is no alert", `{"metadata":{"eventType":"IncidentSummaryEvent"},"event":{"IncidentId":"inc:1"}}`, 0, 0},
		{"audit event", `{"metadata":{"eventType":"UserActivityAuditEvent"},"event":{"OperationName":"detection_update"}}`, 0, 0},
		{"remote response session", `{"metadata":{"eventType":"RemoteResponseSessionStartEvent"},"event":{"SessionId":"s"}}`, 0, 0},
		{"empty entities response", `{"meta":{},"resources":[],"errors":[]}`, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d alerts, want %d", len(got), tt.want)
			}
			if tt.want > 0 && got[0].Score != tt.score {
				t.Errorf("score = %d, want %d", got[0].Score, tt.score)
			}
		})
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name, event string
		legacy      bool
		wantText    string
		wantScore   int
	}{
		{"legacy 1", `{"Severity":1}`, true, "1", 10},
		{"legacy 2", `{"Severity":2}`, true, "2", 30},
		{"legacy 3", `{"Severity":3,"SeverityName":"Medium"}`, true, "3", 50},
		{"legacy 4", `{"Severity":4}`, true, "4", 70},
		{"legacy 5", `{"Severity":5}`, true, "5", 90},
		{"legacy newer 1-100", `{"Severity":64}`, true, "64", 64},
		{"legacy name only", `{"SeverityName":"Critical"}`, true, "Critical", 90},
		{"100 scale", `{"Severity":79,"SeverityName":"High"}`, false, "79", 79},
		{"100 scale as string", `{"Severity":"30"}`, false, "30", 30},
		{"100 scale clamped", `{"Severity":250}`, false, "250", 100},
		{"100 scale 3 is 3", `{"Severity":3}`, false, "3", 3},
		{"name only", `{"SeverityName":"informational"}`, false, "informational", 10},
		{"nothing", `{}`, false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := jsonfield.Parse([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			text, score := severity100(f, "Severity", "SeverityName")
			if tt.legacy {
				text, score = severity5(f)
			}
			if text != tt.wantText || score != tt.wantScore {
				t.Errorf("got (%q, %d), want (%q, %d)", text, score, tt.wantText, tt.wantScore)
			}
		})
	}
}

func TestDisposition(t *testing.T) {
	tests := []struct {
		flags string
		want  alert.Action
	}{
		{`{}`, alert.ActionNone},
		{`{"detect":true}`, alert.ActionNone},
		{`{"quarantine_file":true,"process_blocked":true}`, alert.ActionQuarantined},
		{`{"kill_process":true}`, alert.ActionKilled},
		{`{"kill_process":true,"policy_disabled":true}`, alert.ActionNone},
		{`{"quarantine_file":true,"policy_disabled":true}`, alert.ActionNone},
		{`{"kill_process":true,"kill_action_failed":true}`, alert.ActionNone},
		{`{"kill_process":true,"kill_action_failed":true,"operation_blocked":true}`, alert.ActionBlocked},
		{`{"process_blocked":true}`, alert.ActionBlocked},
		{`{"operation_blocked":"true"}`, alert.ActionBlocked},
		{`{"fs_operation_blocked":true}`, alert.ActionBlocked},
		{`{"registry_operation_blocked":1}`, alert.ActionBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.flags, func(t *testing.T) {
			f, _ := jsonfield.Parse([]byte(tt.flags))
			if got := disposition(f, snakeFlags); got != tt.want {
				t.Errorf("disposition = %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzDecode checks that no input panics, that failures wrap
// ErrBadPayload, and that decoded alerts can be stored as JSON.
func FuzzDecode(f *testing.F) {
	for _, b := range conntest.Fixtures(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"metadata":{"eventType":"EppDetectionSummaryEvent"},"event":{"CompositeId":"c","ProcessId":1e400}}`))
	f.Add([]byte(`{"composite_id":"x","timestamp":1e30,"device":[],"severity":{}}`))
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
			if a.Score < 0 || a.Score > 100 {
				t.Fatalf("score %d out of 0–100", a.Score)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert cannot be marshalled: %v", err)
			}
		}
	})
}
