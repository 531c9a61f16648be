package carbonblack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// post sends body to path (with %s the org key) with the given token and
// returns the status and answer.
func post(t *testing.T, cfg connector.Config, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, cfg.URL+strings.Replace(path, "%s", SimOrgKey, 1), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(AuthHeader, token)
	}
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSimAnswers checks the simulator's answers to requests a connector
// might get wrong.
func TestSimAnswers(t *testing.T) {
	good := SimSecret + "/" + SimAPIID
	for _, tc := range []struct {
		name, path, token, body string
		status                  int
		says                    string
	}{
		{"no token", pathAlertSearch, "", `{}`, 401, "invalid API key"},
		{"id and secret swapped", pathAlertSearch, SimAPIID + "/" + SimSecret, `{}`, 401, "invalid API key"},
		{"search, defaults", pathAlertSearch, good, `{}`, 200, `"num_found":0`},
		{"rows 0", pathAlertSearch, good, `{"rows":0}`, 400, "rows must be"},
		{"window exceeded", pathAlertSearch, good, `{"start":9990,"rows":20}`, 400, "must not exceed 10000"},
		{"other sort", pathAlertSearch, good, `{"sort":[{"field":"severity","order":"DESC"}]}`, 400, "backend_update_timestamp ASC"},
		{"bad time range", pathAlertSearch, good, `{"time_range":{"start":"yesterday","end":"now"}}`, 400, "ISO 8601"},
		{"not JSON", pathAlertSearch, good, `rows=5`, 400, "invalid JSON"},
		{"device search without ids", pathDeviceSearch, good, `{"criteria":{}}`, 400, "criteria.id"},
		{"device search by string id", pathDeviceSearch, good, `{"criteria":{"id":["` + testDevice + `"]}}`, 200, `"quarantined":false`},
		{"quarantine without toggle", pathDeviceAction, good, `{"action_type":"QUARANTINE","device_id":["` + testDevice + `"]}`, 400, "toggle ON or OFF"},
		{"unknown action", pathDeviceAction, good, `{"action_type":"WIPE","device_id":[1]}`, 400, "unknown action_type"},
		{"background scan", pathDeviceAction, good, `{"action_type":"BACKGROUND_SCAN","device_id":[` + testDevice + `],"options":{"toggle":"ON"}}`, 204, ""},
		{"quarantine by number", pathDeviceAction, good, `{"action_type":"QUARANTINE","device_id":[` + testDevice + `],"options":{"toggle":"ON"}}`, 204, ""},
		{"override of another type", pathOverrides, good, `{"override_list":"BLACK_LIST","override_type":"CERT"}`, 400, "SHA256"},
		{"no such endpoint", "/appservices/v6/orgs/%s/nothing", good, `{}`, 404, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, cfg := startSim(t)
			sim.AddDevice(testDevice, "FIN-WS-042")
			status, body := post(t, cfg, tc.path, tc.token, tc.body)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("answer %d %s, want %d saying %q", status, body, tc.status, tc.says)
			}
			if status >= 400 && !strings.Contains(body, `"success":false`) {
				t.Errorf("error body %s is not Carbon Black's shape", body)
			}
		})
	}
}

// TestSimulatorContract exercises connector.Simulator as the app and the
// crash harness use it.
func TestSimulatorContract(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	var s connector.Simulator = sim
	s.AddDevice("555", "ws-555")
	if err := s.Inject(NewAlert(555, "ws-555", 4), NewAlert(556, "ws-556", 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Inject([]byte(`[1]`)); err == nil {
		t.Error("Inject took a JSON array")
	}
	src := newSource(t, cfg, WithSourceClock(c.Now))
	page, err := src.Pull(context.Background(), "")
	if err != nil || len(page.Payloads) != 2 {
		t.Fatalf("pull: %d payloads, %v", len(page.Payloads), err)
	}
	var hosts []string
	for _, p := range page.Payloads {
		as, err := Decoder{}.Decode(p)
		if err != nil {
			t.Fatalf("injected alert does not decode: %v", err)
		}
		hosts = append(hosts, as[0].Host.ID+"/"+as[0].VendorSeverity)
		if as[0].VendorCreated != c.Now() {
			t.Errorf("assigned time %v, want the clock's", as[0].VendorCreated)
		}
	}
	if strings.Join(hosts, " ") != "555/4 556/10" {
		t.Errorf("hosts %v", hosts)
	}
	r := newResponder(t, cfg)
	if _, err := r.Isolate(context.Background(), connector.Target{HostID: "556"}, "k"); err != nil {
		t.Fatalf("isolate a device learned from an alert: %v", err)
	}
	if !s.Contained("556") || s.Contained("555") || s.Calls()["QUARANTINE_ON:556"] != 1 {
		t.Errorf("contained 556=%v 555=%v calls=%v", s.Contained("556"), s.Contained("555"), s.Calls())
	}
	if e := sim.Ledger(); len(e) != 1 || e[0].Status != http.StatusNoContent || !e[0].At.Equal(c.Now()) {
		t.Errorf("ledger %+v", e)
	}
	s.FailNext(1, http.StatusBadGateway)
	if _, err := src.Pull(context.Background(), page.Cursor); err == nil {
		t.Error("FailNext did not fail the next call")
	}
	id, secret := s.Credentials()
	if id != SimOrgKey+"/"+SimAPIID || secret != SimSecret || !strings.Contains(sim.Describe(), "X-Auth-Token") {
		t.Errorf("credentials %q %q", id, secret)
	}
}

func TestSimInjectUpdates(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now))
	first := `{"id":"u1","severity":3,"device_id":9,"backend_update_timestamp":"2026-03-01T10:00:00.000Z"}`
	if err := sim.Inject([]byte(first)); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject([]byte(first)); err == nil || !strings.Contains(err.Error(), "newer backend_update_timestamp") {
		t.Errorf("same version injected twice: %v", err)
	}
	c.Add(time.Minute)
	if err := sim.Inject([]byte(`{"id":"u1","severity":6,"device_id":9}`)); err != nil {
		t.Fatal(err)
	}
	if ids := sim.AlertIDs(); len(ids) != 1 || ids[0] != "u1" {
		t.Errorf("alert ids %v, want the one alert", ids)
	}
	var got struct {
		Results []map[string]any `json:"results"`
	}
	_, cfg := startSimWith(t, sim)
	_, body := post(t, cfg, pathAlertSearch, SimSecret+"/"+SimAPIID, `{}`)
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Results) != 1 || got.Results[0]["severity"] != 6.0 {
		t.Errorf("search after the update: %s", body)
	}
}
