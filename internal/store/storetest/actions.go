package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

var ignoreAuditID = cmpopts.IgnoreFields(sqlstore.AuditEntry{}, "ID")

func getAction(t *testing.T, db *sqlstore.DB, tenant string, id int64) *response.Action {
	t.Helper()
	a, err := db.Action(t.Context(), tenant, id)
	check(t, "Action", err)
	return a
}

func testActions(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	other := insertIncident(t, db, newIncident("a", "other", t0))
	isolate := newAction("a", inc, response.KindIsolate, "web01", response.StateAwaitingApproval, t0)
	insertAction(t, db, isolate)
	if isolate.Incident != "INC-000001" {
		t.Errorf("InsertAction set Incident %q, want INC-000001", isolate.Incident)
	}
	diff(t, "Action", isolate, getAction(t, db, "a", isolate.ID))

	// Only state, detail, attempts, approver and updated_at change.
	upd := *isolate
	upd.State, upd.Detail, upd.Attempts, upd.Approver = response.StateRequested, "approved by phone", 1, "alice"
	upd.UpdatedAt = t0.Add(time.Minute)
	upd.Reason, upd.HostID = "changed", "changed"
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.UpdateAction(ctx, &upd) })
	want := upd
	want.Reason, want.HostID = isolate.Reason, isolate.HostID
	diff(t, "updated Action", &want, getAction(t, db, "a", isolate.ID))

	missing := upd
	missing.ID += 100
	wantNotFound(t, "UpdateAction(missing)", db.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.UpdateAction(ctx, &missing) }))
	_, err := db.Action(ctx, "a", missing.ID)
	wantNotFound(t, "Action(missing)", err)

	// The idempotency key sent to the vendor is unique.
	dup := newAction("a", other, response.KindIsolate, "db01", response.StateRequested, t0)
	dup.Key = isolate.Key
	if err := db.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.InsertAction(ctx, dup) }); err == nil {
		t.Error("InsertAction with a used key succeeded")
	}
}

func testActionLists(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	other := insertIncident(t, db, newIncident("a", "other", t0))
	web01 := newAction("a", inc, response.KindIsolate, "web01", response.StateDone, t0)
	db01 := newAction("a", other, response.KindIsolate, "db01", response.StateRequested, t0.Add(time.Second))
	release := newAction("a", inc, response.KindRelease, "web01", response.StateRequested, t0.Add(2*time.Second))
	for _, a := range []*response.Action{web01, db01, release} {
		insertAction(t, db, a)
	}
	listings := []struct {
		name string
		fn   func() ([]*response.Action, error)
		want []*response.Action
	}{
		{"IncidentActions", func() ([]*response.Action, error) { return db.IncidentActions(ctx, "a", inc) }, []*response.Action{web01, release}},
		{"HostActions", func() ([]*response.Action, error) { return db.HostActions(ctx, "a", "web01") }, []*response.Action{web01, release}},
		{"TenantActions", func() ([]*response.Action, error) { return db.TenantActions(ctx, "a") }, []*response.Action{web01, db01, release}},
	}
	for _, l := range listings {
		got, err := l.fn()
		check(t, l.name, err)
		diff(t, l.name+" (oldest first)", l.want, got)
	}
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		got, err := tx.IncidentActions(ctx, "a", other)
		diff(t, "Tx.IncidentActions", []*response.Action{db01}, got)
		return err
	})
}

// SaveAction writes the action's new state and its audit entry together.
func testSaveAction(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	a := newAction("a", inc, response.KindIsolate, "web01", response.StateRequested, t0)
	insertAction(t, db, a)

	a.State, a.Detail, a.Attempts, a.UpdatedAt = response.StateDone, "contained", 1, t0.Add(time.Minute)
	check(t, "SaveAction", db.SaveAction(ctx, a, "action.done", "vendor confirmed"))
	diff(t, "saved Action", a, getAction(t, db, "a", a.ID))
	diff(t, "audit", []sqlstore.AuditEntry{{Tenant: "a", At: a.UpdatedAt, Actor: "bannin", Action: "action.done",
		Object: "INC-000001", Detail: "isolate web01 (hid-web01): vendor confirmed"}}, auditLog(t, db, "a"), ignoreAuditID)

	missing := *a
	missing.ID += 100
	wantNotFound(t, "SaveAction(missing)", db.SaveAction(ctx, &missing, "action.failed", "x"))
	if log := auditLog(t, db, "a"); len(log) != 1 {
		t.Errorf("audit holds %d entries after a failed SaveAction, want 1 (no entry without the change)", len(log))
	}

	// The worker's outcome is not written over an action no longer
	// requested (cancelled while the vendor call ran).
	c := newAction("a", inc, response.KindIsolate, "web02", response.StateRequested, t0)
	insertAction(t, db, c)
	c.State, c.UpdatedAt = response.StateCancelled, t0
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.UpdateAction(ctx, c) })
	done := *c
	done.State = response.StateDone
	if err := db.SaveAction(ctx, &done, "action.done", "late"); !errors.Is(err, response.ErrNotRequested) {
		t.Errorf("SaveAction over a cancelled action: err %v, want ErrNotRequested", err)
	}
	if got := getAction(t, db, "a", c.ID); got.State != response.StateCancelled {
		t.Errorf("cancelled action became %s", got.State)
	}
}

func isolations(t *testing.T, db *sqlstore.DB, tenant string) []response.Isolation {
	t.Helper()
	iso, err := db.Isolations(t.Context(), tenant)
	check(t, "Isolations", err)
	return iso
}

