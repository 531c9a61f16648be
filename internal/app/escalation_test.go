package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/notify/smtpsink"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// escYAML escalates high incidents: the IT list first, the CISO (in
// Japanese) after 10 minutes, the boss 20 minutes later but only in office
// hours; SLO warnings go to the SOC desk.
const escYAML = `id: esc
name: Escalation Test Co
language: en
timezone: Asia/Tokyo
sources:
  - name: falcon
    vendor: crowdstrike
    webhook_secret_file: esc.hook
contacts:
  it-ml: {email: it@esc.example}
  ciso: {email: ciso@esc.example, language: ja}
  boss: {email: boss@esc.example}
  soc: {email: soc@esc.example}
notify:
  - severities: [emergency, critical, high]
    to: [{contact: it-ml, via: email}]
    escalate:
      - after: 10m
        to: [{contact: ciso, via: email}]
      - after: 20m
        to: [{contact: boss, via: email}]
        hours: "weekdays 09:00-18:00"
slo:
  warn_to: [{contact: soc, via: email}]
`

func escTenant(t *testing.T, extra string) *tenant.Tenant {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "esc.hook"), []byte("esc-hook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(path, []byte(escYAML+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		t.Fatalf("load tenant: %v", err)
	}
	return tn
}

// fakeClock is a settable clock for the App.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// mailsTo returns the mails the sink has for one address.
func mailsTo(sink *smtpsink.Sink, addr string) []smtpsink.Received {
	var out []smtpsink.Received
	for _, m := range sink.Messages() {
		if len(m.To) == 1 && m.To[0] == addr {
			out = append(out, m)
		}
	}
	return out
}

// waitMails waits until addr has n mails, running sweep meanwhile (which
// may find another node's — here the App's own loop's — lease and skip).
func waitMails(t *testing.T, e *env, sink *smtpsink.Sink, addr string, n int, sweep func(context.Context) (bool, error)) []smtpsink.Received {
	t.Helper()
	waitFor(t, 30*time.Second, func() error {
		if _, err := sweep(context.Background()); err != nil {
			t.Fatalf("sweep: %v", err)
		}
		if got := len(mailsTo(sink, addr)); got != n {
			return fmt.Errorf("%d mails to %s, want %d", got, addr, n)
		}
		return nil
	})
	return mailsTo(sink, addr)
}

// sweepOnce runs a sweep until it holds the lease once, then lets the jobs
// it queued finish.
func sweepOnce(t *testing.T, e *env, sweep func(context.Context) (bool, error)) {
	t.Helper()
	waitFor(t, 30*time.Second, func() error {
		ran, err := sweep(context.Background())
		if err != nil {
			t.Fatalf("sweep: %v", err)
		}
		if !ran {
			return fmt.Errorf("the sweep's lease is held")
		}
		return nil
	})
	quiesce(t, e.App)
}

var ackLink = regexp.MustCompile(`http://bannin\.test/v1/ack\?\S+`)

