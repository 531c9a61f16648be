package crowdstrike

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

// call makes one request to the simulator's handler and decodes the JSON
// answer.
func call(t *testing.T, sim *Sim, method, target, token, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if strings.HasPrefix(body, "client_id") || strings.HasPrefix(body, "grant_type") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %q", method, target, b)
	}
	return resp, v
}

func login(t *testing.T, sim *Sim) string {
	t.Helper()
	id, secret := sim.Credentials()
	form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"}}
	resp, v := call(t, sim, "POST", "/oauth2/token", "", form.Encode())
	if resp.StatusCode != http.StatusCreated || v["token_type"] != "bearer" || v["expires_in"] != 1799.0 {
		t.Fatalf("token: %d %v", resp.StatusCode, v)
	}
	return v["access_token"].(string)
}

// errorCode returns errors[0].code of a CrowdStrike answer.
func errorCode(v map[string]any) float64 {
	errs, _ := v["errors"].([]any)
	if len(errs) == 0 {
		return 0
	}
	e, _ := errs[0].(map[string]any)
	code, _ := e["code"].(float64)
	return code
}

func TestSimAuth(t *testing.T) {
	sim := NewSim()
	tests := []struct {
		name, method, target, token, body string
		status                            int
	}{
		{"wrong secret", "POST", "/oauth2/token", "", "client_id=" + SimClientID + "&client_secret=x", 401},
		{"wrong grant", "POST", "/oauth2/token", "", "grant_type=password&client_id=" + SimClientID, 400},
		{"no token", "GET", "/alerts/queries/alerts/v2", "", "", 401},
		{"unknown token", "GET", "/alerts/queries/alerts/v2", "forged", "", 401},
		{"unknown endpoint", "GET", "/detects/queries/detects/v1", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, v := call(t, sim, tt.method, tt.target, tt.token, tt.body)
			if resp.StatusCode != tt.status || errorCode(v) != float64(tt.status) {
				t.Errorf("got %d %v, want %d with errors[0].code %d", resp.StatusCode, v, tt.status, tt.status)
			}
			if _, ok := v["meta"].(map[string]any); !ok {
				t.Errorf("answer has no meta object: %v", v)
			}
		})
	}
	req := httptest.NewRequest("POST", "/oauth2/token", nil)
	req.SetBasicAuth(sim.Credentials())
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		t.Errorf("basic auth token request: %d", w.Code)
	}
}

func TestSimQuery(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now))
	ids := inject(t, sim, c, 5, time.Second)
	tok := login(t, sim)
	since := url.QueryEscape("created_timestamp:>='" + timeText(c.Now().Add(-3*time.Second)) + "'")
	tests := []struct {
		name, query string
		want        []string
		after       bool
	}{
		{"all, newest first", "", reverse(ids), false},
		{"ascending", "sort=created_timestamp|asc", ids, false},
		{"since", "sort=created_timestamp.asc&filter=" + since, ids[2:], false},
		{"page", "sort=created_timestamp|asc&limit=2&offset=1", ids[1:3], true},
		{"and", "filter=" + url.QueryEscape("severity:>=50+product:'epp'+agent_id:'nobody'"), []string{}, false},
		{"or", "sort=created_timestamp|asc&filter=" + url.QueryEscape("composite_id:'"+ids[0]+"',composite_id:'"+ids[4]+"'"), []string{ids[0], ids[4]}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, v := call(t, sim, "GET", "/alerts/queries/alerts/v2?"+tt.query, tok, "")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %v", resp.StatusCode, v)
			}
			if diff := cmp.Diff(tt.want, strings1(v["resources"])); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			pg := v["meta"].(map[string]any)["pagination"].(map[string]any)
			if _, ok := pg["after"]; ok != tt.after {
				t.Errorf("pagination %v: after present = %v, want %v", pg, ok, tt.after)
			}
			if tt.after {
				_, next := call(t, sim, "GET", "/alerts/queries/alerts/v2?sort=created_timestamp|asc&limit=2&after="+pg["after"].(string), tok, "")
				if diff := cmp.Diff(ids[3:5], strings1(next["resources"])); diff != "" {
					t.Errorf("after page (-want +got):\n%s", diff)
				}
			}
		})
	}
	for _, bad := range []string{"filter=created_timestamp:>='soon'", "filter=nonsense", "sort=severity|up", "limit=20000", "after=zzz"} {
		if resp, _ := call(t, sim, "GET", "/alerts/queries/alerts/v2?"+bad, tok, ""); resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
}

