// Package sqlstore is bannin's storage over database/sql. Both dialects
// (SQLite and PostgreSQL) share these queries: they are written in the subset
// of SQL both accept ($N placeholders, RETURNING, integer times in unix
// microseconds, JSON as text), while each dialect keeps its own DDL
// migrations and its own locking statements (see Dialect).
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Dialect is what differs between the two databases at run time.
type Dialect struct {
	Name string // "sqlite" or "postgres"
	// ClaimSuffix ends the query that claims pending inbox rows, so that
	// several nodes never claim the same row (PostgreSQL: FOR UPDATE SKIP
	// LOCKED); SQLite has one writer and needs none.
	ClaimSuffix string
	// TenantLock serialises triage per tenant across nodes; empty when the
	// database has a single writer anyway.
	TenantLock string
	// OneOff goes before the arguments of a statement whose text is built
	// for the call (multi-row writes, IN lists): an option telling the
	// driver not to prepare and cache it, where caching it would only push
	// the statements that are reused (River's polling, triage's lookups)
	// out of the driver's cache. PostgreSQL (pgx): set by package postgres.
	OneOff []any
}

// bind adapts a query's parameters to the dialect (see forSQLite).
func (d Dialect) bind(query string, args []any) (string, []any) {
	if d.Name != SQLite.Name {
		return query, args
	}
	return forSQLite(query, args)
}

// SQLite and Postgres are the two dialects.
var (
	SQLite   = Dialect{Name: "sqlite"}
	Postgres = Dialect{
		Name:        "postgres",
		ClaimSuffix: " FOR UPDATE SKIP LOCKED",
		TenantLock:  "SELECT pg_advisory_xact_lock(hashtext($1))",
	}
)

// DB is a bannin store.
type DB struct {
	sql     *sql.DB
	dialect Dialect
}

// New wraps an opened, migrated database.
func New(db *sql.DB, d Dialect) *DB { return &DB{sql: db, dialect: d} }

// SQL returns the underlying pool (River shares it).
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect names the database kind.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Tx is one transaction. All writes of one triage decision, and the jobs it
// causes, go through one Tx.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	// stmts caches prepared statements for the transaction's life: a triage
	// batch runs the same dozen statements for hundreds of alerts, and the
	// pure-Go SQLite engine otherwise parses each one every time.
	stmts map[string]*sql.Stmt
	// behind holds writes deferred to commit (see behind.go); primed holds
	// what a triage batch read ahead (see prime.go).
	behind behind
	primed *primed
}

// prepared returns the transaction's prepared form of query, or nil where
// the driver caches statements itself (pgx).
func (tx *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	if tx.dialect.Name != SQLite.Name {
		return nil
	}
	if st, ok := tx.stmts[query]; ok {
		return st
	}
	st, err := tx.tx.PrepareContext(ctx, rewrite(query).text)
	if err != nil {
		return nil // let the plain call report the error
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[query] = st
	return st
}

// ExecContext runs a statement in the transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.prepared(ctx, query); st != nil {
		if bound, ok := rewrite(query).bind(args); ok {
			return st.ExecContext(ctx, bound...)
		}
	}
	query, args = tx.dialect.bind(query, args)
	return tx.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.prepared(ctx, query); st != nil {
		if bound, ok := rewrite(query).bind(args); ok {
			return st.QueryContext(ctx, bound...)
		}
	}
	query, args = tx.dialect.bind(query, args)
	return tx.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.prepared(ctx, query); st != nil {
		if bound, ok := rewrite(query).bind(args); ok {
			return st.QueryRowContext(ctx, bound...)
		}
	}
	query, args = tx.dialect.bind(query, args)
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// oneOff prefixes args of a statement built for this call (see Dialect.OneOff).
func (tx *Tx) oneOff(args []any) []any {
	if len(tx.dialect.OneOff) == 0 {
		return args
	}
	return slices.Concat(tx.dialect.OneOff, args)
}

// SQL returns the transaction, for River's InsertManyTx.
func (tx *Tx) SQL() *sql.Tx { return tx.tx }

// InTx runs fn in a transaction, committing when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = stx.Rollback() }() // a no-op after Commit; frees the connection if fn panics
	tx := &Tx{tx: stx, dialect: db.dialect}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := tx.flush(ctx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// LockTenant serialises work on one tenant until the transaction ends.
func (tx *Tx) LockTenant(ctx context.Context, tenant string) error {
	if tx.dialect.TenantLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, tx.dialect.TenantLock, tenant)
	return err
}

// micros stores times as unix microseconds in both dialects.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func insertID(ctx context.Context, q queryer, query string, args ...any) (int64, error) {
	var id int64
	if err := q.QueryRowContext(ctx, query+" RETURNING id", args...).Scan(&id); err != nil {
		return 0, err
	}
	return id, nil
}