// TestEscalationChain: nobody acknowledges the first notice, so 10 minutes
// later the chain mails the CISO in Japanese, once however often it is
// swept; the CISO opens the signed link (which changes nothing), then
// acknowledges: the chain stops, the first-response clock stops, and a
// forged or expired link is refused with nothing changed.
func TestEscalationChain(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		sink, withMail := withSink(t)
		clk := &fakeClock{now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)} // Monday 10:00 in Tokyo
		e := start(t, b.fresh(t), []*tenant.Tenant{escTenant(t, "")}, withMail,
			func(c *app.Config) { c.Clock, c.PublicURL = clk.Now, "http://bannin.test" })
		if r := e.post(t, "esc", csAlert("esc:1", "pc-101", high())); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		first := waitMails(t, e, sink, "it@esc.example", 1, e.App.Escalation.SweepEscalations)
		if !strings.Contains(first[0].Text, "http://bannin.test/v1/ack?") {
			t.Errorf("the first notice has no acknowledgement link:\n%s", first[0].Text)
		}
		// The IT list reads English: its link's page is in English.
		enLink := strings.Replace(ackLink.FindString(first[0].Text), "http://bannin.test", e.URL, 1)
		if r := httpGet(t, enLink); r.code != http.StatusOK || !strings.Contains(r.body, ">Acknowledge</button>") ||
			!strings.Contains(r.body, "Tell the SOC that you, it-ml, have taken this incident in hand") {
			t.Errorf("English acknowledgement page: %d\n%s", r.code, r.body)
		}
		in := onlyIncident(t, e.App, "esc")
		id, _ := ticket.ParseRef(in.ID)

		clk.Advance(9*time.Minute + 59*time.Second)
		sweepOnce(t, e, e.App.Escalation.SweepEscalations)
		if n := len(mailsTo(sink, "ciso@esc.example")); n != 0 {
			t.Fatalf("%d mails to the CISO before the step's 10 minutes", n)
		}
		clk.Advance(time.Second)
		ciso := waitMails(t, e, sink, "ciso@esc.example", 1, e.App.Escalation.SweepEscalations)
		sweepOnce(t, e, e.App.Escalation.SweepEscalations)
		sweepOnce(t, e, e.App.Escalation.SweepEscalations)
		if n := len(mailsTo(sink, "ciso@esc.example")); n != 1 {
			t.Errorf("%d mails to the CISO after three sweeps, want 1", n)
		}
		m := ciso[0]
		if !strings.Contains(m.Subject, "[エスカレーション]") || !strings.Contains(m.Text, "まだ確認されていない") {
			t.Errorf("escalation mail to the CISO not in Japanese:\n%s\n%s", m.Subject, m.Text)
		}
		link := ackLink.FindString(m.Text)
		if link == "" {
			t.Fatalf("no acknowledgement link in the escalation mail:\n%s", m.Text)
		}
		local := strings.Replace(link, "http://bannin.test", e.URL, 1)

		// Opening the link shows the button and changes nothing.
		page := httpGet(t, local)
		if page.code != http.StatusOK || !strings.Contains(page.body, `id="ack"`) || !strings.Contains(page.body, "確認済みにする") {
			t.Fatalf("GET link: %d\n%s", page.code, page.body)
		}
		if ack, _ := e.App.DB.IncidentAck(context.Background(), "esc", id); ack != nil {
			t.Fatalf("opening the link acknowledged: %+v", ack)
		}
		u, _ := url.Parse(local)
		tok := u.Query().Get("t")
		forged := tok[:len(tok)-2] + flip(tok[len(tok)-2:])
		if r := httpPostForm(t, e.URL+"/v1/ack", url.Values{"t": {forged}}); r.code != http.StatusForbidden ||
			!strings.Contains(r.body, "このリンクは無効です") || !strings.Contains(r.body, "This link is not valid") {
			t.Errorf("forged link: %d\n%s", r.code, r.body)
		}
		if ack, _ := e.App.DB.IncidentAck(context.Background(), "esc", id); ack != nil {
			t.Fatalf("a forged link acknowledged: %+v", ack)
		}

		r := httpPostForm(t, e.URL+"/v1/ack", url.Values{"t": {tok}, "via": {"email"}})
		if r.code != http.StatusOK || !strings.Contains(r.body, "確認済みにしました") {
			t.Fatalf("acknowledge: %d\n%s", r.code, r.body)
		}
		ack, err := e.App.DB.IncidentAck(context.Background(), "esc", id)
		if err != nil || ack == nil || ack.By != "ciso" || ack.Via != "email" {
			t.Fatalf("ack = %+v, %v; want by ciso via email", ack, err)
		}

		// The chain stops: the boss's step (30 min, office hours) never comes.
		clk.Advance(40 * time.Minute)
		sweepOnce(t, e, e.App.Escalation.SweepEscalations)
		if n := len(mailsTo(sink, "boss@esc.example")); n != 0 {
			t.Errorf("%d mails to the boss after the acknowledgement", n)
		}
		steps, err := e.App.DB.EscalationSteps(context.Background(), "esc", id)
		if err != nil || len(steps) != 1 || steps[0].Outcome != escalation.StepNotified || !steps[0].Due.Equal(clk.Now().Add(-40*time.Minute)) {
			t.Errorf("steps = %+v, %v; want the CISO's only, due at 10 minutes", steps, err)
		}
		// The CISO's acknowledgement is the customer's: it does not count
		// as the SOC's first response.
		view, err := e.App.View.IncidentView(context.Background(), "esc", id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range view.Clocks {
			if c.Name == slo.ClockFirstResponse && c.Stopped != nil {
				t.Errorf("first-response clock %+v: stopped by the customer's acknowledgement", c)
			}
		}
		if again := httpPostForm(t, e.URL+"/v1/ack", url.Values{"t": {tok}}); again.code != http.StatusOK ||
			!strings.Contains(again.body, "確認済みです") {
			t.Errorf("second acknowledgement: %d\n%s", again.code, again.body)
		}

		clk.Advance(8 * 24 * time.Hour)
		if r := httpGet(t, local); r.code != http.StatusGone || !strings.Contains(r.body, "has expired") {
			t.Errorf("expired link: %d\n%s", r.code, r.body)
		}
	})
}

