package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

func incidentAlerts(t *testing.T, db *sqlstore.DB, tenant string, incidentID int64) []sqlstore.AlertRow {
	t.Helper()
	rows, err := db.IncidentAlerts(t.Context(), tenant, incidentID)
	check(t, "IncidentAlerts", err)
	return rows
}

func testAlertRoundTrip(t *testing.T, db *sqlstore.DB) {
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	first := newAlert("a", "det-1", "web01", hashA, t0)
	second := newAlert("a", "det-2", "db01", hashA, t0.Add(time.Minute))
	second.Action, second.Confidence, second.Link = alert.ActionQuarantined, 80, "https://falcon.example/det-2"
	rows := []*sqlstore.AlertRow{
		{InboxID: 7, IncidentID: inc, Disposition: sqlstore.DispositionNew, Score: 72, Alert: first},
		{InboxID: 8, IncidentID: inc, Disposition: sqlstore.DispositionGrouped, Reason: "same hash on web01", Score: 60, Alert: second},
		{InboxID: 9, Disposition: sqlstore.DispositionLow, Reason: "below attention", Score: 10,
			Alert: newAlert("a", "det-3", "web01", "", t0)},
	}
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		for _, r := range rows {
			if err := tx.InsertAlert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if !(rows[0].ID > 0 && rows[1].ID > rows[0].ID && rows[2].ID > rows[1].ID) {
		t.Errorf("alert ids %d, %d, %d: want positive and increasing", rows[0].ID, rows[1].ID, rows[2].ID)
	}

	want := []sqlstore.AlertRow{*rows[0], *rows[1]}
	diff(t, "IncidentAlerts", want, incidentAlerts(t, db, "a", inc))
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		got, err := tx.IncidentAlerts(ctx, "a", inc)
		diff(t, "Tx.IncidentAlerts", want, got)
		return err
	})

	counts, err := db.DispositionCounts(t.Context(), "a")
	check(t, "DispositionCounts", err)
	diff(t, "DispositionCounts", map[string]int{sqlstore.DispositionNew: 1, sqlstore.DispositionGrouped: 1,
		sqlstore.DispositionLow: 1}, counts)
}

func alertSeen(t *testing.T, db *sqlstore.DB, tenant, source, vendorID string) bool {
	t.Helper()
	var seen bool
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		var err error
		seen, err = tx.AlertSeen(ctx, tenant, source, vendorID)
		return err
	})
	return seen
}

// A vendor alert is stored once per tenant and source.
func testAlertSeen(t *testing.T, db *sqlstore.DB) {
	if alertSeen(t, db, "a", "falcon", "det-1") {
		t.Error("AlertSeen before any alert = true")
	}
	a := newAlert("a", "det-1", "web01", hashA, t0)
	insertAlert(t, db, 0, a)
	for _, c := range []struct {
		tenant, source, vendorID string
		want                     bool
	}{
		{"a", "falcon", "det-1", true},
		{"a", "falcon", "det-2", false},
		{"a", "s1", "det-1", false},
		{"b", "falcon", "det-1", false},
	} {
		if got := alertSeen(t, db, c.tenant, c.source, c.vendorID); got != c.want {
			t.Errorf("AlertSeen(%s, %s, %s) = %v, want %v", c.tenant, c.source, c.vendorID, got, c.want)
		}
	}

	dup := a
	dup.Title = "the same alert, delivered again by the webhook"
	err := db.InTx(t.Context(), func(tx *sqlstore.Tx) error {
		return tx.InsertAlert(t.Context(), &sqlstore.AlertRow{Disposition: sqlstore.DispositionLow, Alert: dup})
	})
	if err == nil {
		t.Error("second InsertAlert with the same (tenant, source, vendor_id) succeeded")
	}

	otherSource, otherTenant := a, a
	otherSource.Source = "s1"
	otherTenant.Tenant = "b"
	insertAlert(t, db, 0, otherSource)
	insertAlert(t, db, 0, otherTenant)
	for _, tenant := range []string{"a", "b"} {
		counts, err := db.DispositionCounts(t.Context(), tenant)
		check(t, "DispositionCounts", err)
		want := map[string]int{"a": 2, "b": 1}[tenant]
		if counts[sqlstore.DispositionLow] != want {
			t.Errorf("tenant %s holds %d alerts, want %d", tenant, counts[sqlstore.DispositionLow], want)
		}
	}
}

