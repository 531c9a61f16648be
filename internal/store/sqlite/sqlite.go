// Package sqlite opens bannin's embedded store: one SQLite file (pure Go
// driver), WAL, foreign keys on, a busy timeout, and immediate transactions so
// that writers queue instead of failing. Its migrations live in migrations/.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the SQLite file at path and migrates it,
// River's tables included.
//
// Every commit is synced (synchronous FULL: an acknowledged alert survives
// a power cut). The page cache is 16 MiB instead of SQLite's 2 MiB, so
// triage's lookups of rollups and incidents mostly stay in memory, and the
// WAL is checkpointed into the database every 10,000 pages (about 40 MiB)
// instead of every 1,000, so a page that every triage batch rewrites (a
// rollup's, an index's) is copied into the database file once per
// checkpoint, not once every batch or two. bench ingest's pipeline (40,000
// alerts, three alternating runs) went from 2,315-2,491 to 2,769-2,947
// alerts/s; bench latency's peak RSS at 1,000 alerts/s from 66 to 91 MB
// (a 64 MiB cache gave the same speed at 188 MB; docs/BENCHMARKS.md).
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	return open(ctx, path, "journal_mode(WAL)", "synchronous(FULL)", "cache_size(-16384)", "wal_autocheckpoint(10000)")
}

// OpenScratch opens a store that is thrown away when its run ends (replay
// on a temporary file): nothing in it needs to survive a crash, so it is
// never synced to disk, its pages are 8 KiB (a replayed payload is about
// 2 KiB: fewer, fuller pages to write) and its page cache is larger (64
// MiB). The rollback journal is a file kept between transactions
// (PERSIST), and statement journals and temporary tables are in memory. A
// rollback journal in memory (MEMORY) made every transaction allocate its
// journal afresh and give the memory back at commit, and on a machine
// where the kernel charges much for new pages that took a quarter of the
// time: a 1,009,805-line replay took 236 s with it and 128 s with the
// rollback journal in a file and statement journals in memory
// (docs/BENCHMARKS.md, 5th session). The file is locked
// for the run's one connection alone (locking_mode EXCLUSIVE), which
// spares each transaction its file locks and its check whether another
// process changed the file. Transactions still commit and roll back as in
// Open; a crash mid-run leaves a file nobody reads.
func OpenScratch(ctx context.Context, path string) (*sqlstore.DB, error) {
	return open(ctx, path, "page_size(8192)", "journal_mode(PERSIST)", "synchronous(OFF)", "cache_size(-65536)",
		"temp_store(MEMORY)", "locking_mode(EXCLUSIVE)")
}

func open(ctx context.Context, path string, pragmas ...string) (*sqlstore.DB, error) {
	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(10000)", "foreign_keys(1)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite has one writer. One connection makes every statement queue in
	// Go instead of failing with SQLITE_BUSY (River's advice for its driver).
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	return sqlstore.New(db, sqlstore.SQLite), nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}