// TestEscalationOutsideHours: a chain that starts on a Saturday skips the
// office-hours step, with an audit entry saying so, and notifies nobody.
func TestEscalationOutsideHours(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		sink, withMail := withSink(t)
		clk := &fakeClock{now: time.Date(2026, 3, 7, 1, 0, 0, 0, time.UTC)} // Saturday 10:00 in Tokyo
		e := start(t, b.fresh(t), []*tenant.Tenant{escTenant(t, "")}, withMail,
			func(c *app.Config) { c.Clock, c.PublicURL = clk.Now, "http://bannin.test" })
		if r := e.post(t, "esc", csAlert("esc:sat", "pc-102", high())); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		waitMails(t, e, sink, "it@esc.example", 1, e.App.Escalation.SweepEscalations)
		clk.Advance(31 * time.Minute)
		waitMails(t, e, sink, "ciso@esc.example", 1, e.App.Escalation.SweepEscalations)
		sweepOnce(t, e, e.App.Escalation.SweepEscalations)
		if n := len(mailsTo(sink, "boss@esc.example")); n != 0 {
			t.Errorf("%d mails to the boss on a Saturday", n)
		}
		id, _ := ticket.ParseRef(onlyIncident(t, e.App, "esc").ID)
		steps, err := e.App.DB.EscalationSteps(context.Background(), "esc", id)
		if err != nil || len(steps) != 2 || steps[1].Outcome != escalation.StepSkippedHours {
			t.Errorf("steps = %+v, %v; want the CISO notified and the boss skipped", steps, err)
		}
		if got := auditCount(t, e.App, "esc", "escalation.skipped"); got != 1 {
			t.Errorf("%d escalation.skipped audit entries, want 1", got)
		}
	})
}

// TestSLOWarnings: the first-response clock (60 min for this P2) warns the
// SOC desk at 50 % and 80 % of its budget and reports the breach, each
// once; an incident in an excluded period raises nothing.
func TestSLOWarnings(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		sink, withMail := withSink(t)
		clk := &fakeClock{now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}
		e := start(t, b.fresh(t), []*tenant.Tenant{escTenant(t, "")}, withMail,
			func(c *app.Config) { c.Clock = clk.Now })
		if r := e.post(t, "esc", csAlert("slo:1", "pc-201", high())); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		waitMails(t, e, sink, "it@esc.example", 1, e.App.Escalation.SweepSLO)
		in := onlyIncident(t, e.App, "esc")
		budget := 60 * time.Minute
		if in.Priority == "P0" {
			budget = 10 * time.Minute
		}
		steps := []struct {
			at      time.Duration
			mails   int
			subject string
		}{
			{budget * 49 / 100, 0, ""},
			{budget / 2, 1, "[SLO warning]"},
			{budget * 8 / 10, 2, "[SLO warning]"},
			{budget + time.Second, 3, "[SLO breach]"},
		}
		start := clk.Now()
		for _, s := range steps {
			clk.Advance(start.Add(s.at).Sub(clk.Now()))
			sweepOnce(t, e, e.App.Escalation.SweepSLO)
			sweepOnce(t, e, e.App.Escalation.SweepSLO)
			got := waitMails(t, e, sink, "soc@esc.example", s.mails, e.App.Escalation.SweepSLO)
			if s.mails > 0 && !strings.Contains(got[s.mails-1].Subject, s.subject) {
				t.Errorf("at %s: subject %q, want %s", s.at, got[s.mails-1].Subject, s.subject)
			}
		}
		sigs, err := e.App.DB.Signals(context.Background(), "esc", in.ID)
		if err != nil || len(sigs) != 3 {
			t.Errorf("signals = %+v, %v; want 50, 80 and the breach", sigs, err)
		}
		if got := auditCount(t, e.App, "esc", "slo.breach"); got != 1 {
			t.Errorf("%d slo.breach audit entries, want 1", got)
		}
	})
}

// TestSLOExcluded: an incident first seen in an excluded period (an initial
// full-disk scan) raises no warning, and its clocks say why.
func TestSLOExcluded(t *testing.T) {
	t.Parallel()
	sink, withMail := withSink(t)
	clk := &fakeClock{now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}
	tn := escTenant(t, "  exclude:\n    - {from: 2026-03-01, to: 2026-03-03, reason: initial full-disk scan}\n")
	e := start(t, "sqlite:"+filepath.Join(t.TempDir(), "b.db"), []*tenant.Tenant{tn}, withMail, func(c *app.Config) { c.Clock = clk.Now })
	if r := e.post(t, "esc", csAlert("slo:x", "pc-301", high())); r.code != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	waitMails(t, e, sink, "it@esc.example", 1, e.App.Escalation.SweepSLO)
	clk.Advance(3 * time.Hour)
	sweepOnce(t, e, e.App.Escalation.SweepSLO)
	if n := len(mailsTo(sink, "soc@esc.example")); n != 0 {
		t.Errorf("%d SLO mails for an excluded incident", n)
	}
	for _, c := range onlyIncident(t, e.App, "esc").Clocks {
		if c.Excluded != "initial full-disk scan" {
			t.Errorf("clock %s: excluded %q", c.Name, c.Excluded)
		}
	}
}

