package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Audit appends an entry to the audit log.
//
// The entry is written with the transaction's other deferred rows just
// before commit (so it is in the log exactly when the change it records is).
func (tx *Tx) Audit(ctx context.Context, e AuditEntry) error {
	tx.behind.audits = append(tx.behind.audits, e)
	return nil
}

// AuditLog returns a tenant's audit entries, oldest first.
func (db *DB) AuditLog(ctx context.Context, tenant string) ([]AuditEntry, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, tenant, at, actor, action, object, detail FROM audit
		WHERE tenant=$1 ORDER BY id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Tenant, &at, &e.Actor, &e.Action, &e.Object, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PutTenant stores or replaces a tenant, audited.
func (db *DB) PutTenant(ctx context.Context, t TenantRecord, actor string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, config, secrets, updated_at) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (id) DO UPDATE SET name=excluded.name, config=excluded.config, secrets=excluded.secrets,
			updated_at=excluded.updated_at`, t.ID, t.Name, string(t.Config), t.Secrets, micros(t.UpdatedAt))
		if err != nil {
			return fmt.Errorf("put tenant %s: %w", t.ID, err)
		}
		return tx.Audit(ctx, AuditEntry{Tenant: t.ID, At: t.UpdatedAt, Actor: actor, Action: "tenant.applied", Object: t.ID,
			Detail: fmt.Sprintf("%d bytes of configuration", len(t.Config))})
	})
}

// Tenant loads a stored tenant.
func (db *DB) Tenant(ctx context.Context, id string) (*TenantRecord, error) {
	var t TenantRecord
	var cfg string
	var at int64
	err := db.sql.QueryRowContext(ctx, `SELECT id, name, config, secrets, updated_at FROM tenants WHERE id=$1`, id).
		Scan(&t.ID, &t.Name, &cfg, &t.Secrets, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	t.Config, t.UpdatedAt = []byte(cfg), fromMicros(at)
	return &t, nil
}

// TenantIDs lists the tenants applied to the store.
func (db *DB) TenantIDs(ctx context.Context) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
