package withsecure

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
)

// rawCall sends one request to the simulator with a User-Agent and
// returns the status.
func rawCall(t *testing.T, base, method, path, token, body string) int {
	t.Helper()
	st, _ := rawDo(t, base, method, path, token, "application/json", body, "bannin-test")
	return st
}

func rawDo(t *testing.T, base, method, path, token, ctype, body, ua string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", ua) // "" sends none
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Transaction") == "" {
		t.Errorf("%s %s: no X-Transaction header", method, path)
	}
	return resp.StatusCode, b
}

// token fetches a token for scopes straight from the simulator.
func token(t *testing.T, base, id, secret, scopes string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scopes}}
	req, _ := http.NewRequest(http.MethodPost, base+pathToken, strings.NewReader(form.Encode()))
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "bannin-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: HTTP %d %v", resp.StatusCode, err)
	}
	if tok.ExpiresIn != 1800 {
		t.Errorf("expires_in = %d, want 1800", tok.ExpiresIn)
	}
	return tok.AccessToken
}

func TestSimRefusals(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testDevice, testHost)
	tok := token(t, cfg.URL, cfg.ClientID, cfg.ClientSecret, ScopeRead+" "+ScopeWrite)
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, path, token, ctype, body, ua string
		want                                       int
	}{
		{"no User-Agent", "POST", pathEvents, tok, form, "limit=10", "", 400},
		{"no token", "POST", pathEvents, "", form, "limit=10", "t", 401},
		{"unknown token", "POST", pathEvents, "ws-sim-999999", form, "limit=10", "t", 401},
		{"JSON body on the list", "POST", pathEvents, tok, "application/json", `{"limit":10}`, "t", 415},
		{"limit over 200", "POST", pathEvents, tok, form, "limit=201", "t", 400},
		{"order desc", "POST", pathEvents, tok, form, "order=desc", "t", 400},
		{"bad start", "POST", pathEvents, tok, form, "persistenceTimestampStart=yesterday", "t", 400},
		{"bad anchor", "POST", pathEvents, tok, form, "anchor=!!", "t", 400},
		{"good list", "POST", pathEvents, tok, form, "limit=200&engineGroup=epp,edr,ecp&order=asc", "t", 200},
		{"unknown operation", "POST", pathOperations, tok, "application/json", `{"operation":"wipe","targets":["x"]}`, "t", 400},
		{"no targets", "POST", pathOperations, tok, "application/json", `{"operation":"isolateFromNetwork","targets":[]}`, "t", 400},
		{"token with wrong secret", "POST", pathToken, "", form, "grant_type=client_credentials", "t", 401},
		{"unknown scope", "POST", pathToken, "", form, "grant_type=client_credentials&scope=connect.api.admin", "t", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.path == pathToken {
				// Basic auth as the form's client_id/secret: the wrong
				// secret case sends a wrong one, the scope case the right one.
				secret := "wrong"
				if tc.want == 400 {
					secret = cfg.ClientSecret
				}
				body += "&client_id=" + url.QueryEscape(cfg.ClientID) + "&client_secret=" + url.QueryEscape(secret)
			}
			st, b := rawDo(t, cfg.URL, tc.method, tc.path, tc.token, tc.ctype, body, tc.ua)
			if st != tc.want {
				t.Errorf("HTTP %d, want %d: %s", st, tc.want, b)
			}
		})
	}
}

// TestSimMultistatusPartialSuccess: two targets, one known and one not; the
// answer is 207 with 202 for one and 404 for the other.
func TestSimMultistatusPartialSuccess(t *testing.T) {
	sim, cfg := startSim(t)
	sim.AddDevice(testDevice, testHost)
	tok := token(t, cfg.URL, cfg.ClientID, cfg.ClientSecret, ScopeRead+" "+ScopeWrite)
	st, b := rawDo(t, cfg.URL, "POST", pathOperations, tok, "application/json",
		`{"operation":"isolateFromNetwork","targets":["`+testDevice+`","missing"],"parameters":{"message":"x (`+KeyMarker+`k9)"}}`, "t")
	if st != http.StatusMultiStatus {
		t.Fatalf("HTTP %d, want 207", st)
	}
	var ms multistatus
	if err := json.Unmarshal(b, &ms); err != nil || len(ms.Multistatus) != 2 {
		t.Fatalf("answer %s: %v", b, err)
	}
	ok, missing := ms.Multistatus[0], ms.Multistatus[1]
	if ok.Status != 202 || ok.OperationID == "" || missing.Status != 404 || missing.Details == "" {
		t.Errorf("entries %+v", ms.Multistatus)
	}
	if !sim.Contained(testDevice) || sim.Contained("missing") || sim.Calls()["k9"] != 1 || len(sim.Ledger()) != 2 {
		t.Errorf("contained %v, calls %v, ledger %d", sim.Contained(testDevice), sim.Calls(), len(sim.Ledger()))
	}
	st, b = rawDo(t, cfg.URL, "GET", pathOperations+"?deviceId="+testDevice, tok, "", "", "t")
	if st != 200 || !strings.Contains(string(b), `"operationName":"isolateFromNetwork"`) || !strings.Contains(string(b), `"status":"finished"`) {
		t.Errorf("operations list: %d %s", st, b)
	}
}

func TestSimRateLimit(t *testing.T) {
	c := conntest.NewClock()
	_, cfg := startSim(t, WithClock(c.Now), WithRateLimit(2, time.Minute))
	var got []int
	for range 3 {
		st, _ := rawDo(t, cfg.URL, "GET", pathDevices, "", "", "", "t")
		got = append(got, st)
	}
	if got[0] != 401 || got[1] != 401 || got[2] != 429 {
		t.Errorf("statuses %v, want 401 401 429", got)
	}
	c.Add(time.Minute)
	if st, _ := rawDo(t, cfg.URL, "GET", pathDevices, "", "", "", "t"); st != 401 {
		t.Errorf("next window: %d, want 401 (past the limit)", st)
	}
}

func TestSimIsRegistered(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	var _ connector.Simulator = v.NewSimulator()
	if v.SeverityScale == "" || v.NewSource == nil || v.NewResponder == nil {
		t.Errorf("registration incomplete: %+v", v)
	}
	sim := NewSim()
	if err := sim.Inject(NewEvent("d1", "H1"), NewEvent("d2", "H2")); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject([]byte(`{"id":"` + sim.EventIDs()[0] + `","persistenceTimestamp":"2026-01-01T00:00:00Z"}`)); err == nil {
		t.Error("a duplicate id was accepted")
	}
	if d := sim.Describe(); !strings.Contains(d, "2 events, 2 devices") {
		t.Errorf("Describe:\n%s", d)
	}
}
