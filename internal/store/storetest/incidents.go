package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

func getIncident(t *testing.T, db *sqlstore.DB, tenant string, id int64) *ticket.Incident {
	t.Helper()
	in, err := db.Incident(t.Context(), tenant, id)
	check(t, "Incident", err)
	return in
}

func testIncidentRoundTrip(t *testing.T, db *sqlstore.DB) {
	in := newIncident("a", "Credential dumping on web01", t0)
	insertIncident(t, db, in)
	if in.Ref != "INC-000001" {
		t.Errorf("first incident Ref = %q, want INC-000001", in.Ref)
	}
	diff(t, "Incident", in, getIncident(t, db, "a", in.ID))
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		got, err := tx.Incident(ctx, "a", in.ID)
		if err != nil {
			return err
		}
		diff(t, "Tx.Incident", in, got)
		return nil
	})

	// Empty JSON fields come back empty, never as a decoding error.
	bare := &ticket.Incident{Tenant: "a", Status: ticket.StatusOpen, Priority: alert.P3, Title: "bare",
		FirstSeen: t0, LastSeen: t0, CreatedAt: t0, UpdatedAt: t0}
	insertIncident(t, db, bare)
	if bare.Ref != "INC-000002" {
		t.Errorf("second incident Ref = %q, want INC-000002", bare.Ref)
	}
	got := getIncident(t, db, "a", bare.ID)
	diff(t, "bare incident", bare, got, cmpopts.EquateEmpty())
	if got.Hosts == nil || got.Techniques == nil {
		t.Errorf("bare incident hosts %#v, techniques %#v: want empty lists, not nil (they are JSON arrays)", got.Hosts, got.Techniques)
	}

	list, err := db.Incidents(t.Context(), "a")
	check(t, "Incidents", err)
	diff(t, "Incidents (oldest first)", []*ticket.Incident{in, bare}, list, cmpopts.EquateEmpty())

	_, err = db.Incident(t.Context(), "a", bare.ID+1)
	wantNotFound(t, "Incident(missing)", err)
}

func testIncidentUpdate(t *testing.T, db *sqlstore.DB) {
	in := newIncident("a", "Credential dumping on web01", t0)
	insertIncident(t, db, in)
	orig := *in

	later := t0.Add(90 * time.Minute)
	in.Status, in.Verdict, in.Priority = ticket.StatusClosed, ticket.VerdictTruePositive, alert.P0
	in.Severity, in.Score, in.NeedsHuman = "critical", 95, false
	in.Title = "Credential dumping spreading from web01"
	in.Hosts = []string{"web01", "db01"}
	in.Techniques = append(in.Techniques, "T1021")
	in.Evidence = append(in.Evidence, ticket.Evidence{Signal: "spread", Contribution: 23, Detail: "same hash on db01"})
	in.AlertCount, in.LastSeen, in.UpdatedAt = 3, later, later
	// Neither the first sighting nor the creation time are mutable.
	in.FirstSeen, in.CreatedAt = later, later
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.UpdateIncident(ctx, in) })

	want := *in
	want.FirstSeen, want.CreatedAt = orig.FirstSeen, orig.CreatedAt
	diff(t, "updated incident", &want, getIncident(t, db, "a", in.ID))

	missing := *in
	missing.ID = in.ID + 100
	err := db.InTx(t.Context(), func(tx *sqlstore.Tx) error { return tx.UpdateIncident(t.Context(), &missing) })
	wantNotFound(t, "UpdateIncident(missing)", err)
}

func testNotes(t *testing.T, db *sqlstore.DB) {
	in := newIncident("a", "notes", t0)
	other := newIncident("a", "other", t0)
	insertIncident(t, db, in)
	insertIncident(t, db, other)
	notes := []ticket.Note{
		{At: t0.Add(time.Minute), Author: "bannin", Text: "opened: credential dumping"},
		{At: t0, Author: "alice", Text: "looking"}, // an earlier time, written later
		{At: t0.Add(2 * time.Minute), Author: "bannin", Text: "grouped 1 alert"},
	}
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		for _, n := range notes {
			if err := tx.AddNote(ctx, "a", in.ID, n); err != nil {
				return err
			}
		}
		return tx.AddNote(ctx, "a", other.ID, ticket.Note{At: t0, Author: "bob", Text: "elsewhere"})
	})
	got, err := db.Notes(t.Context(), "a", in.ID)
	check(t, "Notes", err)
	diff(t, "Notes (in the order written)", notes, got)
}

// openLookup runs one OpenIncidentBy… lookup and returns the found
// incident's id, 0 for none.
func openLookup(t *testing.T, db *sqlstore.DB, fn func(context.Context, *sqlstore.Tx) (*ticket.Incident, error)) int64 {
	t.Helper()
	var id int64
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		in, err := fn(ctx, tx)
		if in != nil {
			id = in.ID
		}
		return err
	})
	return id
}

// lookupFixture is two tenants' incidents with alerts: in tenant a an open
// incident on web01 and a closed one on db01; in tenant b an open incident
// with the very same alert as a's open one.
type lookupFixture struct {
	open, closed, otherTenant int64
	alert                     alert.Alert
}

