package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/ticket"
)

const actionCols = `id, tenant, incident_id, kind, source, host_key, host_id, state, reason, key, detail, attempts,
	approver, created_at, updated_at`

func scanAction(sc interface{ Scan(...any) error }) (*response.Action, error) {
	var a response.Action
	var kind, state string
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Tenant, &a.IncidentID, &kind, &a.Source, &a.HostKey, &a.HostID, &state, &a.Reason,
		&a.Key, &a.Detail, &a.Attempts, &a.Approver, &created, &updated); err != nil {
		return nil, err
	}
	a.Kind, a.State = response.Kind(kind), response.State(state)
	a.Incident = ticket.RefFor(a.IncidentID)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// InsertAction stores a containment step and sets its ID.
func (tx *Tx) InsertAction(ctx context.Context, a *response.Action) error {
	id, err := insertID(ctx, tx, `INSERT INTO actions (tenant, incident_id, kind, source, host_key, host_id, state,
		reason, key, detail, attempts, approver, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		a.Tenant, a.IncidentID, string(a.Kind), a.Source, a.HostKey, a.HostID, string(a.State), a.Reason, a.Key,
		a.Detail, a.Attempts, a.Approver, micros(a.CreatedAt), micros(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert action: %w", err)
	}
	a.ID = id
	a.Incident = ticket.RefFor(a.IncidentID)
	return nil
}

// Action loads one action of a tenant.
func (db *DB) Action(ctx context.Context, tenant string, id int64) (*response.Action, error) {
	a, err := scanAction(db.sql.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE tenant=$1 AND id=$2`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("action %d of tenant %s: %w", id, tenant, ErrNotFound)
	}
	return a, err
}

// UpdateAction records an action's new state, detail and attempt count.
func (tx *Tx) UpdateAction(ctx context.Context, a *response.Action) error {
	res, err := tx.ExecContext(ctx, `UPDATE actions SET state=$1, detail=$2, attempts=$3, approver=$4, updated_at=$5
		WHERE tenant=$6 AND id=$7`, string(a.State), a.Detail, a.Attempts, a.Approver, micros(a.UpdatedAt), a.Tenant, a.ID)
	if err != nil {
		return fmt.Errorf("update action %d: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update action %d: %w", a.ID, ErrNotFound)
	}
	return nil
}

// IncidentActions lists an incident's actions, oldest first.
func (db *DB) IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*response.Action, error) {
	return actions(ctx, db.sql, `WHERE tenant=$1 AND incident_id=$2 ORDER BY id`, tenant, incidentID)
}

// IncidentActions lists an incident's actions inside the transaction.
func (tx *Tx) IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*response.Action, error) {
	return actions(ctx, tx, `WHERE tenant=$1 AND incident_id=$2 ORDER BY id`, tenant, incidentID)
}

// HostActions lists every action on one host of a tenant: the isolation log.
func (db *DB) HostActions(ctx context.Context, tenant, hostKey string) ([]*response.Action, error) {
	return actions(ctx, db.sql, `WHERE tenant=$1 AND host_key=$2 ORDER BY id`, tenant, hostKey)
}

// TenantActions lists all actions of a tenant, oldest first.
func (db *DB) TenantActions(ctx context.Context, tenant string) ([]*response.Action, error) {
	return actions(ctx, db.sql, `WHERE tenant=$1 ORDER BY id`, tenant)
}

