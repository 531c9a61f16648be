package trellixhx

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// send makes one raw request to the simulator and returns the status, the
// headers and the decoded body (nil when empty).
func send(t *testing.T, sim *Sim, method, target, token string, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if token != "" {
		r.Header.Set(TokenHeader, token)
	}
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	var m map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, target, w.Body.String())
		}
	}
	return w.Code, w.Header(), m
}

// login opens a session with the simulator's credentials.
func login(t *testing.T, sim *Sim) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, pathToken, nil)
	r.SetBasicAuth(sim.Credentials())
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	tok := w.Header().Get(TokenHeader)
	if w.Code != http.StatusNoContent || tok == "" {
		t.Fatalf("login: HTTP %d, token %q", w.Code, tok)
	}
	return tok
}

func TestSimAuth(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now), WithCredentials("u", "p"))
	if code, _, _ := send(t, sim, "GET", pathToken, "", ""); code != http.StatusUnauthorized {
		t.Errorf("login without Basic auth: HTTP %d, want 401", code)
	}
	r := httptest.NewRequest(http.MethodGet, pathToken, nil)
	r.SetBasicAuth("u", "wrong")
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || w.Header().Get(TokenHeader) != "" {
		t.Errorf("wrong password: HTTP %d with token %q", w.Code, w.Header().Get(TokenHeader))
	}
	tok := login(t, sim)
	for _, tc := range []struct {
		name, token string
		advance     time.Duration
		want        int
	}{
		{"no token", "", 0, http.StatusUnauthorized},
		{"unknown token", "hxsim-999999", 0, http.StatusUnauthorized},
		{"session token", tok, 0, http.StatusOK},
		{"used 14 minutes later", tok, 14 * time.Minute, http.StatusOK},
		{"used 14 minutes after that", tok, 14 * time.Minute, http.StatusOK},
		{"idle 15 minutes", tok, 15 * time.Minute, http.StatusUnauthorized},
	} {
		c.Add(tc.advance)
		if code, _, _ := send(t, sim, "GET", pathAlerts, tc.token, ""); code != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, code, tc.want)
		}
	}
	tok = login(t, sim)
	if code, _, _ := send(t, sim, "DELETE", pathToken, tok, ""); code != http.StatusNoContent {
		t.Errorf("logout: HTTP %d", code)
	}
	if code, _, _ := send(t, sim, "GET", pathAlerts, tok, ""); code != http.StatusUnauthorized {
		t.Errorf("after logout: HTTP %d, want 401", code)
	}
}

func TestSimAlertsList(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now))
	ids := inject(t, sim, c, 5, time.Second)
	tok := login(t, sim)
	from, _ := json.Marshal(filter{Operator: "gte", Field: "reported_at", Arg: []string{"2026-03-01T10:00:02Z"}})
	after, _ := json.Marshal(filter{Operator: "gt", Field: "reported_at", Arg: []string{"2026-03-01T10:00:02Z"}})
	for _, tc := range []struct {
		name, query string
		want        int
		first       string
		total       float64
	}{
		{"all", "", 200, ids[0], 5},
		{"page 2", "offset=2&limit=2&sort=" + url.QueryEscape(sortReported), 200, ids[2], 5},
		{"past the end", "offset=9", 200, "", 5},
		{"gte", "filterQuery=" + url.QueryEscape(string(from)), 200, ids[2], 3},
		{"gt", "filterQuery=" + url.QueryEscape(string(after)), 200, ids[3], 2},
		{"bad limit", "limit=0", 400, "", 0},
		{"limit too big", "limit=1001", 400, "", 0},
		{"bad offset", "offset=-1", 400, "", 0},
		{"other sort", "sort=" + url.QueryEscape("_id descending"), 400, "", 0},
		{"bad filter", "filterQuery=" + url.QueryEscape(`{"operator":"eq","field":"source","arg":["IOC"]}`), 400, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := send(t, sim, "GET", pathAlerts+"?"+tc.query, tok, "")
			if code != tc.want {
				t.Fatalf("HTTP %d, want %d: %v", code, tc.want, body)
			}
			if code != 200 {
				if body["message"] == nil || body["details"] == nil {
					t.Errorf("error answer %v lacks HX's message/details", body)
				}
				return
			}
			data := body["data"].(map[string]any)
			entries := data["entries"].([]any)
			if data["total"] != tc.total || body["message"] != "OK" {
				t.Errorf("total %v message %v, want %v OK", data["total"], body["message"], tc.total)
			}
			first := ""
			if len(entries) > 0 {
				first = jsonID(entries[0].(map[string]any)["_id"])
			}
			if first != tc.first {
				t.Errorf("first entry %q, want %q", first, tc.first)
			}
		})
	}
	code, _, body := send(t, sim, "GET", pathAlerts+"/"+ids[1], tok, "")
	if code != 200 || jsonID(body["data"].(map[string]any)["_id"]) != ids[1] {
		t.Errorf("GET alert %s: HTTP %d %v", ids[1], code, body)
	}
	if code, _, _ := send(t, sim, "GET", pathAlerts+"/404", tok, ""); code != http.StatusNotFound {
		t.Errorf("GET unknown alert: HTTP %d", code)
	}
}

