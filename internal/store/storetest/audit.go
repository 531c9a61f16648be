package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// A panic inside InTx (recovered further up, as River does for its workers)
// rolls the transaction back and returns its connection: otherwise the
// single SQLite connection stays taken for good, and on PostgreSQL the
// claimed rows and the tenant lock stay held.
func testInTxPanic(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the callback's panic", p)
			}
		}()
		_ = db.InTx(ctx, func(tx *sqlstore.Tx) error {
			if err := tx.PutCursor(ctx, sqlstore.Cursor{Tenant: "a", Source: "falcon", Value: "lost"}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if n := db.SQL().Stats().InUse; n != 0 {
		t.Fatalf("%d connections still in use after a panic inside InTx, want 0", n)
	}
	if v, err := db.GetCursor(ctx, "a", "falcon"); v != "" || err != nil {
		t.Errorf("cursor written before the panic = %q, %v; want it rolled back", v, err)
	}
}

// The audit log reads back in the order it was written, whatever the times
// the entries carry (replays write virtual times).
func testAuditOrder(t *testing.T, db *sqlstore.DB) {
	entries := []sqlstore.AuditEntry{
		{Tenant: "a", At: t0.Add(time.Hour), Actor: "bannin", Action: "incident.opened", Object: "INC-000001", Detail: "score 72"},
		{Tenant: "a", At: t0, Actor: "alice", Action: "action.approved", Object: "INC-000001", Detail: "by phone"},
		{Tenant: "a", At: t0.Add(time.Minute), Actor: "bannin", Action: "action.done", Object: "INC-000001", Detail: ""},
	}
	write := func(es ...sqlstore.AuditEntry) {
		t.Helper()
		inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
			for _, e := range es {
				if err := tx.Audit(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
	}
	write(entries[0], sqlstore.AuditEntry{Tenant: "b", At: t0, Actor: "bob", Action: "tenant.applied", Object: "b"})
	write(entries[1:]...)

	// Entries of a rolled-back transaction are not kept.
	err := db.InTx(t.Context(), func(tx *sqlstore.Tx) error {
		if err := tx.Audit(t.Context(), sqlstore.AuditEntry{Tenant: "a", At: t0, Actor: "x", Action: "lost"}); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("InTx returned nil for a failing callback")
	}

	got := auditLog(t, db, "a")
	diff(t, "AuditLog (in the order written)", entries, got, ignoreAuditID)
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Errorf("audit ids %d then %d: want increasing", got[i-1].ID, got[i].ID)
		}
	}
}

func testTenants(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	_, err := db.Tenant(ctx, "acme")
	wantNotFound(t, "Tenant(missing)", err)

	rec := sqlstore.TenantRecord{ID: "acme", Name: "ACME K.K.", Config: []byte("id: acme\nname: ACME K.K.\n"),
		Secrets: "sealed:v1:Zm9v", UpdatedAt: t0}
	check(t, "PutTenant", db.PutTenant(ctx, rec, "ops@example.com"))
	got, err := db.Tenant(ctx, "acme")
	check(t, "Tenant", err)
	diff(t, "Tenant", &rec, got)

	// Applying the tenant again replaces it.
	rec2 := sqlstore.TenantRecord{ID: "acme", Name: "ACME Holdings", Config: []byte("id: acme\nname: ACME Holdings\n"),
		Secrets: "sealed:v1:YmFy", UpdatedAt: t0.Add(time.Hour)}
	check(t, "PutTenant again", db.PutTenant(ctx, rec2, "bob"))
	got, err = db.Tenant(ctx, "acme")
	check(t, "Tenant", err)
	diff(t, "replaced Tenant", &rec2, got)

	diff(t, "audit", []sqlstore.AuditEntry{
		{Tenant: "acme", At: t0, Actor: "ops@example.com", Action: "tenant.applied", Object: "acme",
			Detail: "25 bytes of configuration"},
		{Tenant: "acme", At: t0.Add(time.Hour), Actor: "bob", Action: "tenant.applied", Object: "acme",
			Detail: "29 bytes of configuration"},
	}, auditLog(t, db, "acme"), ignoreAuditID)

	_, err = db.Tenant(ctx, "other")
	wantNotFound(t, "Tenant(other)", err)
}
