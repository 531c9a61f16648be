package sqlstore

import (
	"strconv"
	"strings"
	"sync"
)

// SQLite resolves a "$N" parameter as a named one: while parsing it looks
// the name up in a list of the names seen so far, and the driver (modernc)
// asks for each parameter's name when binding, which walks that list again.
// Both are linear per parameter, so a statement of n parameters costs n²;
// at a few hundred parameters (a triage batch's multi-row writes and IN
// lists) this was 7–20 % of the pipeline's CPU. Anonymous "?" parameters
// are neither named nor looked up, so on SQLite queries are rewritten to
// them, with the arguments reordered (and repeated, for a "$1" used twice)
// to match.

// sqliteQuery is a query rewritten to anonymous parameters: order[i] is the
// index in the caller's arguments of the i-th "?", or nil when it is the
// identity ($1, $2, … each once, in order).
type sqliteQuery struct {
	text  string
	order []int
}

// rewritten caches rewrites by query text. Query texts are the package's
// own constants and the IN lists and multi-row statements built from them,
// whose sizes are bounded, so the cache stays small; it is still capped.
var rewritten struct {
	sync.RWMutex
	m map[string]sqliteQuery
}

const maxRewritten = 4096

// forSQLite returns query with anonymous parameters and args in their
// order; a query that names a parameter beyond args is returned as written,
// for the driver to report the missing argument rather than bind NULL.
func forSQLite(query string, args []any) (string, []any) {
	if strings.IndexByte(query, '$') < 0 {
		return query, args
	}
	q := rewrite(query)
	if bound, ok := q.bind(args); ok {
		return q.text, bound
	}
	return query, args
}

// rewrite returns the (cached) rewrite of query.
func rewrite(query string) sqliteQuery {
	rewritten.RLock()
	q, ok := rewritten.m[query]
	rewritten.RUnlock()
	if ok {
		return q
	}
	q = rewriteParams(query)
	rewritten.Lock()
	if rewritten.m == nil || len(rewritten.m) >= maxRewritten {
		rewritten.m = map[string]sqliteQuery{}
	}
	rewritten.m[query] = q
	rewritten.Unlock()
	return q
}

// bind orders args for the rewritten text; ok is false when the query
// names a parameter beyond args. An argument the query does not name is
// dropped.
func (q sqliteQuery) bind(args []any) (out []any, ok bool) {
	if q.order == nil {
		return args, true
	}
	out = make([]any, len(q.order))
	for i, k := range q.order {
		if k >= len(args) {
			return nil, false
		}
		out[i] = args[k]
	}
	return out, true
}

// rewriteParams turns "$N" outside string literals, quoted identifiers and
// comments into "?". (One statement per query: SQLite numbers "?" per
// statement.)
func rewriteParams(query string) sqliteQuery {
	var b strings.Builder
	b.Grow(len(query))
	var order []int
	identity := true
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := closingQuote(query, i)
			b.WriteString(query[i:j])
			i = j
		case strings.HasPrefix(query[i:], "--"):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case strings.HasPrefix(query[i:], "/*"):
			j := strings.Index(query[i+2:], "*/")
			if j < 0 {
				j = len(query) - i
			} else {
				j += 4
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '$' && i+1 < len(query) && query[i+1] >= '1' && query[i+1] <= '9':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(query[i+1 : j])
			if err != nil { // too many digits: leave it to SQLite to refuse
				b.WriteString(query[i:j])
				i = j
				continue
			}
			if n != len(order)+1 {
				identity = false
			}
			order = append(order, n-1)
			b.WriteByte('?')
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	if identity {
		order = nil
	}
	return sqliteQuery{text: b.String(), order: order}
}

// closingQuote returns the index just past the literal or identifier that
// starts at query[i] (a doubled quote inside is part of it).
func closingQuote(query string, i int) int {
	q := query[i]
	for j := i + 1; j < len(query); j++ {
		if query[j] == q {
			if j+1 < len(query) && query[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(query)
}
