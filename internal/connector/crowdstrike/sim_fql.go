package crowdstrike

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// The simulator understands a subset of FQL: clauses field:[op]value joined
// by + (and) and , (or, binding looser), with op one of >= <= > < ! or none,
// and values bare or in single or double quotes. Time fields compare as
// times, numeric fields as numbers, other fields as case-insensitive text;
// nested fields use dots (device.hostname).

var (
	timeFields = map[string]bool{"created_timestamp": true, "timestamp": true, "updated_timestamp": true, "context_timestamp": true}
	numFields  = map[string]bool{"severity": true, "confidence": true, "pattern_id": true}
)

type predicate func(*simAlert) bool

type clause struct {
	field, op, value string
}

// parseFQL compiles filter; an empty filter matches everything.
func parseFQL(filter string) (predicate, error) {
	if strings.TrimSpace(filter) == "" {
		return func(*simAlert) bool { return true }, nil
	}
	var alts [][]clause
	for _, alt := range splitOutside(filter, ',') {
		var all []clause
		for _, c := range splitOutside(alt, '+') {
			cl, err := parseClause(c)
			if err != nil {
				return nil, err
			}
			all = append(all, cl)
		}
		alts = append(alts, all)
	}
	return func(a *simAlert) bool {
		return slices.ContainsFunc(alts, func(all []clause) bool {
			for _, c := range all {
				if !c.match(a) {
					return false
				}
			}
			return true
		})
	}, nil
}

// splitOutside splits s at sep where sep is not inside quotes.
func splitOutside(s string, sep byte) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func parseClause(c string) (clause, error) {
	field, rest, ok := strings.Cut(strings.TrimSpace(c), ":")
	if !ok || field == "" || strings.ContainsAny(field, "()") {
		return clause{}, fmt.Errorf("invalid filter clause %q: want field:value", c)
	}
	op := ""
	for _, o := range []string{">=", "<=", ">", "<", "!"} {
		if strings.HasPrefix(rest, o) {
			op, rest = o, rest[len(o):]
			break
		}
	}
	v := strings.TrimSpace(rest)
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if timeFields[field] && jsonfield.ParseTime(v).IsZero() {
		return clause{}, fmt.Errorf("invalid time %q for %s", v, field)
	}
	if numFields[field] && op != "" && op != "!" {
		if _, err := strconv.Atoi(v); err != nil {
			return clause{}, fmt.Errorf("invalid number %q for %s", v, field)
		}
	}
	return clause{field: field, op: op, value: v}, nil
}

func (c clause) match(a *simAlert) bool {
	r := compareField(a, c.field, c.value)
	if r == nil {
		return c.op == "!"
	}
	switch c.op {
	case ">=":
		return *r >= 0
	case "<=":
		return *r <= 0
	case ">":
		return *r > 0
	case "<":
		return *r < 0
	case "!":
		return *r != 0
	}
	return *r == 0
}

// compareField compares the alert's field with v; nil when the alert lacks
// the field or its value cannot be compared.
func compareField(a *simAlert, field, v string) *int {
	var r int
	switch {
	case timeFields[field]:
		t := fieldOf(a, field).Time(leaf(field))
		if t.IsZero() {
			return nil
		}
		r = t.Compare(jsonfield.ParseTime(v))
	case numFields[field]:
		n, ok := fieldOf(a, field).Num(leaf(field))
		w, err := strconv.Atoi(v)
		if !ok || err != nil {
			return nil
		}
		r = cmp.Compare(n, w)
	default:
		s := fieldOf(a, field).Str(leaf(field))
		r = cmp.Compare(strings.ToLower(s), strings.ToLower(v))
	}
	return &r
}

// fieldOf returns the object holding a dotted field.
func fieldOf(a *simAlert, field string) jsonfield.Object {
	f := a.f
	parts := strings.Split(field, ".")
	for _, p := range parts[:len(parts)-1] {
		f = f.Obj(p)
	}
	return f
}

func leaf(field string) string { return field[strings.LastIndexByte(field, '.')+1:] }

// parseSort reads field|asc, field|desc or field.asc; the default is the
// newest created_timestamp first.
func parseSort(s string) (field string, desc bool, err error) {
	field, dir := "created_timestamp", "desc"
	if s = strings.TrimSpace(s); s != "" {
		i := strings.LastIndexAny(s, "|.")
		if i < 0 {
			field, dir = s, "asc"
		} else {
			field, dir = s[:i], strings.ToLower(s[i+1:])
		}
	}
	if dir != "asc" && dir != "desc" {
		return "", false, fmt.Errorf("invalid sort direction %q: want asc or desc", dir)
	}
	return field, dir == "desc", nil
}

func sortKey(a, b *simAlert, field string) int {
	switch {
	case timeFields[field]:
		return fieldOf(a, field).Time(leaf(field)).Compare(fieldOf(b, field).Time(leaf(field)))
	case numFields[field]:
		x, _ := fieldOf(a, field).Num(leaf(field))
		y, _ := fieldOf(b, field).Num(leaf(field))
		return cmp.Compare(x, y)
	}
	return cmp.Compare(fieldOf(a, field).Str(leaf(field)), fieldOf(b, field).Str(leaf(field)))
}

// matching returns a page of the ids of the alerts pred accepts, sorted by
// field, and how many pred accepts. Oldest first (what the connector asks
// for) is the feed's own order, read at the offset; any other order sorts
// every match. Ties keep the feed's order: created_timestamp, then
// composite_id.
func (s *Sim) matching(pred predicate, field string, desc bool, offset, limit int) (ids []string, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := func(it simkit.Item) bool { return pred(s.byID[it.ID]) }
	var items []simkit.Item
	if field == "created_timestamp" && !desc {
		items, total = s.feed.ReadOffset(keep, offset, limit)
	} else {
		items, total = s.feed.ReadOffset(keep, 0, math.MaxInt)
		slices.SortStableFunc(items, func(a, b simkit.Item) int {
			r := sortKey(s.byID[a.ID], s.byID[b.ID], field)
			if desc {
				return -r
			}
			return r
		})
		items = items[min(offset, total):min(total, offset+limit)]
	}
	ids = make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, total
}

func encodeAfter(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func decodeAfter(tok string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(string(b), "offset:")
	if !ok {
		return 0, fmt.Errorf("bad token")
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad token")
	}
	return v, nil
}

// timeText formats a time the way CrowdStrike writes created_timestamp.
func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
