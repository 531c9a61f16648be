package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// TestAttainment: in March 2026 one incident is acknowledged in time and
// one is left alone past its first-response budget; one PCR is applied the
// same day and one waits past its fifth business day. The month's report
// counts each clock's outcome and lists the misses; the API gives the same
// and refuses a bad month.
func TestAttainment(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		clk := &fakeClock{now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)} // Monday 10:00 JST
		tn := escTenant(t, "")
		e := start(t, b.fresh(t), []*tenant.Tenant{tn}, func(c *app.Config) {
			c.Clock, c.DryRunNotify, c.APIToken = clk.Now, true, "tok"
		})
		ctx := context.Background()
		for i, host := range []string{"pc-501", "pc-502"} {
			if r := e.post(t, "esc", csAlert(fmt.Sprintf("att:%d", i), host, high())); r.code != http.StatusAccepted {
				t.Fatalf("webhook: %d %s", r.code, r.body)
			}
		}
		var incs []*ticket.Incident
		waitFor(t, 30*time.Second, func() error {
			var err error
			if incs, err = e.App.DB.Incidents(ctx, "esc"); err != nil || len(incs) != 2 {
				return fmt.Errorf("%d incidents (%v), want 2", len(incs), err)
			}
			return nil
		})
		quiesce(t, e.App)
		clk.Advance(5 * time.Minute)
		if _, _, err := e.App.Escalation.Acknowledge(ctx, "esc", incs[0].Ref, "ciso", "cli"); err != nil {
			t.Fatal(err)
		}
		pcr := func(hash string) *ticket.Ticket {
			tk := &ticket.Ticket{Tenant: "esc", Kind: ticket.KindPCR, Title: "allow the backup agent",
				PCR: &ticket.AllowRequest{SHA256: hash, Reason: "our backup agent"}}
			if err := e.App.DB.CreateTicket(ctx, tk, "customer", clk.Now()); err != nil {
				t.Fatal(err)
			}
			return tk
		}
		fast := pcr("1111111111111111111111111111111111111111111111111111111111111111")
		slow := pcr("2222222222222222222222222222222222222222222222222222222222222222")
		clk.Advance(time.Hour)
		if _, err := e.App.ApplyPCR(ctx, "esc", fast.ID, "analyst"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * 24 * time.Hour) // past the slow PCR's fifth business day (2026-03-09 18:00)

		feb := meter.Month{Year: 2026, Month: time.February}
		if _, _, err := e.App.SLO.RecordMonthlyReport(ctx, tn, meter.Month{Year: 2026, Month: time.March}, clk.Now(), "analyst", ""); !errors.Is(err, ticket.ErrInvalid) {
			t.Errorf("March's report sent in March: err %v, want ErrInvalid", err)
		}
		if _, fresh, err := e.App.SLO.RecordMonthlyReport(ctx, tn, feb, clk.Now(), "analyst", "by mail"); err != nil || !fresh {
			t.Fatalf("February's report: fresh %v, %v", fresh, err)
		}
		rep, err := e.App.SLO.Attainment(ctx, tn, meter.Month{Year: 2026, Month: time.March})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][3]int{ // met, breached, running
			slo.ClockNotification:  {2, 0, 0},
			slo.ClockFirstResponse: {1, 1, 0},
			slo.ClockPCR:           {1, 1, 0},
			slo.ClockMonthlyReport: {1, 0, 0}, // February's, due 2026-03-13 18:00, sent on the 12th
		}
		if len(rep.Clocks) != len(want) {
			t.Fatalf("clocks %+v, want %d", rep.Clocks, len(want))
		}
		for _, c := range rep.Clocks {
			w := want[c.Name]
			if c.Met != w[0] || c.Breached != w[1] || c.Running != w[2] || c.Attainment == nil ||
				*c.Attainment != float64(w[0])*100/float64(w[0]+w[1]) {
				t.Errorf("clock %s = %+v, want met/breached/running %v", c.Name, c, w)
			}
		}
		if len(rep.Misses) != 2 {
			t.Errorf("misses %+v, want the unanswered incident and the slow PCR", rep.Misses)
		}
		view, err := e.App.SLO.TicketView(ctx, tn, slow.ID)
		if err != nil || len(view.Clocks) != 1 || view.Clocks[0].State != "breached" ||
			!view.Clocks[0].Due.Equal(time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("slow PCR's clocks = %+v, %v; want breached, due 2026-03-09 18:00 JST", view.Clocks, err)
		}

		get := func(q string) reply {
			req, _ := http.NewRequest(http.MethodGet, e.URL+"/v1/tenants/esc/slo"+q, nil)
			req.Header.Set("Authorization", "Bearer tok")
			return do(t, req)
		}
		if r := get("?month=2026-3"); r.code != http.StatusBadRequest {
			t.Errorf("bad month: %d %s", r.code, r.body)
		}
		r := get("?month=2026-03")
		var got slo.Attainment
		if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &got) != nil || len(got.Clocks) != 4 {
			t.Errorf("API: %d %s", r.code, r.body)
		}
	})
}
