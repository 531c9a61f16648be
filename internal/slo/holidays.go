package slo

import (
	"sync"
	"time"

	"github.com/rickar/cal/v2/jp"
)

// date is a civil date, free of any zone: holidays are days, not instants.
type date struct {
	year  int
	month time.Month
	day   int
}

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// addDays returns the date n days later, normalising month and year.
func (d date) addDays(n int) date {
	return dateOf(time.Date(d.year, d.month, d.day+n, 12, 0, 0, 0, time.UTC))
}

func (d date) weekday() time.Weekday {
	return time.Date(d.year, d.month, d.day, 12, 0, 0, 0, time.UTC).Weekday()
}

// yearEnd reports whether d is in the 12/29–1/3 break that Japanese
// companies, and so the service contracts, keep besides national holidays.
func (d date) yearEnd() bool {
	return (d.month == time.December && d.day >= 29) || (d.month == time.January && d.day <= 3)
}

// holidayCache holds each year's Japanese holidays. The mutex also guards the
// calls into rickar/cal/jp: its VernalEquinoxDay writes the day it computes
// into the shared package-level Holiday, which races when two goroutines ask
// at once.
var holidayCache = struct {
	sync.Mutex
	years map[int]map[date]bool
}{years: map[int]map[date]bool{}}

// Years outside this range are computed each time rather than cached, so that
// odd inputs (fuzzing, typos in a year) cannot grow the cache without bound.
const cacheFrom, cacheTo = 1900, 2200

// isJPHoliday reports whether d is a Japanese public holiday: a national
// holiday (国民の祝日), a substitute holiday (振替休日) or a citizens' holiday
// (国民の休日).
func isJPHoliday(d date) bool {
	return jpHolidays(d.year)[d]
}

func jpHolidays(year int) map[date]bool {
	holidayCache.Lock()
	defer holidayCache.Unlock()
	if h, ok := holidayCache.years[year]; ok {
		return h
	}
	h := computeHolidays(year)
	if year >= cacheFrom && year <= cacheTo {
		holidayCache.years[year] = h
	}
	return h
}

// computeHolidays takes the national holidays of year, and of the years
// around it so that the derived days near 1 January are right, from
// rickar/cal/jp, and derives the substitute and citizens' holidays itself by
// the rules of the Act on National Holidays (祝日法) as amended in 2005 (in
// force 2007): the library only knows fixed offsets for the first and a
// table ending in 2032 for the second. Must be called with the cache locked.
func computeHolidays(year int) map[date]bool {
	national := map[date]bool{}
	for y := year - 1; y <= year+1; y++ {
		for _, h := range jp.Holidays {
			if h == jp.NationalHolidayBetweenRespectForTheAgedDayAndAutumnalEquinoxDay {
				continue // derived below from the rule, not the library's table
			}
			actual, _ := h.Calc(y)
			if !actual.IsZero() {
				national[dateOf(actual)] = true
			}
		}
	}
	out := map[date]bool{}
	for d := range national {
		if d.year == year {
			out[d] = true
		}
	}
	for d := range national {
		// 振替休日 (Art. 3(2)): a national holiday on a Sunday moves the day
		// off to the nearest following day that is not a national holiday.
		if d.weekday() == time.Sunday {
			s := d.addDays(1)
			for national[s] {
				s = s.addDays(1)
			}
			if s.year == year {
				out[s] = true
			}
		}
		// 国民の休日 (Art. 3(3)): a day that is not a national holiday but lies
		// between two of them is a day off.
		between := d.addDays(1)
		if !national[between] && national[between.addDays(1)] && between.year == year {
			out[between] = true
		}
	}
	return out
}