// finish completes an action at the given time, as the containment worker does.
func finish(t *testing.T, db *sqlstore.DB, a *response.Action, state response.State, at time.Time) {
	t.Helper()
	a.State, a.UpdatedAt = state, at
	check(t, "SaveAction", db.SaveAction(t.Context(), a, "action."+string(state), ""))
}

// The isolation registry follows each host's latest completed action.
func testIsolations(t *testing.T, db *sqlstore.DB) {
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	if iso := isolations(t, db, "a"); len(iso) != 0 {
		t.Errorf("Isolations of an empty store = %v", iso)
	}
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	act := func(kind response.Kind, host string, at time.Time) *response.Action {
		a := newAction("a", inc, kind, host, response.StateRequested, at)
		insertAction(t, db, a)
		return a
	}
	web := act(response.KindIsolate, "web01", t0)
	db01 := act(response.KindIsolate, "db01", t0)
	act(response.KindIsolate, "mail01", t0) // never completes
	finish(t, db, web, response.StateDone, t1)
	finish(t, db, db01, response.StateDone, t1)

	isolated := func(a *response.Action, yes bool, since time.Time) response.Isolation {
		return response.Isolation{Tenant: "a", HostKey: a.HostKey, HostID: a.HostID, Source: a.Source,
			Isolated: yes, Since: since, Incident: "INC-000001"}
	}
	diff(t, "after isolating", []response.Isolation{isolated(web, true, t1), isolated(db01, true, t1)}, isolations(t, db, "a"))

	finish(t, db, act(response.KindRelease, "web01", t1), response.StateDone, t2)
	finish(t, db, act(response.KindRelease, "db01", t1), response.StateFailed, t2) // a failed release changes nothing
	act(response.KindRelease, "db01", t2)                                          // nor does a pending one
	diff(t, "after releasing web01", []response.Isolation{isolated(web, false, t2), isolated(db01, true, t1)}, isolations(t, db, "a"))
}

func testNotifications(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	other := insertIncident(t, db, newIncident("a", "other", t0))
	first := newNotification("a", inc, "alice", t0)
	second := newNotification("a", inc, "bob", t0.Add(time.Second))
	second.Channel, second.Address, second.Kind = "phone", "+81-3-0000-0000", "update"
	elsewhere := newNotification("a", other, "carol", t0)
	for _, n := range []*sqlstore.Notification{first, second, elsewhere} {
		insertNotification(t, db, n)
	}

	got, err := db.Notification(ctx, "a", second.ID)
	check(t, "Notification", err)
	diff(t, "Notification", second, got)
	list, err := db.IncidentNotifications(ctx, "a", inc)
	check(t, "IncidentNotifications", err)
	diff(t, "IncidentNotifications", []*sqlstore.Notification{first, second}, list)

	_, err = db.Notification(ctx, "a", elsewhere.ID+100)
	wantNotFound(t, "Notification(missing)", err)
}

// RecordAttempt stores each delivery attempt, the notification's new state
// and an audit entry, together.
func testRecordAttempt(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	n := newNotification("a", inc, "alice", t0)
	insertNotification(t, db, n)

	n.Attempts, n.Detail = 1, "421 try again later"
	check(t, "RecordAttempt", db.RecordAttempt(ctx, n, t0.Add(time.Minute), false, n.Detail))
	n.Attempts, n.State, n.Detail, n.SentAt = 2, "sent", "250 queued", t0.Add(2*time.Minute)
	check(t, "RecordAttempt", db.RecordAttempt(ctx, n, n.SentAt, true, n.Detail))

	attempts, err := db.Attempts(ctx, n.Tenant, n.ID)
	check(t, "Attempts", err)
	if attempts != 2 {
		t.Errorf("Attempts = %d, want 2", attempts)
	}
	got, err := db.Notification(ctx, "a", n.ID)
	check(t, "Notification", err)
	diff(t, "Notification after two attempts", n, got)
	diff(t, "audit", []sqlstore.AuditEntry{
		{Tenant: "a", At: t0.Add(time.Minute), Actor: "bannin", Action: "notification.pending", Object: "INC-000001",
			Detail: "email to alice (alice@example.com): 421 try again later"},
		{Tenant: "a", At: t0.Add(2 * time.Minute), Actor: "bannin", Action: "notification.sent", Object: "INC-000001",
			Detail: "email to alice (alice@example.com): 250 queued"},
	}, auditLog(t, db, "a"), ignoreAuditID)
}

// RecordAttempt as another tenant changes nothing and says so.
func testRecordAttemptWrongTenant(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	inc := insertIncident(t, db, newIncident("a", "incident", t0))
	n := newNotification("a", inc, "alice", t0)
	insertNotification(t, db, n)

	wrong := *n
	wrong.Tenant, wrong.State, wrong.Attempts, wrong.SentAt = "b", "sent", 1, t0
	wantNotFound(t, "RecordAttempt as b", db.RecordAttempt(ctx, &wrong, t0, true, "hijacked"))
	attempts, err := db.Attempts(ctx, n.Tenant, n.ID)
	check(t, "Attempts", err)
	if attempts != 0 {
		t.Errorf("Attempts on a's notification = %d, want 0", attempts)
	}
	got, err := db.Notification(ctx, "a", n.ID)
	check(t, "Notification", err)
	diff(t, "a's notification", n, got)
	diff(t, "AuditLog(b)", []sqlstore.AuditEntry(nil), auditLog(t, db, "b"))
}