// TestAckAPIAndSlack: the console acknowledges through the API (another
// tenant's incident is not found); a Slack click acknowledges only with a
// valid Slack signature.
func TestAckAPIAndSlack(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}
	secret := []byte("slack-signing-secret")
	e := start(t, "sqlite:"+filepath.Join(t.TempDir(), "b.db"), []*tenant.Tenant{escTenant(t, ""), acme(t)}, func(c *app.Config) {
		c.Clock, c.PublicURL, c.APIToken, c.SlackSigningSecret, c.DryRunNotify = clk.Now, "http://bannin.test", "tok", secret, true
	})
	for i, host := range []string{"pc-401", "pc-402"} {
		if r := e.post(t, "esc", csAlert(fmt.Sprintf("api:%d", i), host, high())); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
	}
	var incs []*ticket.Incident
	waitFor(t, 30*time.Second, func() error {
		var err error
		incs, err = e.App.DB.Incidents(context.Background(), "esc")
		if err != nil || len(incs) != 2 {
			return fmt.Errorf("%d incidents (%v), want 2", len(incs), err)
		}
		return nil
	})
	api := func(tenantID, ref string) reply {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/tenants/"+tenantID+"/incidents/"+ref+"/ack", strings.NewReader(`{"by": "analyst-7"}`))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("X-Bannin-Via", "console")
		return do(t, req)
	}
	if r := api("acme", incs[0].Ref); r.code != http.StatusNotFound {
		t.Errorf("ack of esc's incident as acme: %d %s", r.code, r.body)
	}
	if r := api("esc", incs[0].Ref); r.code != http.StatusCreated || !strings.Contains(r.body, `"via":"console"`) {
		t.Errorf("console ack: %d %s", r.code, r.body)
	}
	// An analyst's acknowledgement in the console is the SOC's first response.
	view, err := e.App.View.IncidentView(context.Background(), "esc", incs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range view.Clocks {
		if c.Name == slo.ClockFirstResponse && (c.Stopped == nil || !c.Stopped.Equal(clk.Now())) {
			t.Errorf("first-response clock %+v: want it stopped by the console acknowledgement", c)
		}
	}
	if r := api("esc", incs[0].Ref); r.code != http.StatusOK || !strings.Contains(r.body, `"fresh":false`) {
		t.Errorf("second console ack: %d %s", r.code, r.body)
	}

	tok, err := e.App.Escalation.AckToken("esc", incs[1].ID, "it-ml")
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Sprintf(`{"type":"block_actions","user":{"id":"U1","username":"sato"},"actions":[{"action_id":"bannin_ack","value":%q}]}`, tok)
	body := url.Values{"payload": {payload}}.Encode()
	slack := func(sig string, ts int64) reply {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/slack/actions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Slack-Signature", sig)
		return do(t, req)
	}
	sign := func(ts int64) string {
		m := hmac.New(sha256.New, secret)
		fmt.Fprintf(m, "v0:%d:%s", ts, body)
		return "v0=" + hex.EncodeToString(m.Sum(nil))
	}
	now := clk.Now().Unix()
	for name, r := range map[string]reply{
		"bad signature": slack("v0=00", now),
		"stale":         slack(sign(now-600), now-600),
	} {
		if r.code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, r.code, r.body)
		}
	}
	if ack, _ := e.App.DB.IncidentAck(context.Background(), "esc", incs[1].ID); ack != nil {
		t.Fatalf("a refused Slack request acknowledged: %+v", ack)
	}
	if r := slack(sign(now), now); r.code != http.StatusOK {
		t.Fatalf("Slack click: %d %s", r.code, r.body)
	}
	ack, err := e.App.DB.IncidentAck(context.Background(), "esc", incs[1].ID)
	if err != nil || ack == nil || ack.Via != "slack" || ack.By != "it-ml (Slack sato)" {
		t.Errorf("ack = %+v, %v", ack, err)
	}
}

func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func httpGet(t *testing.T, u string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return do(t, req)
}

func httpPostForm(t *testing.T, u string, v url.Values) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func auditCount(t *testing.T, a *app.App, tenantID, action string) int {
	t.Helper()
	log, err := a.DB.AuditLog(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == action {
			n++
		}
	}
	return n
}
