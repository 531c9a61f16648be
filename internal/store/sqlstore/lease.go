package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// Lease is the right to do one job alone (poll one source) among the nodes
// sharing a store. On PostgreSQL it is a session advisory lock held on its
// own connection: when its holder dies, the connection closes and the lease
// is free for another node at once.
type Lease struct {
	conn *sql.Conn
	key  string
}

// leaseNamespace keeps poller leases apart from other advisory locks.
const leaseNamespace = 7373002

// TryLease takes the lease named key if no other node holds it. SQLite has a
// single writer and so a single node: the lease is always granted.
func (db *DB) TryLease(ctx context.Context, key string) (*Lease, bool, error) {
	if db.dialect.Name != Postgres.Name {
		return &Lease{key: key}, true, nil
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lease %s: %w", key, err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, leaseNamespace, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lease %s: %w", key, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return &Lease{conn: conn, key: key}, true, nil
}

// Alive checks that the lease's session still exists (a store restart ends
// it; the holder must then take the lease again).
func (l *Lease) Alive(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	return l.conn.PingContext(ctx)
}

// Release gives the lease up.
func (l *Lease) Release() {
	if l.conn == nil {
		return
	}
	l.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, hashtext($2))`, leaseNamespace, l.key)
	l.conn.Close()
}
