// Package postgres opens bannin's scale-out store: PostgreSQL through pgx's
// database/sql driver, so that the same queries and River's database/sql
// driver serve both stores. Its migrations live in migrations/.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database at url (postgres://…) and migrates it,
// River's tables included. Several bannin nodes may open one database.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	// Keep them open: database/sql keeps 2 idle by default, so a busy node
	// closed and reopened connections all the time, each preparing River's
	// and triage's statements again.
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	d := sqlstore.Postgres
	// Statements built per call are described and run on the unnamed
	// statement: the same two round trips as preparing them, without
	// evicting the reused statements from pgx's cache.
	d.OneOff = []any{pgx.QueryExecModeDescribeExec}
	return sqlstore.New(db, d), nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	// Two nodes starting at once must not migrate at the same time.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7373001)`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7373001)`)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}
