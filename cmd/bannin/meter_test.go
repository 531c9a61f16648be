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
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// meterStore makes a store with two tenants — hokuto (ja) and acme (en),
// both in Tokyo — and a few alerts and incidents around October 2026.
func meterStore(t *testing.T) (string, int64) {
	t.Helper()
	var tenants []*tenant.Tenant
	for _, y := range []string{
		"id: hokuto\nname: 北斗精機株式会社\nlanguage: ja\ntimezone: Asia/Tokyo\n",
		"id: acme\nname: Acme\nlanguage: en\ntimezone: Asia/Tokyo\n",
	} {
		tn, err := tenant.Parse([]byte(y), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tn)
	}
	db := filepath.Join(t.TempDir(), "bannin.db")
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{DB: db, Tenants: tenants, SecretKey: make([]byte, 32), Log: logger(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	var incID int64
	err = a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		for i, x := range []struct{ tenant, host, at string }{
			{"hokuto", "web01", "2026-09-30T15:00:00Z"}, // 1 October in Tokyo
			{"hokuto", "web01", "2026-10-10T00:00:00Z"},
			{"hokuto", "db01", "2026-10-20T00:00:00Z"},
			{"hokuto", "web02", "2026-10-31T15:30:00Z"}, // November in Tokyo
			{"acme", "pc01", "2026-10-10T00:00:00Z"},
		} {
			at := utc(x.at)
			r := &sqlstore.AlertRow{Disposition: sqlstore.DispositionLow, Alert: alert.Alert{Tenant: x.tenant, Source: "falcon",
				Vendor: "crowdstrike", VendorID: "det-" + string(rune('a'+i)), Received: at, EventTime: at, Host: alert.Host{Name: x.host}}}
			if err := tx.InsertAlert(ctx, r); err != nil {
				return err
			}
		}
		for _, x := range []struct {
			prio  alert.Priority
			human bool
			at    string
		}{{alert.P0, true, "2026-10-05T00:00:00Z"}, {alert.P3, false, "2026-10-06T00:00:00Z"}} {
			at := utc(x.at)
			in := &ticket.Incident{Tenant: "hokuto", Status: ticket.StatusOpen, Priority: x.prio, Severity: "high", NeedsHuman: x.human,
				Title: "t", AlertCount: 1, FirstSeen: at, LastSeen: at, CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertIncident(ctx, in); err != nil {
				return err
			}
			incID = in.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db, incID
}

func TestMeterCLI(t *testing.T) {
	db, inc := meterStore(t)
	meterRun := func(args ...string) string {
		t.Helper()
		out, _, err := run(t, append(append([]string{"meter"}, args...), "--db", db)...)
		if err != nil {
			t.Fatalf("meter %v: %v", args, err)
		}
		return out
	}

	out := meterRun("--tenant", "hokuto", "--month", "2026-10")
	for _, want := range []string{"利用実績 hokuto (北斗精機株式会社) 2026年10月", "検知端末数(ID数課金): 2台",
		"対応件数(対応件数課金): 2件(人による対応 1件、自動対応 1件)"} {
		if !strings.Contains(out, want) {
			t.Errorf("ja report lacks %q:\n%s", want, out)
		}
	}
	out = meterRun("--tenant", "acme", "--month", "2026-10")
	if !strings.Contains(out, "Endpoints seen (ID-based billing): 1") || !strings.Contains(out, "Incidents handled (per-handling billing): 0") {
		t.Errorf("en report of acme:\n%s", out)
	}

	meterRun("prepaid", "add", "--tenant", "hokuto", "--quantity", "10", "--at", "2025-10-15", "--note", "PO-1")
	meterRun("prepaid", "add", "--tenant", "hokuto", "--quantity", "5", "--at", "2026-10-01T09:00:00+09:00")
	out = meterRun("prepaid", "use", "--tenant", "hokuto", "--quantity", "12", "--reason", "forensic analysis",
		"--ref", ticket.RefFor(inc), "--at", "2026-10-02")
	if !strings.Contains(out, "10 from lot #1, 2 from lot #2") || !strings.Contains(out, "3 left then") {
		t.Errorf("use printed %q", out)
	}
	_, _, err := run(t, "meter", "prepaid", "use", "--tenant", "hokuto", "--quantity", "4", "--reason", "more", "--at", "2026-10-03", "--db", db)
	if err == nil || !strings.Contains(err.Error(), "only 3 valid") {
		t.Errorf("use beyond the balance: %v", err)
	}
	out = meterRun("prepaid", "balance", "--tenant", "hokuto", "--at", "2026-10-31")
	if !strings.Contains(out, "利用可能 3枚") || !strings.Contains(out, "#2 2026-10-01購入: 残り3枚(購入5枚)") {
		t.Errorf("balance printed %q", out)
	}
	var led struct {
		Available int `json:"available"`
		Lots      []struct {
			ID      int64 `json:"id"`
			Expired int   `json:"expired"`
		} `json:"lots"`
	}
	if err := json.Unmarshal([]byte(meterRun("prepaid", "balance", "--tenant", "hokuto", "--at", "2026-10-15T00:00:00Z", "--json")), &led); err != nil {
		t.Fatal(err)
	}
	if led.Available != 3 || len(led.Lots) != 2 || led.Lots[0].Expired != 0 {
		t.Errorf("balance JSON %+v: want 3 available, lot 1 used up before it expired", led)
	}

	var rep struct {
		From      string `json:"from"`
		Endpoints struct {
			Distinct int `json:"distinct"`
		} `json:"endpoints"`
		Incidents struct {
			Handled    int `json:"handled"`
			NeedsHuman int `json:"needs_human"`
		} `json:"incidents"`
		Prepaid struct {
			Purchased, Used, Balance int
		} `json:"prepaid"`
	}
	if err := json.Unmarshal([]byte(meterRun("--tenant", "hokuto", "--month", "2026-10", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.From != "2026-10-01T00:00:00+09:00" || rep.Endpoints.Distinct != 2 || rep.Incidents.Handled != 2 ||
		rep.Incidents.NeedsHuman != 1 || rep.Prepaid.Purchased != 5 || rep.Prepaid.Used != 12 || rep.Prepaid.Balance != 3 {
		t.Errorf("JSON report %+v", rep)
	}
	if err := json.Unmarshal([]byte(meterRun("--tenant", "hokuto", "--month", "2026-11", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Endpoints.Distinct != 1 || rep.Incidents.Handled != 0 {
		t.Errorf("November: %+v; want web02 only (15:30 UTC on 31 October is November in Tokyo)", rep)
	}
}

func TestMeterCLIErrors(t *testing.T) {
	db, _ := meterStore(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"meter", "--tenant", "hokuto", "--month", "2026/10", "--db", db}, "--month: month \"2026/10\": want YYYY-MM"},
		{[]string{"meter", "--tenant", "hokuto", "--month", "2026-13", "--db", db}, "month 01–12"},
		{[]string{"meter", "--tenant", "hokuto", "--db", db}, `required flag(s) "month" not set`},
		{[]string{"meter", "--tenant", "nosuch", "--month", "2026-10", "--db", db}, `unknown tenant "nosuch": the store holds [acme hokuto]`},
		{[]string{"meter", "--month", "2026-10", "--db", db}, "choose one with --tenant"},
		{[]string{"meter", "--tenant", "hokuto", "--month", "2026-10", "--db", filepath.Join(t.TempDir(), "none.db")}, "no store at"},
		{[]string{"meter", "prepaid", "add", "--tenant", "hokuto", "--quantity", "0", "--db", db}, "at least 1"},
		{[]string{"meter", "prepaid", "add", "--tenant", "nosuch", "--quantity", "1", "--db", db}, "unknown tenant"},
		{[]string{"meter", "prepaid", "add", "--tenant", "hokuto", "--quantity", "1", "--at", "yesterday", "--db", db}, "--at \"yesterday\""},
		{[]string{"meter", "prepaid", "use", "--tenant", "hokuto", "--quantity", "1", "--reason", " ", "--db", db}, "--reason"},
		{[]string{"meter", "prepaid", "use", "--tenant", "hokuto", "--quantity", "1", "--reason", "x", "--db", db}, "not enough prepaid tickets"},
		{[]string{"meter", "prepaid", "use", "--tenant", "acme", "--quantity", "1", "--reason", "x", "--ref", "INC-000001", "--db", db}, "not found"},
	} {
		out, _, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want one containing %q", c.args, err, c.want)
		}
		if out != "" {
			t.Errorf("%v printed %q on an error", c.args, out)
		}
	}
}
