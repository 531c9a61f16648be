package cybereason

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// simClient logs in to a served simulator the way a browser or Python
// requests does (following the redirect, keeping the cookie).
func simClient(t *testing.T, sim *Sim, base string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	user, pw := sim.Credentials()
	resp, err := hc.PostForm(base+pathLogin, url.Values{"username": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	return hc
}

func post(t *testing.T, hc *http.Client, u, body string) (int, string) {
	t.Helper()
	resp, err := hc.Post(u, contentTypeJSON, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSimLogin(t *testing.T) {
	sim, cfg := startSim(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		name, user, pw, loc string
		cookie              bool
	}{
		{"good", cfg.ClientID, cfg.ClientSecret, "/", true},
		{"bad password", cfg.ClientID, "nope", "/login.html?error", false},
		{"no user", "", "", "/login.html?error", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := noRedirect.PostForm(cfg.URL+pathLogin, url.Values{"username": {tc.user}, "password": {tc.pw}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := false
			for _, c := range resp.Cookies() {
				got = got || c.Name == SessionCookie && c.Value != ""
			}
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.loc || got != tc.cookie {
				t.Errorf("%s to %q, cookie %v", resp.Status, resp.Header.Get("Location"), got)
			}
		})
	}
	if n := sim.Sessions().Issued(); n != 1 {
		t.Errorf("%d sessions issued, want 1", n)
	}
	// Without a session a REST call is sent to the login page.
	resp, err := noRedirect.Post(cfg.URL+pathInbox, contentTypeJSON, strings.NewReader(`{"startTime":0,"endTime":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != pathLogin {
		t.Errorf("REST without session: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}

// TestSimInbox takes the corpus-shaped MalOp as it is and answers the
// inbox window inclusively; bad queries are 400s.
func TestSimInbox(t *testing.T) {
	sim, cfg := startSim(t)
	payload, err := os.ReadFile(filepath.Join("testdata", "malop_two_machines.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject(payload); err != nil {
		t.Fatal(err)
	}
	hc := simClient(t, sim, cfg.URL)
	for _, tc := range []struct {
		name, body string
		status, n  int
	}{
		{"window holds it", `{"startTime":1767229200456,"endTime":1767229200456}`, 200, 1},
		{"window before", `{"startTime":0,"endTime":1767229200455}`, 200, 0},
		{"window after", `{"startTime":1767229200457,"endTime":1867229200457}`, 200, 0},
		{"no endTime", `{"startTime":0}`, 400, 0},
		{"reversed", `{"startTime":5,"endTime":4}`, 400, 0},
		{"not JSON", `{`, 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, hc, cfg.URL+pathInbox, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status != 200 {
				return
			}
			var ans struct {
				Malops []json.RawMessage `json:"malops"`
			}
			if err := json.Unmarshal([]byte(body), &ans); err != nil || len(ans.Malops) != tc.n {
				t.Errorf("%d MalOps, want %d (%v)", len(ans.Malops), tc.n, err)
			}
		})
	}
	if err := sim.Inject([]byte(`[1]`)); err == nil {
		t.Error("a non-object was injected")
	}
}

// TestSimSensors: machines of injected MalOps become sensors, with the
// MalOp's isolated and connected flags; filters and paging work.
func TestSimSensors(t *testing.T) {
	sim, cfg := startSim(t)
	payload, _ := os.ReadFile(filepath.Join("testdata", "malop_two_machines.json"))
	if err := sim.Inject(payload); err != nil {
		t.Fatal(err)
	}
	sim.AddDevice("g3", "extra")
	if !sim.Contained("-576472001.1198775089551518743") || sim.Contained("g3") || !sim.Contained("fin-srv-07.corp.example") {
		t.Error("Contained does not follow the MalOp's isolated flag")
	}
	hc := simClient(t, sim, cfg.URL)
	for _, tc := range []struct {
		name, body string
		n, total   int
		status     string
	}{
		{"all", `{"limit":10,"offset":0,"filters":[]}`, 3, 3, ""},
		{"page", `{"limit":2,"offset":2,"filters":[]}`, 1, 3, ""},
		{"by name", `{"limit":10,"filters":[{"fieldName":"machineName","operator":"Equals","values":["fin-ws-042"]}]}`, 1, 1, SensorOnline},
		{"offline", `{"limit":10,"filters":[{"fieldName":"guid","operator":"Equals","values":["-576472001.1198775089551518743"]}]}`, 1, 1, SensorOffline},
		{"contains", `{"limit":10,"filters":[{"fieldName":"machineName","operator":"ContainsIgnoreCase","values":["FIN"]}]}`, 2, 2, ""},
		{"unknown field", `{"limit":10,"filters":[{"fieldName":"colour","operator":"Equals","values":["x"]}]}`, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, hc, cfg.URL+pathSensors, tc.body)
			var ans struct {
				Sensors      []sensorJSON `json:"sensors"`
				TotalResults int          `json:"totalResults"`
			}
			if status != 200 || json.Unmarshal([]byte(body), &ans) != nil {
				t.Fatalf("%d %s", status, body)
			}
			if len(ans.Sensors) != tc.n || ans.TotalResults != tc.total {
				t.Errorf("%d sensors of %d, want %d of %d", len(ans.Sensors), ans.TotalResults, tc.n, tc.total)
			}
			if tc.status != "" && (len(ans.Sensors) == 0 || ans.Sensors[0].Status != tc.status || !strings.HasPrefix(ans.Sensors[0].PylumID, "PYLUMCLIENT_")) {
				t.Errorf("sensor %+v, want status %s", ans.Sensors, tc.status)
			}
		})
	}
}

// TestSimCommandPartial: one call for two sensors, one offline and one
// unknown besides: the answer says per sensor.
func TestSimCommandPartial(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice("g1", "one")
	sim.AddDevice("g2", "two")
	sim.SetOnline("g2", false)
	hc := simClient(t, sim, cfg.URL)
	p1, p2 := PylumID("g1", "one"), PylumID("g2", "two")
	status, body := post(t, hc, cfg.URL+pathIsolate, `{"pylumIds":["`+p1+`","`+p2+`","PYLUM_NOPE"],"malopId":"m"}`)
	var ans map[string]string
	if status != 200 || json.Unmarshal([]byte(body), &ans) != nil {
		t.Fatalf("%d %s", status, body)
	}
	want := map[string]string{p1: CommandSucceeded, p2: CommandFailed, "PYLUM_NOPE": CommandFailed}
	for k, v := range want {
		if ans[k] != v {
			t.Errorf("%s: %q, want %q", k, ans[k], v)
		}
	}
	if !sim.Contained("g1") || sim.Contained("g2") {
		t.Error("contained state wrong")
	}
	if status, _ := post(t, hc, cfg.URL+pathIsolate, `{"pylumIds":[]}`); status != 400 {
		t.Errorf("empty pylumIds: %d, want 400", status)
	}
	if e := sim.Ledger(); len(e) != 1 || e[0].Action != "isolate" || e[0].HostID != "g1" {
		t.Errorf("ledger %+v", e)
	}
	if !strings.Contains(sim.Describe(), p1) {
		t.Error("Describe does not list the sensors")
	}
}

// TestSimFailNext: injected failures hit REST calls, not the login, and
// run out.
func TestSimFailNext(t *testing.T) {
	sim, cfg := startSim(t, WithRetryAfter(3*time.Second))
	hc := simClient(t, sim, cfg.URL)
	sim.FailNext(1, http.StatusTooManyRequests)
	resp, err := hc.Post(cfg.URL+pathInbox, contentTypeJSON, strings.NewReader(`{"startTime":0,"endTime":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("%s Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	if status, _ := post(t, hc, cfg.URL+pathInbox, `{"startTime":0,"endTime":1}`); status != 200 {
		t.Errorf("after the failure: %d", status)
	}
	if status, _ := post(t, hc, cfg.URL+"/rest/nope", `{}`); status != 404 {
		t.Errorf("unknown path: %d", status)
	}
}