func TestSimEntitiesAndDevices(t *testing.T) {
	sim := NewSim()
	payload := NewAlert("WS-01", testAID, AlertCompositeID("x:ind:"+testAID+":1"))
	if err := sim.Inject(payload); err != nil {
		t.Fatal(err)
	}
	tok := login(t, sim)
	_, v := call(t, sim, "POST", "/alerts/entities/alerts/v2", tok, `{"composite_ids":["x:ind:`+testAID+`:1","missing"]}`)
	res := v["resources"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["composite_id"] != "x:ind:"+testAID+":1" || errorCode(v) != 404 {
		t.Errorf("entities: %v", v)
	}
	resp, v := call(t, sim, "GET", "/devices/entities/devices/v2?ids="+testAID, tok, "")
	dev := v["resources"].([]any)[0].(map[string]any)
	if resp.StatusCode != 200 || dev["hostname"] != "WS-01" || dev["status"] != StatusNormal {
		t.Errorf("device: %d %v", resp.StatusCode, v)
	}
	if resp, _ := call(t, sim, "GET", "/devices/entities/devices/v2?ids=nope", tok, ""); resp.StatusCode != 404 {
		t.Errorf("unknown device: %d, want 404", resp.StatusCode)
	}

	action := "/devices/entities/devices-actions/v2?action_name="
	resp, v = call(t, sim, "POST", action+"contain", tok, `{"ids":["`+testAID+`"]}`)
	if resp.StatusCode != 202 || v["resources"].([]any)[0].(map[string]any)["id"] != testAID || !sim.Contained(testAID) {
		t.Errorf("contain: %d %v", resp.StatusCode, v)
	}
	if resp, v := call(t, sim, "POST", action+"contain", tok, `{"ids":["nope"]}`); resp.StatusCode != 404 || errorCode(v) != 404 {
		t.Errorf("contain unknown: %d %v", resp.StatusCode, v)
	}
	if resp, _ := call(t, sim, "POST", action+"hide_host", tok, `{"ids":["`+testAID+`"]}`); resp.StatusCode != 400 {
		t.Errorf("other action: %d, want 400", resp.StatusCode)
	}
	call(t, sim, "POST", action+"lift_containment", tok, `{"ids":["`+testAID+`"]}`, IdempotencyHeader, "k9")
	want := map[string]int{"contain:" + testAID: 1, "contain:nope": 1, "k9": 1}
	if diff := cmp.Diff(want, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if l := sim.Ledger(); len(l) != 3 || l[1].Status != 404 || l[2].Action != "lift_containment" {
		t.Errorf("ledger: %+v", l)
	}
}

func TestSimFailNext(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now), WithRetryAfter(5*time.Second))
	tok := login(t, sim)
	sim.FailNext(2, 429)
	for range 2 {
		resp, v := call(t, sim, "GET", "/alerts/queries/alerts/v2", tok, "")
		h := resp.Header
		if resp.StatusCode != 429 || errorCode(v) != 429 || h.Get("Retry-After") != "5" ||
			h.Get("X-Ratelimit-Remaining") != "0" || h.Get("X-Ratelimit-Retryafter") != "1772359205" {
			t.Errorf("injected 429: %d %v %v", resp.StatusCode, h, v)
		}
	}
	if resp, _ := call(t, sim, "GET", "/alerts/queries/alerts/v2", tok, ""); resp.StatusCode != 200 {
		t.Errorf("third call: %d, want 200", resp.StatusCode)
	}
}

func TestSimInject(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now))
	tests := []struct {
		name, payload string
		ok            bool
	}{
		{"bare object", `{}`, true},
		{"pretty alert", "{\n  \"agent_id\": \"b1\",\n  \"severity\": 50,\n  \"device\": {\"hostname\": \"srv-1\"}\n}", true},
		{"stream event", `{"metadata":{},"event":{}}`, false},
		{"not an object", `[1]`, false},
		{"duplicate id", `{"composite_id":"dup"}`, true},
		{"duplicate id again", `{"composite_id":"dup"}`, false},
	}
	for _, tt := range tests {
		if err := sim.Inject([]byte(tt.payload)); (err == nil) != tt.ok {
			t.Errorf("%s: Inject = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	ids := sim.AlertIDs()
	if len(ids) != 3 || ids[0] == "" || ids[2] != "dup" {
		t.Fatalf("ids = %q", ids)
	}
	got, err := Decoder{}.Decode(sim.byID[ids[1]].raw)
	if err != nil || got[0].VendorCreated != c.Now() || got[0].Host.ID != "b1" {
		t.Errorf("assigned fields: %+v, %v", got, err)
	}
	if st, ok := sim.DeviceStatus("b1"); !ok || st != StatusNormal {
		t.Errorf("device b1 not learned: %q %v", st, ok)
	}
	d := sim.Describe()
	for _, s := range []string{SimClientID, SimClientSecret, "/oauth2/token", "devices-actions/v2", "srv-1"} {
		if !strings.Contains(d, s) {
			t.Errorf("Describe lacks %q:\n%s", s, d)
		}
	}
}

// TestSimConcurrent exercises the simulator from many goroutines; run with
// -race.
func TestSimConcurrent(t *testing.T) {
	sim := NewSim()
	sim.AddDevice(testAID, "WS-01")
	tok := login(t, sim)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_ = sim.Inject(NewAlert("WS-01", testAID))
			act := []string{"contain", "lift_containment"}[i%2]
			for _, target := range []string{"/alerts/queries/alerts/v2", "/devices/entities/devices-actions/v2?action_name=" + act} {
				method, body := "GET", ""
				if strings.Contains(target, "action") {
					method, body = "POST", `{"ids":["`+testAID+`"]}`
				}
				req := httptest.NewRequest(method, target, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				sim.ServeHTTP(httptest.NewRecorder(), req)
			}
			sim.Calls()
			sim.Ledger()
			sim.Describe()
		})
	}
	wg.Wait()
	if n := len(sim.Ledger()); n != 8 {
		t.Errorf("ledger has %d entries, want 8", n)
	}
}

func strings1(v any) []string {
	out := []string{}
	items, _ := v.([]any)
	for _, it := range items {
		s, _ := it.(string)
		out = append(out, s)
	}
	return out
}

func reverse(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}
