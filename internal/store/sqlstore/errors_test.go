package sqlstore

import (
	"context"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsDataError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "22021"}, true},                           // invalid byte sequence (a NUL in text)
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), true}, // unique violation, wrapped
		{&pgconn.PgError{Code: "40001"}, false},                          // serialization failure: retry
		{&pgconn.PgError{Code: "57P01"}, false},                          // admin shutdown: wait
		{context.DeadlineExceeded, false},
		{errors.New("connection reset"), false},
	} {
		if got := IsDataError(c.err); got != c.want {
			t.Errorf("IsDataError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestIsConnError(t *testing.T) {
	_, refused := net.Dial("tcp", "127.0.0.1:1") // nothing listens on port 1
	if refused == nil {
		t.Fatal("something listens on 127.0.0.1:1")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{refused, true},
		{fmt.Errorf("migrate: error checking if `river_migration.line` exists: %w", io.ErrUnexpectedEOF), true},
		{&pgconn.PgError{Code: "57P03"}, true},                      // the database system is starting up
		{fmt.Errorf("x: %w", &pgconn.PgError{Code: "08006"}), true}, // connection failure
		{driver.ErrBadConn, true},
		{fmt.Errorf("tenant crash: commit: %w", pgconn.ErrConnClosed), true}, // seen in TestCrashFloodPostgresRestart
		{&pgconn.PgError{Code: "53300"}, true},                               // too many connections
		{&pgconn.PgError{Code: "25006"}, true},                               // read-only: a standby mid-failover
		{&net.DNSError{Err: "no such host", Name: "db.internal", IsNotFound: true}, true},
		{fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), false},                            // a certificate we refuse
		{&net.OpError{Op: "remote error", Err: x509.HostnameError{Host: "db.internal"}}, false}, // wrapped in a network error
		{&pgconn.PgError{Code: "42P01"}, false},                                                 // undefined table: a bug, not an outage
		{fmt.Errorf("connect postgres: %w", &pgconn.PgError{Code: "28P01"}), false},             // wrong password
		{&pgconn.PgError{Code: "23505"}, false},
		{errors.New("syntax error"), false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := IsConnError(c.err); got != c.want {
			t.Errorf("IsConnError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
