package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// InboxItem is one raw payload as intake received it.
type InboxItem struct {
	ID         int64     `json:"id"`
	Tenant     string    `json:"tenant"`
	Source     string    `json:"source"`
	ReceivedAt time.Time `json:"received_at"`
	Payload    []byte    `json:"-"`
	State      string    `json:"state"`
	Error      string    `json:"error,omitempty"`
}

// Inbox states.
const (
	InboxPending     = "pending"
	InboxDone        = "done"
	InboxQuarantined = "quarantined"
)

// Accept stores payloads durably in one transaction (one commit for many
// requests: group commit). Optional cursor advances are written in the same
// transaction, so a poller never moves past payloads that were not stored.
func (db *DB) Accept(ctx context.Context, items []InboxItem, cursors []Cursor) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if len(items) > 0 {
			if err := tx.insertInbox(ctx, items); err != nil {
				return err
			}
		}
		for _, c := range cursors {
			if err := tx.PutCursor(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertInbox writes rows in multi-row INSERTs of up to 200 rows.
func (tx *Tx) insertInbox(ctx context.Context, items []InboxItem) error {
	rows := make([][]any, len(items))
	for i, it := range items {
		state := it.State
		if state == "" {
			state = InboxPending
		}
		rows[i] = []any{it.Tenant, it.Source, micros(it.ReceivedAt), it.Payload, state, it.Error}
	}
	if err := tx.execRows(ctx, "INSERT INTO inbox (tenant, source, received_at, payload, state, error) VALUES ", rows, "", nil); err != nil {
		return fmt.Errorf("insert inbox: %w", err)
	}
	return nil
}

// ClaimPending returns up to limit pending inbox rows, oldest first, locked
// for this transaction where the dialect supports it.
func (tx *Tx) ClaimPending(ctx context.Context, limit int) ([]InboxItem, error) {
	if err := tx.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant, source, received_at, payload, state, error
		FROM inbox WHERE state = 'pending' ORDER BY id LIMIT $1`+tx.dialect.ClaimSuffix, limit)
	if err != nil {
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	return scanInbox(rows)
}

// PeekPending returns up to limit pending inbox rows after afterID, oldest
// first, without claiming them: the processor decodes them while it
// triages the batch before them, and claims them in its next transaction
// (where another node may have taken some first).
func (tx *Tx) PeekPending(ctx context.Context, afterID int64, limit int) ([]InboxItem, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant, source, received_at, payload, state, error
		FROM inbox WHERE state = 'pending' AND id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("peek inbox: %w", err)
	}
	return scanInbox(rows)
}

func scanInbox(rows *sql.Rows) ([]InboxItem, error) {
	defer rows.Close()
	var out []InboxItem
	for rows.Next() {
		var it InboxItem
		var at int64
		if err := rows.Scan(&it.ID, &it.Tenant, &it.Source, &at, &it.Payload, &it.State, &it.Error); err != nil {
			return nil, err
		}
		it.ReceivedAt = fromMicros(at)
		out = append(out, it)
	}
	return out, rows.Err()
}

// PendingItem locks and returns one pending inbox row by id, or nil when it
// is no longer pending.
func (tx *Tx) PendingItem(ctx context.Context, id int64) (*InboxItem, error) {
	if err := tx.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant, source, received_at, payload, state, error
		FROM inbox WHERE id = $1 AND state = 'pending'`+tx.dialect.ClaimSuffix, id)
	if err != nil {
		return nil, fmt.Errorf("claim inbox %d: %w", id, err)
	}
	items, err := scanInbox(rows)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	return &items[0], nil
}

// FinishInbox marks an inbox row done, or quarantined with its reason.
//
// The update is deferred to commit, with the other rows of the batch, in one
// statement (see behind.go).
func (tx *Tx) FinishInbox(ctx context.Context, id int64, state, reason string, at time.Time) error {
	tx.behind.finishes = append(tx.behind.finishes, finish{id: id, state: state, reason: reason, at: micros(at)})
	return nil
}

// Quarantined lists a tenant's quarantined payloads, newest first.
func (db *DB) Quarantined(ctx context.Context, tenant string, limit int) ([]InboxItem, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, tenant, source, received_at, payload, state, error
		FROM inbox WHERE tenant = $1 AND state = 'quarantined' ORDER BY id DESC LIMIT $2`, tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return scanInbox(rows)
}

// InboxItem loads one inbox row of a tenant (to show a quarantined payload).
func (db *DB) InboxItem(ctx context.Context, tenant string, id int64) (*InboxItem, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, tenant, source, received_at, payload, state, error
		FROM inbox WHERE tenant = $1 AND id = $2`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("load inbox %d: %w", id, err)
	}
	items, err := scanInbox(rows)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("payload %d of tenant %s: %w", id, tenant, ErrNotFound)
	}
	return &items[0], nil
}

// Requeue puts quarantined payloads of a tenant back into the pipeline (after
// a fix to the decoder or the payload). ids empty means all of them. It
// returns how many rows were requeued.
func (db *DB) Requeue(ctx context.Context, tenant string, ids []int64) (int, error) {
	q := `UPDATE inbox SET state = 'pending', error = '' WHERE tenant = $1 AND state = 'quarantined'`
	args := []any{tenant}
	if len(ids) > 0 {
		var ph []string
		for _, id := range ids {
			args = append(args, id)
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
		}
		q += " AND id IN (" + strings.Join(ph, ",") + ")"
	}
	res, err := db.sql.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("requeue quarantine: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// InboxCounts returns how many inbox rows are in each state.
func (db *DB) InboxCounts(ctx context.Context, tenant string) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT state, COUNT(*) FROM inbox WHERE tenant = $1 GROUP BY state`, tenant)
	if err != nil {
		return nil, fmt.Errorf("count inbox: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// PendingCount is how many payloads wait for triage (all tenants).
func (db *DB) PendingCount(ctx context.Context) (int, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM inbox WHERE state = 'pending'`).Scan(&n)
	return n, err
}

// Cursor is a poller's position in a vendor API.
type Cursor struct {
	Tenant, Source, Value string
	UpdatedAt             time.Time
}

// PutCursor stores a poller's position.
func (tx *Tx) PutCursor(ctx context.Context, c Cursor) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cursors (tenant, source, cursor, updated_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (tenant, source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
		c.Tenant, c.Source, c.Value, micros(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put cursor %s/%s: %w", c.Tenant, c.Source, err)
	}
	return nil
}

// GetCursor returns a poller's stored position, or "" when it has none.
func (db *DB) GetCursor(ctx context.Context, tenant, source string) (string, error) {
	var v string
	err := db.sql.QueryRowContext(ctx, `SELECT cursor FROM cursors WHERE tenant = $1 AND source = $2`, tenant, source).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}