// Prevalence counts the distinct hosts and UTC days a pattern fired on.
func testPrevalence(t *testing.T, db *sqlstore.DB) {
	day := 24 * time.Hour
	for _, a := range []alert.Alert{
		newAlert("a", "p1", "web01", hashA, t0),
		newAlert("a", "p2", "web02", hashA, t0.Add(time.Hour)), // same day, another host
		newAlert("a", "p3", "web01", hashA, t0.Add(day)),       // same host, next day
		newAlert("a", "p4", "web03", hashA, t0.Add(-15*day)),   // before the window
		newAlert("b", "p5", "web04", hashA, t0.Add(2*day)),     // another tenant
		func() alert.Alert { // another pattern
			x := newAlert("a", "p6", "web05", hashA, t0)
			x.Rule = "Ransomware"
			return x
		}(),
	} {
		insertAlert(t, db, 0, a)
	}
	probe := newAlert("a", "", "any", hashA, t0)
	pattern := probe.Pattern()
	for _, c := range []struct {
		name, tenant string
		since        time.Time
		hosts, days  int
	}{
		{"fourteen days", "a", t0.Add(-14 * day), 2, 2},
		{"window starts at an alert", "a", t0.Add(day), 1, 1},
		{"everything", "a", time.Time{}, 3, 3},
		{"other tenant", "b", t0.Add(-14 * day), 1, 1},
		{"tenant without alerts", "c", time.Time{}, 0, 0},
	} {
		inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
			hosts, days, err := tx.Prevalence(ctx, c.tenant, pattern, c.since)
			if hosts != c.hosts || days != c.days {
				t.Errorf("%s: Prevalence = %d hosts, %d days; want %d, %d", c.name, hosts, days, c.hosts, c.days)
			}
			return err
		})
	}
}

// testPrimedAlertRoundTrip stores a triage batch's alerts the way triage
// does — kept in a primed transaction and written, their JSON encoded on
// every core, at commit — and reads back exactly what was inserted, as it
// was when inserted.
func testPrimedAlertRoundTrip(t *testing.T, db *sqlstore.DB) {
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	var batch []alert.Alert
	for i := range 200 { // enough for several encoding workers
		a := newAlert("a", fmt.Sprintf("det-%03d", i), fmt.Sprintf("pc-%02d", i%17), hashA, t0.Add(time.Duration(i)*time.Second))
		a.Techniques, a.Confidence = []string{"T1003", fmt.Sprintf("T%04d", i)}, i%100
		batch = append(batch, a)
	}
	var want []sqlstore.AlertRow
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		if err := tx.Prime(ctx, batch, sqlstore.Windows{Prevalence: time.Hour, Host: time.Hour, Spread: time.Hour}); err != nil {
			return err
		}
		for i := range batch {
			r := &sqlstore.AlertRow{InboxID: int64(100 + i), IncidentID: inc, Disposition: sqlstore.DispositionGrouped,
				Reason: fmt.Sprintf("reason %d", i), Score: i % 90, Alert: batch[i]}
			if err := tx.InsertAlert(ctx, r); err != nil {
				return err
			}
			want = append(want, *r)
			r.Alert.Title = "changed after insert" // what was inserted is stored
		}
		return nil
	})
	got := incidentAlerts(t, db, "a", inc)
	if len(got) != len(want) {
		t.Fatalf("%d alerts read back, want %d", len(got), len(want))
	}
	for i := range got {
		want[i].ID = got[i].ID // kept rows get their ids at commit
	}
	diff(t, "IncidentAlerts of a primed batch", want, got)
}
