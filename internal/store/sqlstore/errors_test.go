package sqlstore

import (
	"context"
	"errors"
	"fmt"
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
