package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// tenantA is everything tenant "a" owns in the isolation test.
type tenantA struct {
	incident     *ticket.Incident
	alert        *sqlstore.AlertRow
	action       *response.Action
	notification *sqlstore.Notification
	quarantined  []sqlstore.InboxItem
}

func writeTenantA(t *testing.T, db *sqlstore.DB) tenantA {
	t.Helper()
	var a tenantA
	a.incident = newIncident("a", "a's incident", t0)
	insertIncident(t, db, a.incident)
	a.alert = insertAlert(t, db, a.incident.ID, newAlert("a", "det-1", "web01", hashA, t0))
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		return tx.AddNote(ctx, "a", a.incident.ID, ticket.Note{At: t0, Author: "bannin", Text: "opened"})
	})
	a.action = newAction("a", a.incident.ID, response.KindIsolate, "web01", response.StateRequested, t0)
	insertAction(t, db, a.action)
	finish(t, db, a.action, response.StateDone, t0.Add(time.Minute)) // audited
	a.notification = newNotification("a", a.incident.ID, "alice", t0)
	insertNotification(t, db, a.notification)
	check(t, "PutTenant", db.PutTenant(t.Context(), sqlstore.TenantRecord{ID: "a", Name: "A", Config: []byte("id: a\n"),
		UpdatedAt: t0}, "ops"))
	accept(t, db, []sqlstore.InboxItem{item("a", "falcon", 1), item("a", "falcon", 2)},
		[]sqlstore.Cursor{{Tenant: "a", Source: "falcon", Value: "42", UpdatedAt: t0}})
	a.quarantined = claim(t, db, 10, func(int, sqlstore.InboxItem) (string, string) {
		return sqlstore.InboxQuarantined, "bad"
	})
	return a
}

// Nothing tenant "a" wrote can be read, changed or requeued as tenant "b".
func testTenantIsolation(t *testing.T, db *sqlstore.DB) {
	a := writeTenantA(t, db)
	checkIsolatedIncidents(t, db, a)
	checkIsolatedAlerts(t, db, a)
	checkIsolatedActions(t, db, a)
	checkIsolatedRest(t, db, a)

	// And tenant "a" still sees all of it.
	diff(t, "a's incident", a.incident, getIncident(t, db, "a", a.incident.ID))
	diff(t, "a's action", a.action, getAction(t, db, "a", a.action.ID))
	diff(t, "a's quarantine", len(a.quarantined), len(quarantined(t, db, "a")))
	if len(auditLog(t, db, "a")) == 0 {
		t.Error("a's audit log is empty")
	}
}

func checkIsolatedIncidents(t *testing.T, db *sqlstore.DB, a tenantA) {
	t.Helper()
	ctx := t.Context()
	_, err := db.Incident(ctx, "b", a.incident.ID)
	wantNotFound(t, "Incident(b, a's id)", err)
	list, err := db.Incidents(ctx, "b")
	check(t, "Incidents", err)
	diff(t, "Incidents(b)", []*ticket.Incident(nil), list)
	notes, err := db.Notes(ctx, "b", a.incident.ID)
	check(t, "Notes", err)
	diff(t, "Notes(b, a's incident)", []ticket.Note(nil), notes)

	wrong := *a.incident
	wrong.Tenant, wrong.Title, wrong.Status = "b", "hijacked", ticket.StatusClosed
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		_, err := tx.Incident(ctx, "b", a.incident.ID)
		wantNotFound(t, "Tx.Incident(b, a's id)", err)
		return nil
	})
	wantNotFound(t, "UpdateIncident as b", db.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.UpdateIncident(ctx, &wrong) }))
}

