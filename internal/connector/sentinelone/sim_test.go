package sentinelone

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// get calls the simulator as a raw HTTP client would.
func get(t *testing.T, sim *Sim, target, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "ApiToken "+token)
	}
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	var body map[string]any
	b, _ := io.ReadAll(w.Result().Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: answer is not JSON: %s", target, b)
	}
	return w.Code, w.Result().Header, body
}

func TestSimAuth(t *testing.T) {
	sim := NewSim()
	for _, h := range []string{"", "Bearer " + SimToken, "ApiToken wrong"} {
		req := httptest.NewRequest(http.MethodGet, pathThreats, nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: HTTP %d, want 401", h, w.Code)
		}
	}
	if id, secret := sim.Credentials(); id != "" || secret != SimToken {
		t.Errorf("Credentials = %q, %q", id, secret)
	}
}

// TestSimAlertsPaging pages through the cloud-detection alerts list with
// nextCursor until it is null.
func TestSimAlertsPaging(t *testing.T) {
	sim := NewSim()
	var want []string
	for i := range 5 {
		id := "20874000000000001" + string(rune('0'+i)) + "0"
		payload := `{"alertInfo":{"alertId":"` + id + `","createdAt":"2026-03-02T05:00:0` + string(rune('0'+i)) + `Z"},` +
			`"ruleInfo":{"severity":"High","name":"r"},"agentRealtimeInfo":{"id":"` + testAgent + `","name":"WS-01"}}`
		if err := sim.Inject([]byte(payload)); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var got []string
	cursor := ""
	for range 10 {
		q := url.Values{"limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		code, _, body := get(t, sim, pathAlerts+"?"+q.Encode(), SimToken)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %v", code, body)
		}
		for _, d := range body["data"].([]any) {
			got = append(got, d.(map[string]any)["alertInfo"].(map[string]any)["alertId"].(string))
		}
		pg := body["pagination"].(map[string]any)
		if pg["totalItems"].(float64) != 5 {
			t.Errorf("totalItems = %v, want 5", pg["totalItems"])
		}
		next, _ := pg["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alert ids (-want +got):\n%s", diff)
	}
	// createdAt__gt filters.
	_, _, body := get(t, sim, pathAlerts+"?createdAt__gt=2026-03-02T05:00:02Z", SimToken)
	if n := len(body["data"].([]any)); n != 2 {
		t.Errorf("createdAt__gt: %d alerts, want 2", n)
	}
}

func TestSimFailNext(t *testing.T) {
	sim := NewSim()
	sim.FailNext(2, http.StatusTooManyRequests)
	for range 2 {
		code, h, body := get(t, sim, pathThreats, SimToken)
		if code != http.StatusTooManyRequests || h.Get("Retry-After") != "2" {
			t.Errorf("HTTP %d, Retry-After %q; want 429 with 2", code, h.Get("Retry-After"))
		}
		if _, ok := body["errors"]; !ok {
			t.Errorf("429 body has no errors: %v", body)
		}
	}
	if code, _, _ := get(t, sim, pathThreats, SimToken); code != http.StatusOK {
		t.Errorf("third call: HTTP %d, want 200", code)
	}
}

func TestSimAgents(t *testing.T) {
	sim := NewSim()
	sim.AddDevice(testAgent, "WS-01")
	_, _, body := get(t, sim, pathAgents+"?ids="+testAgent+",1999999999999999999", SimToken)
	data := body["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["networkStatus"] != NetConnected {
		t.Errorf("agents = %v; want one connected agent", data)
	}
	// An empty filter would act on every agent: refused.
	req := httptest.NewRequest(http.MethodPost, pathDisconnect, strings.NewReader(`{"filter":{},"data":{}}`))
	req.Header.Set("Authorization", "ApiToken "+SimToken)
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest || sim.Contained(testAgent) {
		t.Errorf("empty filter: HTTP %d, contained %v; want 400 and nothing done", w.Code, sim.Contained(testAgent))
	}
}

func TestSimInjectRejects(t *testing.T) {
	sim := NewSim()
	if err := sim.Inject([]byte(`{"hello":1}`)); err == nil {
		t.Error("Inject took an object that is neither a threat nor an alert")
	}
	p := NewThreat("WS-01", testAgent, ThreatID("2087361155048800311"))
	if err := sim.Inject(p); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject(p); err == nil {
		t.Error("Inject took the same threat id twice")
	}
}
