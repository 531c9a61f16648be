package defender

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

// simCall calls a served simulator as a raw HTTP client would.
func simCall(t *testing.T, cfg connector.Config, method, target, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, cfg.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if strings.HasSuffix(target, "/oauth2/token") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %s", method, target, b)
	}
	return resp.StatusCode, resp.Header, out
}

// simToken fetches a token from the simulator's v1 token endpoint.
func simToken(t *testing.T, cfg connector.Config) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {SimClientID}, "client_secret": {SimSecret}, "resource": {resourceCommercial}}
	code, _, body := simCall(t, cfg, "POST", "/"+SimTenant+"/oauth2/token", "", form.Encode())
	if code != 200 {
		t.Fatalf("token: HTTP %d %v", code, body)
	}
	return body["access_token"].(string)
}

func TestSimTokenEndpoint(t *testing.T) {
	_, cfg := startSim(t)
	form := func(secret, resource string) string {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {SimClientID}, "client_secret": {secret}, "resource": {resource}}.Encode()
	}
	tests := []struct {
		name, tenant, body string
		code               int
		errCode            string
	}{
		{"ok", SimTenant, form(SimSecret, resourceCommercial), 200, ""},
		{"resource with slash", SimTenant, form(SimSecret, resourceCommercial+"/"), 200, ""},
		{"wrong secret", SimTenant, form("x", resourceCommercial), 401, "invalid_client"},
		{"wrong tenant", "common", form(SimSecret, resourceCommercial), 400, "invalid_request"},
		{"wrong resource", SimTenant, form(SimSecret, "https://graph.microsoft.com"), 400, "invalid_resource"},
		{"password grant", SimTenant, "grant_type=password", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := simCall(t, cfg, "POST", "/"+tt.tenant+"/oauth2/token", "", tt.body)
			if code != tt.code || (tt.errCode != "" && body["error"] != tt.errCode) {
				t.Fatalf("HTTP %d %v, want %d %s", code, body, tt.code, tt.errCode)
			}
			if code == 200 {
				// v1 writes expires_in as a string.
				if _, ok := body["expires_in"].(string); !ok || body["token_type"] != "Bearer" || body["access_token"] == "" {
					t.Errorf("token answer = %v", body)
				}
			}
		})
	}
}

// TestSimAlertsOData pages GET /api/alerts with $top/$skip and
// @odata.nextLink, and checks the $filter subset.
func TestSimAlertsOData(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := inject(t, sim, c, 5, time.Second)
	tok := simToken(t, cfg)
	var got []string
	next := pathAlerts + "?$top=2&$orderby=lastUpdateTime%20asc"
	for range 10 {
		code, _, body := simCall(t, cfg, "GET", next, tok, "")
		if code != 200 {
			t.Fatalf("HTTP %d %v", code, body)
		}
		for _, v := range body["value"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		link, _ := body["@odata.nextLink"].(string)
		if link == "" {
			break
		}
		next = strings.TrimPrefix(link, cfg.URL)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	t2 := c.Now().Add(-3 * time.Second).Format(time.RFC3339)
	for _, tt := range []struct {
		filter string
		code   int
		n      int
	}{
		{"lastUpdateTime gt " + t2, 200, 2},
		{"lastUpdateTime ge " + t2, 200, 3},
		{"lastUpdateTime ge " + t2 + " and alertCreationTime lt " + t2, 200, 0},
		{"severity eq 'High'", 400, 0},
		{"lastUpdateTime ge yesterday", 400, 0},
	} {
		code, _, body := simCall(t, cfg, "GET", pathAlerts+"?"+odataQuery(url.Values{"$filter": {tt.filter}}), tok, "")
		if code != tt.code || (code == 200 && len(body["value"].([]any)) != tt.n) {
			t.Errorf("$filter=%s: HTTP %d %v; want %d with %d alerts", tt.filter, code, body, tt.code, tt.n)
		}
	}
	if code, _, _ := simCall(t, cfg, "GET", pathAlerts+"?$orderby=severity", tok, ""); code != 400 {
		t.Errorf("$orderby=severity: HTTP %d, want 400", code)
	}
}

func TestSimFaultsAndLimit(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now), WithRateLimit(2, time.Minute))
	tok := simToken(t, cfg)
	sim.FailNext(1, http.StatusServiceUnavailable)
	if code, h, body := simCall(t, cfg, "GET", pathAlerts, tok, ""); code != 503 || h.Get("Retry-After") != "2" || body["error"] == nil {
		t.Errorf("injected 503: HTTP %d, Retry-After %q, %v", code, h.Get("Retry-After"), body)
	}
	for range 2 {
		if code, _, _ := simCall(t, cfg, "GET", pathAlerts, tok, ""); code != 200 {
			t.Fatalf("HTTP %d within the limit", code)
		}
	}
	c.Add(15 * time.Second)
	code, h, _ := simCall(t, cfg, "GET", pathAlerts, tok, "")
	if code != 429 || h.Get("Retry-After") != "45" {
		t.Errorf("over the limit: HTTP %d, Retry-After %q; want 429, 45", code, h.Get("Retry-After"))
	}
	// The token endpoint is not rate limited.
	_ = simToken(t, cfg)
	if code, _, _ := simCall(t, cfg, "GET", pathAlerts, "not-a-token", ""); code != 429 {
		t.Errorf("HTTP %d, want the limit to apply before auth", code)
	}
}

