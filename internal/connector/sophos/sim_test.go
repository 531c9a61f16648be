package sophos

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// simCall sends one raw request to the simulator and returns the status
// and the decoded JSON body.
func simCall(t *testing.T, base, method, path, token, tenant, body string, form url.Values) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	} else if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if tenant != "" {
		req.Header.Set(tenantHeader, tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func simToken(t *testing.T, base string, sim *Sim) string {
	t.Helper()
	id, secret := sim.Credentials()
	st, m := simCall(t, base, "POST", pathToken, "", "", "", url.Values{
		"grant_type": {"client_credentials"}, "scope": {"token"}, "client_id": {id}, "client_secret": {secret}})
	if st != 200 || m["access_token"] == "" || m["expires_in"] != float64(3600) {
		t.Fatalf("token: %d %v", st, m)
	}
	return m["access_token"].(string)
}

func TestSimTokenEndpoint(t *testing.T) {
	sim, cfg := startSim(t)
	id, secret := sim.Credentials()
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"ok", url.Values{"grant_type": {"client_credentials"}, "scope": {"token"}, "client_id": {id}, "client_secret": {secret}}, 200, "success"},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "scope": {"token"}, "client_id": {id}, "client_secret": {"x"}}, 401, "oauth.invalid_client_secret"},
		{"no scope", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, 400, "oauth.invalid_scope"},
		{"wrong grant", url.Values{"grant_type": {"password"}, "scope": {"token"}}, 400, "oauth.invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := simCall(t, cfg.URL, "POST", pathToken, "", "", "", tc.form)
			if st != tc.status || m["errorCode"] != tc.code {
				t.Errorf("%d %v, want %d %s", st, m, tc.status, tc.code)
			}
		})
	}
}

func TestSimWhoamiAndTenantChecks(t *testing.T) {
	sim, cfg := startSim(t)
	tok := simToken(t, cfg.URL, sim)
	st, m := simCall(t, cfg.URL, "GET", pathWhoami, tok, "", "", nil)
	hosts, _ := m["apiHosts"].(map[string]any)
	if st != 200 || m["id"] != SimTenantID || m["idType"] != "tenant" || hosts["dataRegion"] != cfg.URL || hosts["global"] != cfg.URL {
		t.Fatalf("whoami: %d %v", st, m)
	}
	for _, tc := range []struct {
		name, token, tenant, path string
		status                    int
	}{
		{"no token", "", SimTenantID, pathSIEMAlerts, 401},
		{"unknown token", "sophos-sim-999999", SimTenantID, pathSIEMAlerts, 401},
		{"no tenant header", tok, "", pathSIEMAlerts, 401},
		{"another tenant", tok, "someone-else", pathSIEMAlerts, 401},
		{"ok", tok, SimTenantID, pathSIEMAlerts, 200},
		{"limit too big", tok, SimTenantID, pathSIEMAlerts + "?limit=1001", 400},
		{"from_date too old", tok, SimTenantID, pathSIEMAlerts + "?from_date=" + strconv.FormatInt(time.Now().Add(-25*time.Hour).Unix(), 10), 400},
		{"from_date in the future", tok, SimTenantID, pathSIEMAlerts + "?from_date=" + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10), 400},
		{"bad cursor", tok, SimTenantID, pathSIEMAlerts + "?cursor=%21%21", 400},
		{"unknown endpoint", tok, SimTenantID, pathEndpoints + "/nope/isolation", 404},
		{"unknown path", tok, SimTenantID, "/endpoint/v1/nothing", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := simCall(t, cfg.URL, "GET", tc.path, tc.token, tc.tenant, "", nil)
			if st != tc.status {
				t.Errorf("%s: %d %v, want %d", tc.path, st, m, tc.status)
			}
			if st >= 400 && (m["error"] == nil || m["message"] == nil || m["correlationId"] == nil) {
				t.Errorf("error body %v is not Sophos's shape", m)
			}
		})
	}
}

func TestSimInject(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithSimClock(c.Now))
	old := NewAlert(testHost, testEndpoint, AlertID("old"), AlertCreated("2020-01-01T00:00:00.000Z"))
	kept := NewAlert(testHost, "ep-2", AlertID("kept"), AlertCreated("2026-03-01T09:00:00.000Z"))
	list := []byte(`{"items":[` + string(NewAlert("h3", "ep-3", AlertID("l1"))) + `,` + string(NewAlert("h4", "ep-4", AlertID("l2"))) + `],"has_more":false}`)
	if err := sim.Inject(old, kept, list); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject(NewAlert(testHost, testEndpoint, AlertID("kept"))); err == nil {
		t.Error("duplicate id accepted")
	}
	if err := sim.Inject([]byte(`[1]`)); err == nil {
		t.Error("non-object accepted")
	}
	if got := strings.Join(sim.AlertIDs(), " "); got != "kept old l1 l2" {
		t.Errorf("list order %q, want kept (09:00) then the restamped ones in arrival order", got)
	}
	tok := simToken(t, cfg.URL, sim)
	st, m := simCall(t, cfg.URL, "GET", pathSIEMAlerts+"?limit=2", tok, SimTenantID, "", nil)
	items, _ := m["items"].([]any)
	if st != 200 || len(items) != 2 || m["has_more"] != true || m["next_cursor"] == "" {
		t.Fatalf("list: %d %v", st, m)
	}
	if ca := items[1].(map[string]any)["created_at"]; ca != "2026-03-01T10:00:00.000Z" {
		t.Errorf("an alert older than the window got created_at %v, want the clock's time", ca)
	}
	for _, ep := range []string{testEndpoint, "ep-2", "ep-3", "ep-4"} {
		if st, _ := simCall(t, cfg.URL, "GET", pathEndpoints+"/"+ep+"/isolation", tok, SimTenantID, "", nil); st != 200 {
			t.Errorf("endpoint %s not learned from its alert: %d", ep, st)
		}
	}
	if d := sim.Describe(); !strings.Contains(d, pathSIEMAlerts) || !strings.Contains(d, "4 alerts, 4 endpoints") {
		t.Errorf("Describe:\n%s", d)
	}
}

func TestSimIsolationBodies(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testEndpoint, testHost)
	tok := simToken(t, cfg.URL, sim)
	path := pathEndpoints + "/" + testEndpoint + "/isolation"
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		enabled                  bool
	}{
		{"missing enabled", "PATCH", path, `{"comment":"x"}`, 400, false},
		{"not JSON", "PATCH", path, `{`, 400, false},
		{"isolate", "PATCH", path, `{"enabled":true,"comment":"c [bannin-key:k1]"}`, 200, true},
		{"bulk without ids", "POST", pathBulkIsolate, `{"enabled":false}`, 400, true},
		{"bulk release", "POST", pathBulkIsolate, `{"enabled":false,"ids":["` + testEndpoint + `"],"comment":"r"}`, 201, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := simCall(t, cfg.URL, tc.method, tc.path, tok, SimTenantID, tc.body, nil)
			if st != tc.status || sim.Contained(testEndpoint) != tc.enabled {
				t.Errorf("%d %v contained=%v, want %d %v", st, m, sim.Contained(testEndpoint), tc.status, tc.enabled)
			}
		})
	}
	if sim.Calls()["k1"] != 1 {
		t.Errorf("calls = %v, want k1 once", sim.Calls())
	}
}
