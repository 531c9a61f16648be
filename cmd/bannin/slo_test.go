package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/tenant"
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
	a.Close(ctx)

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
	var rep app.Attainment
	if err := json.Unmarshal([]byte(js), &rep); err != nil || len(rep.Clocks) != 1 || rep.Clocks[0].Name != app.ClockMonthlyReport || rep.Clocks[0].Met != 1 {
		t.Errorf("slo report JSON: %s (%v)", js, err)
	}
	if _, _, err := run(t, "slo", "report", "--month", "October", "--db", db); err == nil || !strings.Contains(err.Error(), "want YYYY-MM") {
		t.Errorf("bad month: %v", err)
	}
}
