package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// TestSweepUnanswered: an analyst asks the customer about an incident (its
// ticket waits on the customer); 71 hours later the sweep leaves it, at
// 72 hours it turns the incident Suspicious — on the app's clock.
func TestSweepUnanswered(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)}, func(c *app.Config) { c.Clock = clock })
		defer e.stop()
		if r := e.post(t, "hokuto", csAlert("sweep:1", "pc-601", high())); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		ctx := context.Background()
		var incID int64
		waitFor(t, 30*time.Second, func() error {
			incs, err := e.App.DB.Incidents(ctx, "hokuto")
			if err == nil && len(incs) == 1 {
				incID = incs[0].ID
				return nil
			}
			return fmt.Errorf("incidents %d (%v), want 1", len(incs), err)
		})
		tk := &ticket.Ticket{Tenant: "hokuto", Kind: ticket.KindIncident, Title: "is this your admin's script?",
			Links: []ticket.Link{{Kind: ticket.LinkIncident, Ref: ticket.RefFor(incID)}}}
		if err := e.App.DB.CreateTicket(ctx, tk, "alice", clock()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.DB.MoveTicket(ctx, "hokuto", tk.ID, ticket.StateWaitingCustomer, "alice", "asked by mail", clock()); err != nil {
			t.Fatal(err)
		}
		verdict := func() ticket.Verdict {
			in, err := e.App.DB.Incident(ctx, "hokuto", incID)
			if err != nil {
				t.Fatal(err)
			}
			return in.Verdict
		}
		advance(71 * time.Hour)
		if err := e.App.Escalation.SweepUnanswered(ctx); err != nil || verdict() != ticket.VerdictNone {
			t.Fatalf("after 71 h: err %v, verdict %q; want unchanged", err, verdict())
		}
		advance(time.Hour)
		if err := e.App.Escalation.SweepUnanswered(ctx); err != nil || verdict() != ticket.VerdictSuspicious {
			t.Fatalf("after 72 h: err %v, verdict %q; want suspicious", err, verdict())
		}
	})
}

// TestDFIRAPI: the ransomware incident on fs01 (P0) goes into DFIR mode
// through the REST API; a P2 incident is refused with 409; another
// tenant's path answers 404.
func TestDFIRAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		const token = "dfir-test-token"
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t), acme(t)}, func(c *app.Config) { c.APIToken = token })
		defer e.stop()
		body := ndjson(csAlert("dfir:ransom", "fs01", crowdstrike.AlertSeverity(90),
			crowdstrike.AlertTechnique("TA0040", "Impact", "T1486", "Data Encrypted for Impact")),
			csAlert("dfir:phish", "pc-701", high()))
		if r := e.post(t, "hokuto", body); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		ctx := context.Background()
		refs := map[string]string{}
		waitFor(t, 30*time.Second, func() error {
			incs, err := e.App.View.Incidents(ctx, "hokuto")
			for _, in := range incs {
				refs[in.Hosts[0]] = in.ID
			}
			if err != nil || len(refs) < 2 {
				return fmt.Errorf("incidents %v (%v)", refs, err)
			}
			return nil
		})
		c := api{t: t, url: e.URL, token: token}
		if r := c.call("POST", "/v1/tenants/hokuto/incidents/"+refs["fs01"]+"/dfir", `{"on":true,"reason":"file server encrypted"}`); r.code != http.StatusOK || !strings.Contains(r.body, `"dfir":true`) {
			t.Errorf("DFIR on the ransomware incident: %d %s", r.code, r.body)
		}
		if r := c.call("POST", "/v1/tenants/hokuto/incidents/"+refs["pc-701"]+"/dfir", `{"on":true,"reason":"why not"}`); r.code != http.StatusConflict {
			t.Errorf("DFIR on a P2 incident: %d %s, want 409", r.code, r.body)
		}
		if r := c.call("POST", "/v1/tenants/acme/incidents/"+refs["fs01"]+"/dfir", `{"on":true,"reason":"x"}`); r.code != http.StatusNotFound {
			t.Errorf("DFIR through another tenant's path: %d %s, want 404", r.code, r.body)
		}
	})
}
