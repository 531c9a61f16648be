package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// TestSLOReportCLI: the store's tenant (a file with secret files, applied
// by serve) is read back as stored; the monthly report's delivery is
// recorded once and its clock counted in the month after, in Japanese text
// and in JSON.
func TestSLOReportCLI(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "bannin.db")
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{DB: db, Tenants: []*tenant.Tenant{tn}, SecretKey: make([]byte, 32), Log: logger(false)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 5, 1, 0, 0, 0, time.UTC)
	in := &ticket.Incident{Tenant: tn.ID, Status: ticket.StatusOpen, Priority: alert.P1, Severity: "critical", NeedsHuman: true,
		Title: "credential theft", Hosts: []string{"pc-1"}, AlertCount: 1, FirstSeen: at, LastSeen: at, CreatedAt: at, UpdatedAt: at}
	if err := a.DB.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.InsertIncident(ctx, in) }); err != nil {
		t.Fatal(err)
	}
	a.Close(ctx)

	// incident show reads the contract from the stored tenant file: the
	// incident's clocks are there, the first response breached (60 min).
	show, _, err := run(t, "incident", "show", in.Ref, "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		Clocks []struct{ Name, State string } `json:"clocks"`
	}
	if err := json.Unmarshal([]byte(show), &view); err != nil || len(view.Clocks) != 2 || view.Clocks[1].Name != "first_response" ||
		view.Clocks[1].State != "breached" {
		t.Errorf("incident show clocks: %+v (%v)\n%s", view.Clocks, err, show)
	}

	if _, _, err := run(t, "report", "sent", "--month", "2026-09", "--at", "2026-09-20", "--db", db); err == nil ||
		!strings.Contains(err.Error(), "before its month ends") {
		t.Errorf("a report sent before its month ended: %v", err)
	}
	out, _, err := run(t, "report", "sent", "--month", "2026-09", "--at", "2026-10-08T10:00:00+09:00", "--by", "sato", "--db", db)
	if err != nil || !strings.Contains(out, "recorded as sent at 2026-10-08T10:00:00+09:00") {
		t.Fatalf("report sent: %q, %v", out, err)
	}
	if out, _, _ := run(t, "report", "sent", "--month", "2026-09", "--by", "suzuki", "--db", db); !strings.Contains(out, "already recorded as sent by sato") {
		t.Errorf("second record: %q", out)
	}
	text, _, err := run(t, "slo", "report", "--month", "2026-10", "--db", db)
	if err != nil || !strings.Contains(text, "月次レポート") || !strings.Contains(text, "100.0%") {
		t.Errorf("slo report text: %q, %v", text, err)
	}
	js, _, err := run(t, "slo", "report", "--month", "2026-10", "--json", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	var rep slo.Attainment
	if err := json.Unmarshal([]byte(js), &rep); err != nil || len(rep.Clocks) != 3 {
		t.Fatalf("slo report JSON: %s (%v)", js, err)
	}
	for _, c := range rep.Clocks {
		want := [2]int{0, 1} // the incident's clocks: nobody responded
		if c.Name == slo.ClockMonthlyReport {
			want = [2]int{1, 0}
		}
		if c.Met != want[0] || c.Breached != want[1] {
			t.Errorf("clock %s: met %d breached %d, want %v", c.Name, c.Met, c.Breached, want)
		}
	}
	if len(rep.Misses) != 2 || rep.Misses[0].Object != in.Ref {
		t.Errorf("misses %+v, want the incident's two clocks", rep.Misses)
	}
	if _, _, err := run(t, "slo", "report", "--month", "October", "--db", db); err == nil || !strings.Contains(err.Error(), "want YYYY-MM") {
		t.Errorf("bad month: %v", err)
	}
}
