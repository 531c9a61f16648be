package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// primeAnswers is what triage asks of the store about one alert.
type primeAnswers struct {
	Seen         bool
	FPIncident   int64
	HostIncident int64
	HashIncident int64
	Hosts, Days  int
}

func askAll(ctx context.Context, tx *sqlstore.Tx, as []alert.Alert, window time.Duration) ([]primeAnswers, error) {
	var out []primeAnswers
	for _, a := range as {
		var p primeAnswers
		var err error
		if p.Seen, err = tx.AlertSeen(ctx, a.Tenant, a.Source, a.VendorID); err != nil {
			return nil, err
		}
		inc, err := tx.OpenIncidentByFingerprint(ctx, a.Tenant, a.Fingerprint())
		if err != nil {
			return nil, err
		}
		if inc != nil {
			p.FPIncident = inc.ID
		}
		hinc, err := tx.OpenIncidentByHost(ctx, a.Tenant, alert.HostKey(a.Host), a.Received.Add(-24*time.Hour))
		if err != nil {
			return nil, err
		}
		if hinc != nil {
			p.HostIncident = hinc.ID
		}
		xinc, err := tx.OpenIncidentByHash(ctx, a.Tenant, a.SuspiciousHash(), alert.HostKey(a.Host), a.Received.Add(-7*24*time.Hour))
		if err != nil {
			return nil, err
		}
		if xinc != nil {
			p.HashIncident = xinc.ID
		}
		if p.Hosts, p.Days, err = tx.PrevalenceWith(ctx, a.Tenant, a.Pattern(), a.Received.Add(-window), alert.HostKey(a.Host), a.Received); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// testPrimeAgrees checks that a primed transaction answers AlertSeen,
// OpenIncidentByFingerprint, OpenIncidentByHost, OpenIncidentByHash and
// PrevalenceWith exactly as the database does,
// before and after the batch stores alerts of its own.
func testPrimeAgrees(t *testing.T, db *sqlstore.DB) {
	const window = 14 * 24 * time.Hour
	inc := insertIncident(t, db, newIncident("a", "open", t0))
	insertAlert(t, db, inc, newAlert("a", "det-1", "web01", hashA, t0))
	insertAlert(t, db, 0, newAlert("a", "det-2", "db01", hashB, t0.Add(-20*24*time.Hour))) // outside the window
	insertAlert(t, db, 0, newAlert("a", "det-3", "db02", hashB, t0.Add(-3*24*time.Hour)))
	insertAlert(t, db, 0, newAlert("b", "det-4", "web01", hashA, t0)) // another tenant
	batch := []alert.Alert{
		newAlert("a", "det-1", "web01", hashA, t0.Add(time.Hour)), // already stored
		newAlert("a", "det-5", "web02", hashA, t0.Add(time.Hour)),
		newAlert("a", "det-6", "db03", hashB, t0.Add(2*time.Hour)),
		newAlert("b", "det-7", "web09", hashA, t0.Add(2*time.Hour)),
	}
	batch[2].Rule = "OtherRule" // another fingerprint and pattern
	// The same questions in a transaction that is not primed and in one
	// that is, each after storing the batch's new alerts one by one.
	run := func(prime bool) ([]primeAnswers, error) {
		var all []primeAnswers
		errRollback := errors.New("roll back")
		err := db.InTx(t.Context(), func(tx *sqlstore.Tx) error {
			ctx := t.Context()
			if prime {
				if err := tx.Prime(ctx, batch, sqlstore.Windows{Prevalence: window, Host: 24 * time.Hour, Spread: 7 * 24 * time.Hour}); err != nil {
					return err
				}
			}
			for i := range batch[1:] {
				got, err := askAll(ctx, tx, batch, window)
				if err != nil {
					return err
				}
				all = append(all, got...)
				r := &sqlstore.AlertRow{Disposition: sqlstore.DispositionLow, Alert: batch[1+i]}
				if batch[1+i].Tenant == "a" {
					r.IncidentID, r.Disposition = inc, sqlstore.DispositionGrouped
				}
				if err := tx.InsertAlert(ctx, r); err != nil {
					return err
				}
			}
			got, err := askAll(ctx, tx, batch, window)
			all = append(all, got...)
			if err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			return nil, err
		}
		return all, nil
	}
	want, err := run(false)
	check(t, "unprimed", err)
	got, err := run(true)
	check(t, "primed", err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("primed answers differ from the database's:\n got %v\nwant %v", got, want)
	}
	if want[0].Seen != true || want[1].Seen != false || want[0].FPIncident != inc || want[1].Hosts < 2 ||
		want[1].HashIncident != inc || want[0].HashIncident != 0 {
		t.Errorf("fixture answers look wrong: %v", want[:4])
	}
}

// testDeferredWrites checks that audit entries and inbox end states made in
// a transaction are written at commit and not at all on rollback.
func testDeferredWrites(t *testing.T, db *sqlstore.DB) {
	accept(t, db, []sqlstore.InboxItem{item("a", "falcon", 1), item("a", "falcon", 2)}, nil)
	fail := errors.New("fail")
	for _, commit := range []bool{false, true} {
		err := db.InTx(t.Context(), func(tx *sqlstore.Tx) error {
			items, err := tx.ClaimPending(t.Context(), 10)
			if err != nil {
				return err
			}
			for _, it := range items {
				if err := tx.FinishInbox(t.Context(), it.ID, sqlstore.InboxQuarantined, "bad", t0); err != nil {
					return err
				}
				if err := tx.Audit(t.Context(), sqlstore.AuditEntry{Tenant: "a", At: t0, Actor: "test", Action: "x", Object: fmt.Sprint(it.ID)}); err != nil {
					return err
				}
			}
			// A claim inside the same transaction sees the rows finished.
			again, err := tx.ClaimPending(t.Context(), 10)
			if err == nil && len(again) != 0 {
				err = fmt.Errorf("claim after finish in the same transaction returned %d rows", len(again))
			}
			if err != nil || commit {
				return err
			}
			return fail
		})
		if commit && err != nil || !commit && !errors.Is(err, fail) {
			t.Fatalf("commit=%v: %v", commit, err)
		}
		log, err := db.AuditLog(t.Context(), "a")
		check(t, "audit log", err)
		counts := inboxCounts(t, db, "a")
		switch {
		case !commit && (len(log) != 0 || counts[sqlstore.InboxPending] != 2):
			t.Errorf("after rollback: %d audit entries, inbox %v; want none written", len(log), counts)
		case commit && (len(log) != 2 || counts[sqlstore.InboxQuarantined] != 2):
			t.Errorf("after commit: %d audit entries, inbox %v; want 2 and 2 quarantined", len(log), counts)
		}
	}
	q := quarantined(t, db, "a")
	if len(q) != 2 || q[0].Error != "bad" {
		t.Errorf("quarantined rows = %+v, want 2 with reason", q)
	}
}

// testKeptIncidentUpdate checks that in a triage batch an incident update
// is seen by the batch's own lookups at once and written at commit.
func testKeptIncidentUpdate(t *testing.T, db *sqlstore.DB) {
	inc := insertIncident(t, db, newIncident("a", "open", t0))
	a := newAlert("a", "det-1", "web01", hashA, t0)
	insertAlert(t, db, inc, a)
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		if err := tx.Prime(ctx, []alert.Alert{a}, sqlstore.Windows{Prevalence: time.Hour, Host: time.Hour}); err != nil {
			return err
		}
		for want := 2; want <= 3; want++ {
			in, err := tx.OpenIncidentByHost(ctx, "a", alert.HostKey(a.Host), t0.Add(-time.Hour))
			if err != nil || in == nil {
				return fmt.Errorf("lookup: %v, %v", in, err)
			}
			in.AlertCount = want
			in.Hosts = append(in.Hosts, fmt.Sprint("h", want))
			if err := tx.UpdateIncident(ctx, in); err != nil {
				return err
			}
			in.Hosts[0] = "changed after the update" // must not reach the kept copy
			got, err := tx.Incident(ctx, "a", inc)
			if err != nil {
				return err
			}
			if got.AlertCount != want || got.Hosts[0] != "web01" {
				return fmt.Errorf("in the batch: count %d hosts %v, want %d and web01 first", got.AlertCount, got.Hosts, want)
			}
		}
		return nil
	})
	got := getIncident(t, db, "a", inc)
	if got.AlertCount != 3 || fmt.Sprint(got.Hosts) != "[web01 h2 h3]" {
		t.Errorf("after commit: count %d hosts %v, want 3 [web01 h2 h3]", got.AlertCount, got.Hosts)
	}
}
