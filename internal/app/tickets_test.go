package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// backupHash is the SHA-256 of the "backup agent" the tests' PCRs allow.
var backupHash = strings.Repeat("b4", 32)

func backupAgent() crowdstrike.AlertOption {
	return crowdstrike.AlertProcess("bkagent.exe", `\Device\HarddiskVolume2\Program Files\Backup\bkagent.exe`,
		`"C:\Program Files\Backup\bkagent.exe" --snapshot`, backupHash)
}

// api calls the REST API with the test token and returns the answer.
type api struct {
	t     *testing.T
	url   string
	token string
}

func (c api) call(method, path, body string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("X-Bannin-User", "alice")
	return do(c.t, req)
}

// want calls the API and fails the test unless the answer has the status
// and contains has.
func (c api) want(code int, method, path, body, has string) reply {
	c.t.Helper()
	r := c.call(method, path, body)
	if r.code != code || !strings.Contains(r.body, has) {
		c.t.Fatalf("%s %s %s = %d %s; want %d containing %q", method, path, body, r.code, r.body, code, has)
	}
	return r
}

func ticketRef(t *testing.T, r reply) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || !strings.HasPrefix(v.ID, "TKT-") {
		t.Fatalf("no ticket id in %s (%v)", r.body, err)
	}
	return v.ID
}

// The ticket API: lifecycle, notes, links, verdicts, PCR apply and refuse;
// another tenant's ticket or incident is not found; and triage honours an
// applied PCR.
func TestTicketAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		const token = "ticket-api-token"
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t), acme(t)}, func(c *app.Config) { c.APIToken = token })
		if r := e.post(t, "hokuto", csAlert("tkt:h:1", "pc-701", backupAgent())); r.code != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
		quiesce(t, e.App)
		inc := onlyIncident(t, e.App, "hokuto")
		c := api{t: t, url: e.URL, token: token}
		const h, ac = "/v1/tenants/hokuto", "/v1/tenants/acme"

		inq := ticketRef(t, c.want(201, "POST", h+"/tickets",
			`{"kind":"inquiry","title":"Is this real?","links":[{"kind":"incident","ref":"`+inc.ID+`"}]}`, inc.ID))
		pcr := ticketRef(t, c.want(201, "POST", h+"/tickets",
			`{"kind":"pcr","title":"Allow the backup agent","pcr":{"sha256":"`+strings.ToUpper(backupHash)+`","reason":"nightly backup"}}`,
			`"state":"received"`))
		checkTicketRefusals(t, c, h, ac, inq, pcr, inc.ID)

		c.want(200, "POST", h+"/tickets/"+inq+"/transition", `{"to":"in_progress"}`, `"state":"in_progress"`)
		c.want(409, "POST", h+"/tickets/"+inq+"/transition", `{"to":"received"}`, "cannot move from in_progress to received")
		c.want(201, "POST", h+"/tickets/"+inq+"/notes", `{"text":"called the customer"}`, "called the customer")
		c.want(200, "GET", h+"/tickets/"+inq, "", "called the customer")
		c.want(200, "GET", h+"/tickets?kind=pcr&state=received", "", pcr)
		if r := c.call("GET", h+"/tickets?kind=pcr", ""); strings.Contains(r.body, inq) {
			t.Errorf("kind filter let the inquiry through: %s", r.body)
		}
		c.want(200, "POST", h+"/incidents/"+inc.ID+"/verdict", `{"verdict":"false_positive","reason":"backup"}`, "false_positive")

		c.want(200, "POST", h+"/tickets/"+pcr+"/apply", "", `"matched_incidents":["`+inc.ID+`"]`)
		c.want(409, "POST", h+"/tickets/"+pcr+"/apply", "", "no longer open")
		c.want(200, "GET", h+"/incidents/"+inc.ID, "", "許可リスト申請 (PCR) "+pcr)
		again := ticketRef(t, c.want(201, "POST", h+"/tickets",
			`{"kind":"pcr","title":"again","pcr":{"sha256":"`+backupHash+`","reason":"r"}}`, ""))
		c.want(409, "POST", h+"/tickets/"+again+"/apply", "", "already allowlisted")
		c.want(400, "POST", h+"/tickets/"+again+"/refuse", `{"reason":" "}`, "needs a reason")
		c.want(200, "POST", h+"/tickets/"+again+"/refuse", `{"reason":"already allowlisted by `+pcr+`"}`, `"state":"refused"`)

		// The applied PCR suppresses the next alert of the agent, naming the ticket.
		if r := e.post(t, "hokuto", csAlert("tkt:h:2", "pc-702", backupAgent())); r.code != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
		quiesce(t, e.App)
		var disp, reason string
		err := e.App.DB.SQL().QueryRowContext(context.Background(),
			`SELECT disposition, reason FROM alerts WHERE tenant=$1 AND vendor_id=$2`, "hokuto", "tkt:h:2").Scan(&disp, &reason)
		if err != nil || disp != "suppressed" || !strings.Contains(reason, pcr) {
			t.Errorf("alert after the PCR: %s %q (%v); want suppressed naming %s", disp, reason, err, pcr)
		}
	})
}