func actions(ctx context.Context, q queryer, where string, args ...any) ([]*response.Action, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+actionCols+` FROM actions `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	defer rows.Close()
	var out []*response.Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Isolations derives the isolation registry of a tenant from its completed
// actions: a host is isolated when its latest completed action is an isolate.
func (db *DB) Isolations(ctx context.Context, tenant string) ([]response.Isolation, error) {
	acts, err := actions(ctx, db.sql, `WHERE tenant=$1 AND state='done' ORDER BY updated_at, id`, tenant)
	if err != nil {
		return nil, err
	}
	latest := map[string]*response.Action{}
	var order []string
	for _, a := range acts {
		if _, ok := latest[a.HostKey]; !ok {
			order = append(order, a.HostKey)
		}
		latest[a.HostKey] = a
	}
	var out []response.Isolation
	for _, h := range order {
		a := latest[h]
		out = append(out, response.Isolation{Tenant: tenant, HostKey: h, HostID: a.HostID, Source: a.Source,
			Isolated: a.Kind == response.KindIsolate, Since: a.UpdatedAt, Incident: a.Incident})
	}
	return out, nil
}

const notificationCols = `id, tenant, incident_id, channel, contact, address, language, kind, state, attempts, detail,
	created_at, sent_at, about`

// InsertNotification stores a pending notification and sets its ID.
func (tx *Tx) InsertNotification(ctx context.Context, n *Notification) error {
	id, err := insertID(ctx, tx, `INSERT INTO notifications (tenant, incident_id, channel, contact, address, language,
		kind, state, attempts, detail, created_at, sent_at, about) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		n.Tenant, n.IncidentID, n.Channel, n.Contact, n.Address, n.Language, n.Kind, n.State, n.Attempts, n.Detail,
		micros(n.CreatedAt), micros(n.SentAt), n.About)
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	n.ID = id
	return nil
}

// Notification loads one notification of a tenant.
func (db *DB) Notification(ctx context.Context, tenant string, id int64) (*Notification, error) {
	ns, err := notifications(ctx, db.sql, `WHERE tenant=$1 AND id=$2`, tenant, id)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("notification %d of tenant %s: %w", id, tenant, ErrNotFound)
	}
	return ns[0], nil
}

// IncidentNotifications lists an incident's notifications, oldest first.
func (db *DB) IncidentNotifications(ctx context.Context, tenant string, incidentID int64) ([]*Notification, error) {
	return notifications(ctx, db.sql, `WHERE tenant=$1 AND incident_id=$2 ORDER BY id`, tenant, incidentID)
}

func notifications(ctx context.Context, q queryer, where string, args ...any) ([]*Notification, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+notificationCols+` FROM notifications `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []*Notification
	for rows.Next() {
		var n Notification
		var created, sent int64
		if err := rows.Scan(&n.ID, &n.Tenant, &n.IncidentID, &n.Channel, &n.Contact, &n.Address, &n.Language, &n.Kind,
			&n.State, &n.Attempts, &n.Detail, &created, &sent, &n.About); err != nil {
			return nil, err
		}
		n.CreatedAt, n.SentAt = fromMicros(created), fromMicros(sent)
		out = append(out, &n)
	}
	return out, rows.Err()
}

// RecordAttempt stores one delivery attempt and the notification's new state.
func (db *DB) RecordAttempt(ctx context.Context, n *Notification, at time.Time, ok bool, detail string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET state=$1, attempts=$2, detail=$3, sent_at=$4
			WHERE tenant=$5 AND id=$6`, n.State, n.Attempts, n.Detail, micros(n.SentAt), n.Tenant, n.ID)
		if err != nil {
			return fmt.Errorf("update notification %d: %w", n.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("notification %d of tenant %s: %w", n.ID, n.Tenant, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_attempts (notification_id, at, ok, detail)
			VALUES ($1,$2,$3,$4)`, n.ID, micros(at), boolInt(ok), detail); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		return tx.Audit(ctx, AuditEntry{Tenant: n.Tenant, At: at, Actor: "bannin", Action: "notification." + n.State,
			Object: ticket.RefFor(n.IncidentID), Detail: fmt.Sprintf("%s to %s (%s): %s", n.Channel, n.Contact, n.Address, detail)})
	})
}

// Attempts counts a tenant's notification's recorded delivery attempts.
func (db *DB) Attempts(ctx context.Context, tenant string, notificationID int64) (int, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM notification_attempts a JOIN notifications n ON n.id = a.notification_id
		WHERE n.tenant=$1 AND a.notification_id=$2`, tenant, notificationID).Scan(&n)
	return n, err
}

// SaveAction writes the containment worker's outcome of a requested action
// and its audit entry in one transaction. The action must still be
// requested: one cancelled meanwhile (its incident turned out a false
// positive) is not overwritten, and the error wraps response.ErrNotRequested.
func (db *DB) SaveAction(ctx context.Context, a *response.Action, auditAction, detail string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE actions SET state=$1, detail=$2, attempts=$3, approver=$4, updated_at=$5
			WHERE tenant=$6 AND id=$7 AND state=$8`, string(a.State), a.Detail, a.Attempts, a.Approver, micros(a.UpdatedAt),
			a.Tenant, a.ID, string(response.StateRequested))
		if err != nil {
			return fmt.Errorf("update action %d: %w", a.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			now, err := actions(ctx, tx, `WHERE tenant=$1 AND id=$2`, a.Tenant, a.ID)
			if err != nil {
				return err
			}
			if len(now) == 0 {
				return fmt.Errorf("update action %d: %w", a.ID, ErrNotFound)
			}
			return fmt.Errorf("action %d is %s: %w", a.ID, now[0].State, response.ErrNotRequested)
		}
		return tx.Audit(ctx, AuditEntry{Tenant: a.Tenant, At: a.UpdatedAt, Actor: "bannin", Action: auditAction,
			Object: a.Incident, Detail: fmt.Sprintf("%s %s (%s): %s", a.Kind, a.HostKey, a.HostID, detail)})
	})
}

// AuditAction writes an audit entry about an action without changing it.
func (db *DB) AuditAction(ctx context.Context, a *response.Action, auditAction, detail string, at time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error {
		return tx.Audit(ctx, AuditEntry{Tenant: a.Tenant, At: at, Actor: "bannin", Action: auditAction,
			Object: a.Incident, Detail: fmt.Sprintf("%s %s (%s): %s", a.Kind, a.HostKey, a.HostID, detail)})
	})
}