func checkIsolatedAlerts(t *testing.T, db *sqlstore.DB, a tenantA) {
	t.Helper()
	ctx := t.Context()
	diff(t, "IncidentAlerts(b, a's incident)", []sqlstore.AlertRow(nil), incidentAlerts(t, db, "b", a.incident.ID))
	counts, err := db.DispositionCounts(ctx, "b")
	check(t, "DispositionCounts", err)
	diff(t, "DispositionCounts(b)", map[string]int{}, counts)
	al := a.alert.Alert
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		rows, err := tx.IncidentAlerts(ctx, "b", a.incident.ID)
		diff(t, "Tx.IncidentAlerts(b, a's incident)", []sqlstore.AlertRow(nil), rows)
		if seen, err := tx.AlertSeen(ctx, "b", al.Source, al.VendorID); seen || err != nil {
			t.Errorf("AlertSeen(b, a's alert) = %v, %v", seen, err)
		}
		if h, d, err := tx.Prevalence(ctx, "b", al.Pattern(), time.Time{}); h != 0 || d != 0 || err != nil {
			t.Errorf("Prevalence(b, a's pattern) = %d, %d, %v", h, d, err)
		}
		for name, in := range map[string]func() (*ticket.Incident, error){
			"fingerprint": func() (*ticket.Incident, error) { return tx.OpenIncidentByFingerprint(ctx, "b", al.Fingerprint()) },
			"host":        func() (*ticket.Incident, error) { return tx.OpenIncidentByHost(ctx, "b", "web01", time.Time{}) },
			"hash":        func() (*ticket.Incident, error) { return tx.OpenIncidentByHash(ctx, "b", hashA, "db01", time.Time{}) },
		} {
			if got, err := in(); got != nil || err != nil {
				t.Errorf("OpenIncidentBy %s as b = %v, %v; want nil, nil", name, got, err)
			}
		}
		return err
	})
}

func checkIsolatedActions(t *testing.T, db *sqlstore.DB, a tenantA) {
	t.Helper()
	ctx := t.Context()
	_, err := db.Action(ctx, "b", a.action.ID)
	wantNotFound(t, "Action(b, a's id)", err)
	for name, list := range map[string]func() ([]*response.Action, error){
		"IncidentActions": func() ([]*response.Action, error) { return db.IncidentActions(ctx, "b", a.incident.ID) },
		"HostActions":     func() ([]*response.Action, error) { return db.HostActions(ctx, "b", "web01") },
		"TenantActions":   func() ([]*response.Action, error) { return db.TenantActions(ctx, "b") },
	} {
		got, err := list()
		check(t, name, err)
		diff(t, name+"(b)", []*response.Action(nil), got)
	}
	diff(t, "Isolations(b)", []response.Isolation(nil), isolations(t, db, "b"))

	wrong := *a.action
	wrong.Tenant, wrong.State = "b", response.StateFailed
	wantNotFound(t, "UpdateAction as b", db.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.UpdateAction(ctx, &wrong) }))
	wantNotFound(t, "SaveAction as b", db.SaveAction(ctx, &wrong, "action.failed", "hijacked"))
}

func checkIsolatedRest(t *testing.T, db *sqlstore.DB, a tenantA) {
	t.Helper()
	ctx := t.Context()
	_, err := db.Notification(ctx, "b", a.notification.ID)
	wantNotFound(t, "Notification(b, a's id)", err)
	ns, err := db.IncidentNotifications(ctx, "b", a.incident.ID)
	check(t, "IncidentNotifications", err)
	diff(t, "IncidentNotifications(b)", []*sqlstore.Notification(nil), ns)

	diff(t, "AuditLog(b)", []sqlstore.AuditEntry(nil), auditLog(t, db, "b"))
	_, err = db.Tenant(ctx, "b")
	wantNotFound(t, "Tenant(b)", err)
	if v, err := db.GetCursor(ctx, "b", "falcon"); v != "" || err != nil {
		t.Errorf("GetCursor(b) = %q, %v", v, err)
	}

	diff(t, "Quarantined(b)", []sqlstore.InboxItem(nil), quarantined(t, db, "b"))
	diff(t, "InboxCounts(b)", map[string]int{}, inboxCounts(t, db, "b"))
	for _, ids := range [][]int64{{a.quarantined[0].ID, a.quarantined[1].ID}, nil} {
		if n, err := db.Requeue(ctx, "b", ids); n != 0 || err != nil {
			t.Errorf("Requeue(b, %v) = %d, %v; want 0, nil", ids, n, err)
		}
	}
	diff(t, "InboxCounts(a) after b's requeue", map[string]int{sqlstore.InboxQuarantined: 2}, inboxCounts(t, db, "a"))
}