func TestSimActions(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testMachine, testHost)
	tok := simToken(t, cfg)
	if code, _, _ := simCall(t, cfg, "POST", pathMachines+testMachine+"/isolate", tok, `{"IsolationType":"Full"}`); code != 400 {
		t.Errorf("isolate without Comment: HTTP %d, want 400", code)
	}
	if code, _, _ := simCall(t, cfg, "POST", pathMachines+testMachine+"/isolate", tok, `{"Comment":"c","IsolationType":"Partial"}`); code != 400 {
		t.Errorf("isolate with a bad type: HTTP %d, want 400", code)
	}
	code, _, ma := simCall(t, cfg, "POST", pathMachines+testMachine+"/isolate", tok, `{"Comment":"c `+KeyMarker+`k9","IsolationType":"Selective"}`)
	if code != 201 || ma["type"] != ActionIsolate || ma["status"] != StatusSucceeded || ma["machineId"] != testMachine {
		t.Fatalf("isolate: HTTP %d %v", code, ma)
	}
	if !sim.Contained(testMachine) || sim.Calls()["k9"] != 1 {
		t.Errorf("contained %v, calls %v", sim.Contained(testMachine), sim.Calls())
	}
	code, _, got := simCall(t, cfg, "GET", pathMachineActions+"/"+ma["id"].(string), tok, "")
	if code != 200 || got["id"] != ma["id"] {
		t.Errorf("GET machine action: HTTP %d %v", code, got)
	}
	q := odataQuery(url.Values{"$filter": {"machineId eq '" + testMachine + "' and type eq 'Unisolate'"}})
	if code, _, list := simCall(t, cfg, "GET", pathMachineActions+"?"+q, tok, ""); code != 200 || len(list["value"].([]any)) != 0 {
		t.Errorf("filtered actions: HTTP %d %v", code, list)
	}
	if code, _, m := simCall(t, cfg, "GET", pathMachines+testMachine, tok, ""); code != 200 || m["computerDnsName"] != testHost {
		t.Errorf("GET machine: HTTP %d %v", code, m)
	}
	if code, _, _ := simCall(t, cfg, "POST", pathMachines+"nope/unisolate", tok, `{"Comment":"c"}`); code != 404 {
		t.Errorf("unknown machine: HTTP %d, want 404", code)
	}
}

func TestSimInjectRejects(t *testing.T) {
	sim := NewSim()
	for _, p := range []string{
		`{"hello":1}`,
		`{"@odata.type":"#microsoft.graph.security.alert","id":"g","severity":"low"}`,
		`not json`,
		`{"value":3}`,
	} {
		if err := sim.Inject([]byte(p)); err == nil {
			t.Errorf("Inject took %s", p)
		}
	}
	if err := sim.Inject([]byte(`{"value":[]}`)); err != nil {
		t.Errorf("empty page: %v", err)
	}
	if err := sim.UpdateAlert("nope", nil); err == nil {
		t.Error("UpdateAlert of an unknown alert succeeded")
	}
	if !strings.Contains(sim.Describe(), SimClientID) {
		t.Error("Describe does not name the client id")
	}
}

func TestRegistered(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	if v.NewSource == nil || v.NewResponder == nil || v.NewSimulator == nil || v.SeverityScale == "" {
		t.Errorf("vendor %q registered incompletely: %+v", VendorName, v)
	}
	if _, ok := v.NewSimulator().(*Sim); !ok {
		t.Error("NewSimulator does not return a *Sim")
	}
}
