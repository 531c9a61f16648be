package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return loc
}()

// meterAlert is an alert of tenant from a source and vendor, on host (""
// for an alert that names no endpoint), received at at.
func meterAlert(tenant, source, vendor, vendorID, host string, at time.Time) alert.Alert {
	a := newAlert(tenant, vendorID, host, "", at)
	a.Source, a.Vendor = source, vendor
	if host == "" {
		a.Host = alert.Host{IPs: []string{"10.0.0.9"}}
	}
	return a
}

// MeterUsage counts distinct endpoints and incidents in the tenant's month:
// an alert at 15:30 UTC on 31 October is November in Tokyo, other tenants'
// rows never count, and an endpoint two sources report counts once.
func testMeterUsage(t *testing.T, db *sqlstore.DB) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, a := range []alert.Alert{
		meterAlert("a", "falcon", "crowdstrike", "a1", "web01", utc("2026-09-30T15:00:00Z")), // 1 October 00:00 in Tokyo
		meterAlert("a", "falcon", "crowdstrike", "a2", "web01", utc("2026-10-10T03:00:00Z")),
		meterAlert("a", "s1", "sentinelone", "a3", "WEB01.other.example", utc("2026-10-11T03:00:00Z")), // the same endpoint
		meterAlert("a", "s1", "sentinelone", "a4", "db01", utc("2026-10-20T03:00:00Z")),
		meterAlert("a", "falcon", "crowdstrike", "a5", "", utc("2026-10-21T03:00:00Z")),             // no endpoint
		meterAlert("a", "falcon", "crowdstrike", "a6", "web02", utc("2026-10-31T15:30:00Z")),        // November in Tokyo
		meterAlert("a", "falcon", "crowdstrike", "a7", "web03", utc("2026-09-30T14:59:59.999999Z")), // September in Tokyo
		meterAlert("b", "falcon", "crowdstrike", "b1", "evil01", utc("2026-10-15T03:00:00Z")),       // another tenant
		meterAlert("b", "falcon", "crowdstrike", "b2", "web01", utc("2026-10-15T04:00:00Z")),        // another tenant's web01
	} {
		insertAlert(t, db, 0, a)
	}
	for _, in := range []struct {
		tenant string
		prio   alert.Priority
		human  bool
		at     string
	}{
		{"a", alert.P0, true, "2026-09-30T15:00:00Z"},
		{"a", alert.P1, true, "2026-10-05T00:00:00Z"},
		{"a", alert.P1, true, "2026-10-06T00:00:00Z"},
		{"a", alert.P2, false, "2026-10-07T00:00:00Z"},
		{"a", alert.P3, false, "2026-10-31T14:59:59Z"},
		{"a", alert.P1, false, "2026-10-31T15:30:00Z"}, // November in Tokyo
		{"b", alert.P0, true, "2026-10-15T00:00:00Z"},
	} {
		inc := newIncident(in.tenant, "incident", utc(in.at))
		inc.Priority, inc.NeedsHuman = in.prio, in.human
		insertIncident(t, db, inc)
	}

	oct, nov := meter.Month{Year: 2026, Month: time.October}, meter.Month{Year: 2026, Month: time.November}
	for _, c := range []struct {
		name   string
		tenant string
		month  meter.Month
		loc    *time.Location
		want   meter.Usage
	}{
		{"October in Tokyo", "a", oct, tokyo, meter.Usage{Endpoints: 2, Alerts: 5, Unattributed: 1,
			Sources: []meter.SourceUsage{
				{Source: "falcon", Vendor: "crowdstrike", Endpoints: 1, Alerts: 3},
				{Source: "s1", Vendor: "sentinelone", Endpoints: 2, Alerts: 2},
			},
			Incidents: []meter.IncidentCount{
				{Priority: alert.P0, NeedsHuman: true, Count: 1},
				{Priority: alert.P1, NeedsHuman: true, Count: 2},
				{Priority: alert.P2, Count: 1},
				{Priority: alert.P3, Count: 1},
			}}},
		{"November in Tokyo", "a", nov, tokyo, meter.Usage{Endpoints: 1, Alerts: 1,
			Sources:   []meter.SourceUsage{{Source: "falcon", Vendor: "crowdstrike", Endpoints: 1, Alerts: 1}},
			Incidents: []meter.IncidentCount{{Priority: alert.P1, Count: 1}}}},
		{"October in UTC", "a", oct, time.UTC, meter.Usage{Endpoints: 3, Alerts: 5, Unattributed: 1,
			Sources: []meter.SourceUsage{
				{Source: "falcon", Vendor: "crowdstrike", Endpoints: 2, Alerts: 3},
				{Source: "s1", Vendor: "sentinelone", Endpoints: 2, Alerts: 2},
			},
			Incidents: []meter.IncidentCount{
				{Priority: alert.P1, Count: 1},
				{Priority: alert.P1, NeedsHuman: true, Count: 2},
				{Priority: alert.P2, Count: 1},
				{Priority: alert.P3, Count: 1},
			}}},
		{"the other tenant", "b", oct, tokyo, meter.Usage{Endpoints: 2, Alerts: 2,
			Sources:   []meter.SourceUsage{{Source: "falcon", Vendor: "crowdstrike", Endpoints: 2, Alerts: 2}},
			Incidents: []meter.IncidentCount{{Priority: alert.P0, NeedsHuman: true, Count: 1}}}},
		{"a tenant without rows", "c", oct, tokyo, meter.Usage{Sources: []meter.SourceUsage{}, Incidents: []meter.IncidentCount{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			from, to := c.month.Bounds(c.loc)
			got, err := db.MeterUsage(t.Context(), c.tenant, from, to)
			check(t, "MeterUsage", err)
			diff(t, "MeterUsage", &c.want, got, cmpopts.EquateEmpty())
		})
	}
}

