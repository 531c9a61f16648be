package sqlstore

import (
	"slices"
	"testing"
)

func TestRewriteParams(t *testing.T) {
	cases := []struct {
		in, want string
		args     []any
		wantArgs []any
	}{
		{"SELECT 1", "SELECT 1", nil, nil},
		{"SELECT a FROM t WHERE x=$1 AND y=$2", "SELECT a FROM t WHERE x=? AND y=?", []any{1, 2}, []any{1, 2}},
		{"WHERE k.tenant=$1 AND i.tenant=$1 AND k IN ($2,$3)", "WHERE k.tenant=? AND i.tenant=? AND k IN (?,?)",
			[]any{"t", "a", "b"}, []any{"t", "t", "a", "b"}},
		{"WHERE a=$2 AND b=$1", "WHERE a=? AND b=?", []any{"one", "two"}, []any{"two", "one"}},
		{"VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			[]any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{"WHERE s='$1 it''s' AND \"$2\"=$1", "WHERE s='$1 it''s' AND \"$2\"=?", []any{"x"}, []any{"x"}},
		{"SELECT '$' || $1", "SELECT '$' || ?", []any{"x"}, []any{"x"}},
		{"WHERE a=$1 AND c=$3", "WHERE a=? AND c=?", []any{1, 2, 3}, []any{1, 3}},
		{"SELECT $0, $ x", "SELECT $0, $ x", nil, nil},
		{"SELECT a -- it's $1\nFROM t WHERE x=$1", "SELECT a -- it's $1\nFROM t WHERE x=?", []any{1}, []any{1}},
		{"SELECT /* $2 isn't */ $1", "SELECT /* $2 isn't */ ?", []any{1}, []any{1}},
		{"SELECT /* open $1", "SELECT /* open $1", []any{1}, []any{1}},
		// A parameter beyond the arguments stays as written: the driver
		// reports the missing argument instead of binding NULL.
		{"WHERE a=$2 AND b=$1 AND c=$3", "WHERE a=$2 AND b=$1 AND c=$3", []any{1, 2}, []any{1, 2}},
	}
	for _, c := range cases {
		got, args := forSQLite(c.in, c.args)
		if got != c.want || !slices.Equal(args, c.wantArgs) {
			t.Errorf("forSQLite(%q, %v) = %q, %v; want %q, %v", c.in, c.args, got, args, c.want, c.wantArgs)
		}
	}
}