func newLookupFixture(t *testing.T, db *sqlstore.DB) lookupFixture {
	t.Helper()
	var f lookupFixture
	f.open = insertIncident(t, db, newIncident("a", "open", t0))
	f.alert = newAlert("a", "det-1", "web01", hashA, t0)
	insertAlert(t, db, f.open, f.alert)

	closed := newIncident("a", "closed", t0)
	closed.Status = ticket.StatusClosed
	f.closed = insertIncident(t, db, closed)
	insertAlert(t, db, f.closed, newAlert("a", "det-2", "db01", hashB, t0))

	f.otherTenant = insertIncident(t, db, newIncident("b", "b's", t0))
	same := f.alert
	same.Tenant = "b"
	insertAlert(t, db, f.otherTenant, same)
	return f
}

func testOpenIncidentByFingerprint(t *testing.T, db *sqlstore.DB) {
	f := newLookupFixture(t, db)
	closedFP := newAlert("a", "det-2", "db01", hashB, t0)
	for _, c := range []struct {
		name, tenant, fp string
		want             int64
	}{
		{"open incident", "a", f.alert.Fingerprint(), f.open},
		{"other tenant's own incident", "b", f.alert.Fingerprint(), f.otherTenant},
		{"closed incident", "a", closedFP.Fingerprint(), 0},
		{"unknown fingerprint", "a", "0123456789abcdef", 0},
		{"tenant without alerts", "c", f.alert.Fingerprint(), 0},
	} {
		got := openLookup(t, db, func(ctx context.Context, tx *sqlstore.Tx) (*ticket.Incident, error) {
			return tx.OpenIncidentByFingerprint(ctx, c.tenant, c.fp)
		})
		if got != c.want {
			t.Errorf("%s: OpenIncidentByFingerprint(%s) = incident %d, want %d", c.name, c.tenant, got, c.want)
		}
	}
}

func testOpenIncidentByHost(t *testing.T, db *sqlstore.DB) {
	f := newLookupFixture(t, db)
	byHost := func(tenant, host string, since time.Time) int64 {
		t.Helper()
		return openLookup(t, db, func(ctx context.Context, tx *sqlstore.Tx) (*ticket.Incident, error) {
			return tx.OpenIncidentByHost(ctx, tenant, host, since)
		})
	}
	for _, c := range []struct {
		name, tenant, host string
		since              time.Time
		want               int64
	}{
		{"alert at the window's start", "a", "web01", t0, f.open},
		{"window starts after the alert", "a", "web01", t0.Add(time.Microsecond), 0},
		{"closed incident", "a", "db01", t0.Add(-time.Hour), 0},
		{"host without alerts", "a", "mail01", t0.Add(-time.Hour), 0},
		{"other tenant", "b", "web01", t0.Add(-time.Hour), f.otherTenant},
		{"tenant without alerts", "c", "web01", t0.Add(-time.Hour), 0},
	} {
		if got := byHost(c.tenant, c.host, c.since); got != c.want {
			t.Errorf("%s: OpenIncidentByHost(%s, %s) = incident %d, want %d", c.name, c.tenant, c.host, got, c.want)
		}
	}

	// With two open incidents on the host, the newest wins.
	newer := insertIncident(t, db, newIncident("a", "newer", t0.Add(time.Hour)))
	insertAlert(t, db, newer, newAlert("a", "det-3", "web01", "", t0.Add(time.Hour)))
	if got := byHost("a", "web01", t0); got != newer {
		t.Errorf("OpenIncidentByHost with two open incidents = %d, want the newer %d", got, newer)
	}
	if got := byHost("a", "web01", t0.Add(2*time.Hour)); got != 0 {
		t.Errorf("OpenIncidentByHost after both alerts = %d, want none", got)
	}
}

func testOpenIncidentByHash(t *testing.T, db *sqlstore.DB) {
	f := newLookupFixture(t, db)
	for _, c := range []struct {
		name, tenant, sha, host string
		since                   time.Time
		want                    int64
	}{
		{"same hash on another host", "a", hashA, "db01", t0, f.open},
		{"same host is not spread", "a", hashA, "web01", t0.Add(-time.Hour), 0},
		{"window starts after the alert", "a", hashA, "db01", t0.Add(time.Microsecond), 0},
		{"closed incident", "a", hashB, "web01", t0.Add(-time.Hour), 0},
		{"other tenant", "b", hashA, "db01", t0.Add(-time.Hour), f.otherTenant},
		{"tenant without alerts", "c", hashA, "db01", t0.Add(-time.Hour), 0},
	} {
		got := openLookup(t, db, func(ctx context.Context, tx *sqlstore.Tx) (*ticket.Incident, error) {
			return tx.OpenIncidentByHash(ctx, c.tenant, c.sha, c.host, c.since)
		})
		if got != c.want {
			t.Errorf("%s: OpenIncidentByHash(%s, %.8s…, %s) = incident %d, want %d", c.name, c.tenant, c.sha, c.host, got, c.want)
		}
	}
}