// checkTicketRefusals: bad input is 400, another tenant's ticket or
// incident 404, and nothing changes.
func checkTicketRefusals(t *testing.T, c api, h, ac, inq, pcr, incident string) {
	t.Helper()
	c.want(400, "POST", h+"/tickets", `{"kind":"complaint","title":"x"}`, "ticket kind")
	c.want(400, "POST", h+"/tickets", `{"kind":"pcr","title":"x","pcr":{"sha256":"zz","reason":"r"}}`, "64 hex digits")
	c.want(400, "POST", h+"/tickets", `{"kind":"inquiry","title":"x","bogus":1}`, "unknown field")
	c.want(400, "GET", h+"/tickets?state=done", "", "ticket state")
	c.want(400, "POST", h+"/tickets/"+inq+"/transition", `{"to":"done"}`, "ticket state")
	c.want(400, "POST", h+"/tickets/"+inq+"/notes", `{"text":""}`, "needs text")
	c.want(409, "POST", h+"/tickets/"+pcr+"/transition", `{"to":"resolved"}`, "resolved by applying it")
	c.want(400, "POST", h+"/incidents/"+incident+"/verdict", `{"verdict":"benign"}`, "verdict")
	c.want(404, "GET", h+"/tickets/TKT-999999", "", "not found")

	c.want(404, "POST", ac+"/tickets", `{"kind":"incident","title":"steal","links":[{"kind":"incident","ref":"`+incident+`"}]}`, "not found")
	c.want(404, "POST", ac+"/tickets", `{"kind":"incident","title":"steal","links":[{"kind":"alert","ref":"tkt:h:1"}]}`, "not found")
	for _, p := range []struct{ method, path, body string }{
		{"GET", "/tickets/" + inq, ""},
		{"POST", "/tickets/" + inq + "/transition", `{"to":"in_progress"}`},
		{"POST", "/tickets/" + inq + "/notes", `{"text":"x"}`},
		{"POST", "/tickets/" + inq + "/links", `{"kind":"incident","ref":"` + incident + `"}`},
		{"POST", "/tickets/" + pcr + "/apply", ""},
		{"POST", "/tickets/" + pcr + "/refuse", `{"reason":"no"}`},
		{"POST", "/incidents/" + incident + "/verdict", `{"verdict":"true_positive"}`},
	} {
		c.want(404, p.method, ac+p.path, p.body, "not found")
	}
	if r := c.want(200, "GET", ac+"/tickets", "", `"tickets":[`); strings.Contains(r.body, inq) || strings.Contains(r.body, pcr) {
		t.Errorf("acme's list shows hokuto's tickets: %s", r.body)
	}
	c.want(200, "GET", h+"/tickets/"+inq, "", `"state":"received"`)
	c.want(200, "GET", h+"/tickets/"+pcr, "", `"state":"received"`)
}
