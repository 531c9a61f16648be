package sqlstore

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsDataError reports whether err is the database refusing a value itself —
// PostgreSQL's classes 22 (data exception) and 23 (integrity constraint),
// SQLite's constraint, mismatch and too-big errors — rather than a failure
// of the connection, a lock or a time-out. Retrying such a statement with
// the same data fails the same way.
func IsDataError(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return len(pg.Code) == 5 && (pg.Code[:2] == "22" || pg.Code[:2] == "23")
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
			return true
		}
	}
	return false
}
