package sqlstore

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

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

// IsConnError reports whether err is the store being out of reach — the
// connection refused, reset or cut in the middle of a reply, the host not
// found, PostgreSQL's class 08 (connection exception), the server shutting
// down or still starting (57P01–57P03), out of connections (53300) or, in
// a failover, a standby that does not take writes yet (25006) — rather than
// anything about the statement or the configuration. Such a failure may
// pass when the server is back; retrying anything else fails the same way.
// A certificate the client refuses is configuration, not an outage.
func IsConnError(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "57P01", "57P02", "57P03", "53300", "25006":
			return true
		}
		return strings.HasPrefix(pg.Code, "08")
	}
	var unknownCA x509.UnknownAuthorityError
	var badCert x509.CertificateInvalidError
	var badHost x509.HostnameError
	var tlsRecord tls.RecordHeaderError
	if errors.As(err, &unknownCA) || errors.As(err, &badCert) || errors.As(err, &badHost) || errors.As(err, &tlsRecord) {
		return false
	}
	if errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true // the connection closed under us, or nothing was sent yet
	}
	var connect *pgconn.ConnectError
	var netErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &connect) || errors.As(err, &netErr) || errors.As(err, &dnsErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
