package storetest

import (
	"context"
	"testing"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// testParams checks that "$N" parameters bind by number in a transaction,
// also when a number repeats or comes out of order, and also the second
// time a statement runs (SQLite: from the transaction's prepared
// statements, rewritten to anonymous parameters), and that a missing
// argument is an error rather than a NULL.
func testParams(t *testing.T, db *sqlstore.DB) {
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		const q = `SELECT CAST($2 AS TEXT) || CAST($1 AS TEXT) || CAST($2 AS TEXT) || CAST($3 AS TEXT)`
		for i, args := range [][]any{{"a", "b", "c"}, {"x", "y", "z"}} {
			var got string
			if err := tx.QueryRowContext(ctx, q, args...).Scan(&got); err != nil {
				return err
			}
			want := args[1].(string) + args[0].(string) + args[1].(string) + args[2].(string)
			if got != want {
				t.Errorf("run %d: %s with %v = %q, want %q", i+1, q, args, got, want)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT CAST($1 AS TEXT) WHERE CAST($2 AS TEXT) = CAST($1 AS TEXT)`, "same", "same")
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if n != 1 {
			t.Errorf("QueryContext with $1 repeated: %d rows, want 1", n)
		}
		var s string
		if err := tx.QueryRowContext(ctx, `SELECT CAST($2 AS TEXT) || CAST($1 AS TEXT)`, "only one").Scan(&s); err == nil {
			t.Errorf("a query naming $2 with one argument gave %q, want an error", s)
		}
		return nil
	})
}
