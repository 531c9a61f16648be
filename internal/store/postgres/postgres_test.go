package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the schema set-up

	"github.com/bannin-soc/bannin/internal/store/postgres"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/store/storetest"
)

// TestConformance runs the store suite on PostgreSQL, each subtest in a
// schema of its own, when BANNIN_TEST_PG names a database, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
func TestConformance(t *testing.T) {
	base := os.Getenv("BANNIN_TEST_PG")
	if base == "" {
		t.Skip("BANNIN_TEST_PG is not set; set it to a PostgreSQL URL (postgres://user@host:5432/db?sslmode=disable) to run the PostgreSQL store suite")
	}
	storetest.Run(t, func(t *testing.T) *sqlstore.DB {
		t.Helper()
		dsn, schema := freshSchema(t, base)
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		wantTablesIn(t, db, schema)
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return db
	})
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns it and base with its search_path set to it: bannin's and River's
// migrations then create their tables there, and tests of other packages
// running against the same database never see them.
func freshSchema(t *testing.T, base string) (dsn, schema string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("BANNIN_TEST_PG: %v", err)
	}
	// Lower-case letters and digits: the name needs no quoting anywhere.
	schema = "bt_" + strings.ToLower(rand.Text()[:16])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// wantTablesIn checks that bannin's, goose's and River's tables all landed
// in the test's schema.
func wantTablesIn(t *testing.T, db *sqlstore.DB, schema string) {
	t.Helper()
	for _, table := range []string{"incidents", "inbox", "goose_db_version", "river_job", "river_migration"} {
		var n int
		err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM information_schema.tables
			WHERE table_schema = $1 AND table_name = $2`, schema, table).Scan(&n)
		if err != nil {
			t.Fatalf("look for table %s: %v", table, err)
		}
		if n != 1 {
			t.Fatalf("table %s is not in schema %s", table, schema)
		}
	}
}