func jsonID(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func TestSimContainment(t *testing.T) {
	sim := NewSim()
	sim.AddDevice(testAgent, testHost)
	tok := login(t, sim)
	p := pathHosts + testAgent + "/containment"
	for _, tc := range []struct {
		method, path, body string
		want               int
		state              string
	}{
		{"GET", pathHosts + "nope/containment", "", 404, StateNormal},
		{"PATCH", p, `{"state":"contain"}`, 409, StateNormal}, // nothing to approve
		{"DELETE", p, "", 409, StateNormal},
		{"POST", p, "", 202, StateContainRequested},
		{"POST", p, "", 409, StateContainRequested},
		{"GET", p, "", 200, StateContainRequested},
		{"PATCH", p, `{"state":"uncontain"}`, 400, StateContainRequested},
		{"PATCH", p, `{"state":"contain"}`, 200, StateContained},
		{"DELETE", p, "", 200, StateNormal},
	} {
		code, _, body := send(t, sim, tc.method, tc.path, tok, tc.body)
		if code != tc.want || sim.State(testAgent) != tc.state {
			t.Errorf("%s %s %s: HTTP %d state %s, want %d %s (%v)", tc.method, tc.path, tc.body, code, sim.State(testAgent), tc.want, tc.state, body)
		}
		if code == 200 && tc.method == "GET" && body["data"].(map[string]any)["state"] != tc.state {
			t.Errorf("GET state %v, want %s", body["data"], tc.state)
		}
	}
	// Without an idempotency key calls count per action and host.
	if got := sim.Calls(); got["contain:"+testAgent] != 1 || got["approve:"+testAgent] != 1 || got["uncontain:"+testAgent] != 1 {
		t.Errorf("calls %v", got)
	}
}

func TestSimFailNext(t *testing.T) {
	sim := NewSim(WithRetryAfter(5 * time.Second))
	sim.FailNext(2, http.StatusTooManyRequests)
	for range 2 {
		code, h, body := send(t, sim, "GET", pathToken, "", "")
		if code != 429 || h.Get("Retry-After") != "5" || body["message"] == nil {
			t.Errorf("HTTP %d Retry-After %q %v", code, h.Get("Retry-After"), body)
		}
	}
	login(t, sim)
	if sim.Requests() != 3 {
		t.Errorf("%d requests counted, want 3", sim.Requests())
	}
}

func TestSimInject(t *testing.T) {
	c := conntest.NewClock()
	sim := NewSim(WithClock(c.Now))
	for _, tc := range []struct {
		name, payload, says string
	}{
		{"not JSON", `nope`, "{"},
		{"no agent", `{"_id":1,"source":"IOC"}`, "agent._id"},
		{"EDR cloud event", `{"_eventId":"e","_deviceId":"d","_eventType":"File Deleted"}`, "agent._id"},
	} {
		if err := sim.Inject([]byte(tc.payload)); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: err %v, want one saying %q", tc.name, err, tc.says)
		}
	}
	kept := `{"_id":77,"agent":{"_id":"h1","containment_state":"contained"},"source":"MAL","reported_at":"2026-01-01T00:00:00.000Z"}`
	if err := sim.Inject([]byte(kept)); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject([]byte(kept)); err == nil {
		t.Error("a duplicate _id was accepted")
	}
	if err := sim.Inject(NewAlert(testHost, testAgent)); err != nil {
		t.Fatal(err)
	}
	if got := sim.AlertIDs(); len(got) != 2 || got[0] != "77" {
		t.Errorf("ids %v: want the older 77 first", got)
	}
	if !sim.Contained("h1") || sim.State(testAgent) != StateNormal {
		t.Errorf("learned states: h1 %s, %s %s", sim.State("h1"), testAgent, sim.State(testAgent))
	}
	if d := sim.Describe(); !strings.Contains(d, testAgent) || !strings.Contains(d, "2 alerts") {
		t.Errorf("Describe:\n%s", d)
	}
}