// Prepaid tickets are used oldest lot first, only while valid (one year
// from purchase), and never beyond what the lots valid at the time hold.
func testPrepaidFIFO(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	day := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02T15:04:05", s, tokyo)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	buy := func(tenant string, n int, at string) int64 {
		t.Helper()
		p := &meter.Purchase{Tenant: tenant, PurchasedAt: day(at), Quantity: n, Note: "order " + at}
		check(t, "AddPurchase", db.AddPurchase(ctx, p, "sales"))
		if p.ID == 0 || !p.ExpiresAt.Equal(day(at).AddDate(1, 0, 0)) {
			t.Fatalf("AddPurchase set id %d, expiry %v", p.ID, p.ExpiresAt)
		}
		return p.ID
	}
	use := func(tenant string, n int, at, ref string) (*meter.Use, error) {
		t.Helper()
		return db.ConsumeTickets(ctx, &meter.Consumption{Tenant: tenant, At: day(at), Quantity: n,
			Reason: "forensic analysis", Ref: ref}, "analyst")
	}
	balance := func(tenant, at string) *meter.Ledger {
		t.Helper()
		led, err := db.PrepaidBalance(ctx, tenant, day(at))
		check(t, "PrepaidBalance", err)
		return led
	}
	wantUse := func(what string, u *meter.Use, err error, draws ...meter.Draw) {
		t.Helper()
		check(t, what, err)
		if u.ID == 0 {
			t.Errorf("%s: no id", what)
		}
		diff(t, what+" draws", draws, u.Draws)
	}
	wantShort := func(what string, u *meter.Use, err error, msg string) {
		t.Helper()
		if !errors.Is(err, meter.ErrInsufficient) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: got %v, %v; want ErrInsufficient saying %q", what, u, err, msg)
		}
	}

	lot1 := buy("a", 10, "2025-04-01T10:00:00") // usable until 2026-04-01 10:00
	lot2 := buy("a", 5, "2025-10-01T10:00:00")  // usable until 2026-10-01 10:00
	u, err := use("a", 4, "2025-11-01T09:00:00", "")
	wantUse("oldest lot first", u, err, meter.Draw{PurchaseID: lot1, Quantity: 4})

	if got := balance("a", "2026-04-01T09:59:59").Available; got != 11 {
		t.Errorf("balance the minute before lot 1 expires = %d, want 11", got)
	}
	led := balance("a", "2026-04-01T10:00:00")
	if led.Available != 5 || led.Lots[0].Expired != 6 || led.Lots[0].Remaining != 0 || led.Lots[1].Remaining != 5 {
		t.Errorf("balance when lot 1 expires = %d, lots %+v; want 5, lot 1 expired with 6 unused", led.Available, led.Lots)
	}
	u, err = use("a", 6, "2026-04-01T10:00:00", "")
	wantShort("six tickets as lot 1 expires", u, err, "only 5 valid")

	u, err = use("a", 5, "2026-03-31T12:00:00", "")
	wantUse("the day before expiry", u, err, meter.Draw{PurchaseID: lot1, Quantity: 5})
	// Dated before the use above, seven tickets would take lot 1's last six
	// and one of lot 2, leaving the later use short.
	u, err = use("a", 7, "2025-12-01T09:00:00", "")
	wantShort("back-dated past a later use", u, err, "would leave use #")

	u, err = use("a", 5, "2026-05-01T09:00:00", "")
	wantUse("the newer lot after the older expired", u, err, meter.Draw{PurchaseID: lot2, Quantity: 5})
	u, err = use("a", 1, "2026-05-02T09:00:00", "")
	wantShort("nothing left", u, err, "only 0 valid")

	lot3 := buy("a", 3, "2026-06-01T10:00:00")
	u, err = use("a", 2, "2026-06-01T10:00:00", "")
	wantUse("a lot is usable from its purchase", u, err, meter.Draw{PurchaseID: lot3, Quantity: 2})

	led = balance("a", "2026-12-31T23:59:59")
	if led.Available != 1 || len(led.Uses) != 4 {
		t.Errorf("year-end balance %d with %d uses; want 1 with 4", led.Available, len(led.Uses))
	}
	diff(t, "lots at year end", []meter.Lot{
		{Purchase: meter.Purchase{ID: lot1}, Used: 9, Expired: 1},
		{Purchase: meter.Purchase{ID: lot2}, Used: 5},
		{Purchase: meter.Purchase{ID: lot3}, Used: 2, Remaining: 1},
	}, led.Lots, cmpopts.IgnoreFields(meter.Purchase{}, "Tenant", "PurchasedAt", "ExpiresAt", "Quantity", "Note"))

	// Tenant b bought nothing: a's lots are not its own.
	u, err = use("b", 1, "2026-06-02T10:00:00", "")
	wantShort("another tenant's tickets", u, err, "only 0 valid")
	if led := balance("b", "2026-06-02T10:00:00"); led.Available != 0 || len(led.Lots) != 0 {
		t.Errorf("tenant b's ledger = %+v, want empty", led)
	}
	purchases, uses, err := db.PrepaidLedger(ctx, "a")
	check(t, "PrepaidLedger", err)
	if len(purchases) != 3 || len(uses) != 4 {
		t.Errorf("tenant a's ledger holds %d purchases and %d uses, want 3 and 4 (refusals change nothing)", len(purchases), len(uses))
	}
	var actions []string
	for _, e := range auditLog(t, db, "a") {
		actions = append(actions, e.Action)
	}
	diff(t, "audit", []string{"prepaid.purchased", "prepaid.purchased", "prepaid.used", "prepaid.used",
		"prepaid.used", "prepaid.purchased", "prepaid.used"}, actions)
}

