package defender

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
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the decoder's output")

func TestDecodeGolden(t *testing.T) {
	for name, payload := range conntest.Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Decoder{}.Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			text, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			text = append(text, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			conntest.Golden(t, golden, text, *update)
			for _, a := range got {
				if len(got) == 1 && !bytes.Equal(a.Raw, payload) {
					t.Errorf("alert %s: Raw is not the payload", a.VendorID)
				}
				if !json.Valid(a.Raw) {
					t.Errorf("alert %s: Raw is not JSON", a.VendorID)
				}
			}
		})
	}
}

// TestDecodeRules checks the mapping rules one at a time.
func TestDecodeRules(t *testing.T) {
	base := func(extra string) []byte {
		return []byte(`{"id":"a1","machineId":"m1","computerDnsName":"h1"` + extra + `}`)
	}
	tests := []struct {
		name    string
		payload []byte
		check   func(alert.Alert) string
	}{
		{"severity High", base(`,"severity":"High"`), scoreIs(80)},
		{"severity Medium", base(`,"severity":"Medium"`), scoreIs(50)},
		{"severity Low", base(`,"severity":"Low"`), scoreIs(30)},
		{"severity Informational", base(`,"severity":"Informational"`), scoreIs(10)},
		{"severity UnSpecified", base(`,"severity":"UnSpecified"`), scoreIs(20)},
		{"graph severity lower-case", []byte(`{"@odata.type":"#microsoft.graph.security.alert","id":"g","severity":"high","evidence":[{"@odata.type":"#microsoft.graph.security.deviceEvidence","mdeDeviceId":"m"}]}`), scoreIs(80)},
		{"graph severity unknown", []byte(`{"@odata.type":"#microsoft.graph.security.alert","id":"g","severity":"unknown","evidence":[{"@odata.type":"#microsoft.graph.security.deviceEvidence","deviceDnsName":"h"}]}`), scoreIs(20)},
		{"category tactic", base(`,"severity":"Low","category":"LateralMovement"`), func(a alert.Alert) string {
			return want(cmp.Diff([]string{"TA0008"}, a.Tactics))
		}},
		{"category not a tactic", base(`,"severity":"Low","category":"Ransomware"`), func(a alert.Alert) string {
			return want(cmp.Diff([]string(nil), a.Tactics))
		}},
		{"remediated by AIR", base(`,"severity":"Low","investigationState":"SuccessfullyRemediated"`), actionIs(alert.ActionQuarantined)},
		{"blocked by AV", base(`,"severity":"Low","evidence":[{"entityType":"File","fileName":"x","detectionStatus":"Blocked"}]`), actionIs(alert.ActionBlocked)},
		{"detected only", base(`,"severity":"Low","evidence":[{"entityType":"File","fileName":"x","detectionStatus":"Detected"}]`), actionIs(alert.ActionNone)},
		{"process wins over file", base(`,"severity":"Low","evidence":[{"entityType":"File","fileName":"a.txt"},{"entityType":"Process","fileName":"b.exe","processId":7}]`), func(a alert.Alert) string {
			return want(cmp.Diff(alert.Process{Name: "b.exe", PID: "7"}, a.Process))
		}},
		{"user from relatedUser", base(`,"severity":"Low","relatedUser":{"userName":"u1","domainName":"D"}`), func(a alert.Alert) string {
			return want(cmp.Diff("u1", a.User))
		}},
		{"times", base(`,"severity":"Low","alertCreationTime":"2026-01-01T00:00:02.1234567Z","firstEventTime":"2026-01-01T00:00:01Z"`), func(a alert.Alert) string {
			return want(cmp.Diff("2026-01-01T00:00:01Z 2026-01-01T00:00:02.1234567Z", conntest.Stamp(a.EventTime)+" "+conntest.Stamp(a.VendorCreated)))
		}},
		{"link", base(`,"severity":"Low","aadTenantId":"t1"`), func(a alert.Alert) string {
			return want(cmp.Diff("https://security.microsoft.com/alerts/a1?tid=t1", a.Link))
		}},
		{"empty page", []byte(`{"value":[]}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{}.Decode(tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			if tt.check == nil {
				if len(got) != 0 {
					t.Errorf("%d alerts, want none", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d alerts, want 1", len(got))
			}
			if msg := tt.check(got[0]); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func scoreIs(n int) func(alert.Alert) string {
	return func(a alert.Alert) string {
		if a.Score != n || a.VendorSeverity == "" {
			return "score " + a.VendorSeverity + " = " + jsonText(a.Score) + ", want " + jsonText(n)
		}
		return ""
	}
}

func actionIs(act alert.Action) func(alert.Alert) string {
	return func(a alert.Alert) string { return want(cmp.Diff(act, a.Action)) }
}

func want(diff string) string {
	if diff == "" {
		return ""
	}
	return "(-want +got):\n" + diff
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDecodeRefuses checks that payloads the API never sends are refused
// with ErrBadPayload and a reason.
func TestDecodeRefuses(t *testing.T) {
	tests := []struct{ name, payload, says string }{
		{"not an object", `[1,2]`, "not a JSON object"},
		{"not JSON", `{"id":`, "not a JSON object"},
		{"no severity", `{"id":"a","machineId":"m"}`, "no severity"},
		{"unknown severity", `{"id":"a","machineId":"m","severity":"Critical"}`, "no severity"},
		{"no endpoint", `{"id":"a","severity":"High"}`, "names no endpoint"},
		{"no id", `{"severity":"High","machineId":"m"}`, "no id"},
		{"graph without device", `{"@odata.type":"#microsoft.graph.security.alert","id":"g","severity":"low","evidence":[]}`, "deviceEvidence"},
		{"value not an array", `{"value":{}}`, "value is not an array"},
		{"bad item in a page", `{"value":[{"id":"a","severity":"Low","machineId":"m"},{"id":"b"}]}`, "value item 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decoder{}.Decode([]byte(tt.payload))
			if !errors.Is(err, connector.ErrBadPayload) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Decode = %v, want ErrBadPayload saying %q", err, tt.says)
			}
		})
	}
}

// FuzzDecode checks that no payload makes the decoder panic, and that what
// it accepts has an id, a known severity and an endpoint.
func FuzzDecode(f *testing.F) {
	for _, p := range conntest.Fixtures(f) {
		f.Add(p)
	}
	for _, s := range []string{
		`{"value":[]}`,
		`{"id":"da637291048912199236_1126926584","severity":"Medium","machineId":"m","computerDnsName":"h","evidence":{"entityType":"Process","processId":4104,"parentProcessId":6012}}`,
		`{"@odata.type":"#microsoft.graph.security.alert","id":"x","severity":"low","evidence":[{"@odata.type":"#microsoft.graph.security.deviceEvidence","mdeDeviceId":"m","ipInterfaces":["1.1.1.1"]}]}`,
		`{"id":"a","severity":"High","machineId":"m","evidence":[{"entityType":"Url","url":"::"},{"entityType":"Ip"}]}`,
		`{"value":[{"id":"a","severity":"Low","machineId":"m"},{"id":"a","severity":"Low","machineId":"m","evidence":{"entityType":"File","fileName":"x"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := Decoder{}.Decode(payload)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error %v does not wrap ErrBadPayload", err)
			}
			return
		}
		for _, a := range got {
			if a.VendorID == "" || a.Score == 0 || (a.Host.ID == "" && a.Host.Name == "") {
				t.Fatalf("accepted an alert without id, score or endpoint: %+v", a)
			}
		}
	})
}
