// Package meter measures what a tenant is billed for (SPEC M15, seed 001):
// per month, in the tenant's time zone, the distinct endpoints bannin saw
// alerts from (ID-based billing, ID数課金) and the incidents it handled
// (per-handling billing, 対応件数課金); and the prepaid option tickets
// (オプションチケット) bought in advance, valid one year from purchase and
// consumed oldest first by option work.
//
// The package holds the domain: months, usage, the ticket ledger and the
// monthly report with its JSON and text (ja, en) forms. The store
// (sqlstore) reads and writes the rows.
package meter

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Month is a calendar month; its instants depend on the tenant's zone.
type Month struct {
	Year  int
	Month time.Month
}

var monthPattern = regexp.MustCompile(`^(\d{4})-(\d{2})$`)

// ParseMonth reads "2026-10".
func ParseMonth(s string) (Month, error) {
	m := monthPattern.FindStringSubmatch(s)
	if m == nil {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM, e.g. 2026-10", s)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if y < 1970 || mo < 1 || mo > 12 {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM with a year from 1970 and a month 01–12", s)
	}
	return Month{Year: y, Month: time.Month(mo)}, nil
}

// MonthOf is the month holding t in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	l := t.In(loc)
	return Month{Year: l.Year(), Month: l.Month()}
}

// String formats the month as ParseMonth reads it.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Prev returns the month before m.
func (m Month) Prev() Month {
	if m.Month == time.January {
		return Month{m.Year - 1, time.December}
	}
	return Month{m.Year, m.Month - 1}
}

// Bounds returns the month's first instant and the next month's first
// instant in loc: the month is [from, to).
func (m Month) Bounds(loc *time.Location) (from, to time.Time) {
	from = time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 1, 0)
}