// Bad uses and purchases are refused with a reason, and change nothing.
func testPrepaidRefusals(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	check(t, "AddPurchase", db.AddPurchase(ctx, &meter.Purchase{Tenant: "a", PurchasedAt: t0, Quantity: 10}, "sales"))
	own := insertIncident(t, db, newIncident("a", "ours", t0))
	theirs := insertIncident(t, db, newIncident("b", "theirs", t0))
	at := t0.Add(time.Hour)
	for _, c := range []struct {
		name string
		p    *meter.Purchase
		c    meter.Consumption
		want string
	}{
		{"purchase of no tickets", &meter.Purchase{Tenant: "a", PurchasedAt: t0}, meter.Consumption{}, "at least 1"},
		{"purchase without time", &meter.Purchase{Tenant: "a", Quantity: 1}, meter.Consumption{}, "no purchase time"},
		{"use of no tickets", nil, meter.Consumption{Tenant: "a", At: at, Reason: "x"}, "at least 1"},
		{"negative use", nil, meter.Consumption{Tenant: "a", At: at, Quantity: -2, Reason: "x"}, "at least 1"},
		{"use without reason", nil, meter.Consumption{Tenant: "a", At: at, Quantity: 1, Reason: "  "}, "no reason"},
		{"another tenant's incident", nil, meter.Consumption{Tenant: "a", At: at, Quantity: 1, Reason: "x",
			Ref: refOf(theirs)}, "not found"},
		{"malformed incident ref", nil, meter.Consumption{Tenant: "a", At: at, Quantity: 1, Reason: "x", Ref: "INC-x"}, "want INC-000123"},
		{"before any purchase", nil, meter.Consumption{Tenant: "a", At: t0.Add(-time.Second), Quantity: 1, Reason: "x"}, "only 0 valid"},
		{"more than bought", nil, meter.Consumption{Tenant: "a", At: at, Quantity: 11, Reason: "x"}, "only 10 valid"},
	} {
		var err error
		if c.p != nil {
			err = db.AddPurchase(ctx, c.p, "sales")
		} else {
			_, err = db.ConsumeTickets(ctx, &c.c, "analyst")
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
	}
	if _, err := db.ConsumeTickets(ctx, &meter.Consumption{Tenant: "a", At: at, Quantity: 1, Reason: "x",
		Ref: refOf(theirs)}, "analyst"); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("another tenant's incident: %v, want ErrNotFound", err)
	}
	c := &meter.Consumption{Tenant: "a", At: at, Quantity: 2, Reason: "malware analysis", Ref: strings.ToLower(refOf(own))}
	u, err := db.ConsumeTickets(ctx, c, "analyst")
	check(t, "ConsumeTickets with the tenant's incident", err)
	if c.Ref != refOf(own) || u.Ref != refOf(own) {
		t.Errorf("ref stored as %q, use %q; want %q", c.Ref, u.Ref, refOf(own))
	}
	c2 := &meter.Consumption{Tenant: "a", At: at, Quantity: 1, Reason: "policy change", Ref: "TKT-42"}
	_, err = db.ConsumeTickets(ctx, c2, "analyst")
	check(t, "ConsumeTickets with a ticket ref", err)
	_, uses, err := db.PrepaidLedger(ctx, "a")
	check(t, "PrepaidLedger", err)
	diff(t, "uses", []meter.Consumption{*c, *c2}, uses)
	if led, err := db.PrepaidBalance(ctx, "a", at); err != nil || led.Available != 7 {
		t.Errorf("balance after refusals and two uses = %v, %v; want 7", led, err)
	}
}

func refOf(id int64) string { return ticket.RefFor(id) }

// Uses made at once never spend a ticket twice: of eight uses of 3 against
// 10 tickets, exactly three succeed.
func testPrepaidConcurrentUse(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	check(t, "AddPurchase", db.AddPurchase(ctx, &meter.Purchase{Tenant: "a", PurchasedAt: t0, Quantity: 10}, "sales"))
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := db.ConsumeTickets(ctx, &meter.Consumption{Tenant: "a", At: t0.Add(time.Duration(i) * time.Minute),
				Quantity: 3, Reason: "concurrent work"}, "analyst")
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, meter.ErrInsufficient):
			t.Errorf("use: %v, want success or ErrInsufficient", err)
		}
	}
	led, err := db.PrepaidBalance(ctx, "a", t0.Add(time.Hour))
	check(t, "PrepaidBalance", err)
	if ok != 3 || led.Available != 1 || len(led.Uses) != 3 {
		t.Errorf("%d uses succeeded, %d recorded, %d left; want 3, 3, 1", ok, len(led.Uses), led.Available)
	}
}
