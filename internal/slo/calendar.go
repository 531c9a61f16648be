// Package slo keeps the service-level clocks of the contracts (SPEC M8): when
// a promise made to a tenant falls due, counted on the tenant's service
// calendar. This file holds the calendar: service hours per day, Japanese
// holidays and the year-end break, and the two ways a deadline is counted.
package slo

import (
	"errors"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/tenant"
)

// businessClose is when a business day ends for a 24x7 contract: seed 000
// counts PCRs in business days even when monitoring never stops, and the
// office that applies them closes at 18:00.
const businessClose = 18 * time.Hour

// Calendar is one contract's service calendar in the tenant's zone. It is
// immutable and safe for concurrent use.
type Calendar struct {
	hours    tenant.Hours
	loc      *time.Location
	holidays bool
}

// NewCalendar returns the calendar of a contract with the given service
// hours in loc. With holidays, Japanese national holidays (substitute and
// citizens' holidays included) and 12/29–1/3 are not business days; without,
// only Saturdays and Sundays are off. Hours must be 24x7 or a window with
// 0 <= Start < End <= 24h, as tenant.ParseServiceHours returns.
func NewCalendar(hours tenant.Hours, loc *time.Location, holidays bool) (*Calendar, error) {
	if loc == nil {
		return nil, errors.New("calendar: no time zone")
	}
	if !hours.Always && (hours.Start < 0 || hours.Start >= hours.End || hours.End > 24*time.Hour) {
		return nil, fmt.Errorf("calendar: service window %s-%s is empty or not within one day", hours.Start, hours.End)
	}
	return &Calendar{hours: hours, loc: loc, holidays: holidays}, nil
}

// Location is the zone the calendar counts days in.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsBusinessDay reports whether the day of t, in the calendar's zone, is a
// business day: Monday to Friday, and with holidays on, neither a Japanese
// holiday nor in 12/29–1/3. The answer is the same for 24x7 contracts, whose
// business days matter for deadlines counted in days.
func (c *Calendar) IsBusinessDay(t time.Time) bool {
	return c.businessDate(dateOf(t.In(c.loc)))
}

func (c *Calendar) businessDate(d date) bool {
	if wd := d.weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !c.holidays || (!d.yearEnd() && !isJPHoliday(d))
}

// IsServiceTime reports whether the service is open at t: always for 24x7,
// otherwise within the window [Start, End) of a business day.
func (c *Calendar) IsServiceTime(t time.Time) bool {
	if c.hours.Always {
		return true
	}
	t = t.In(c.loc)
	d := dateOf(t)
	if !c.businessDate(d) {
		return false
	}
	open, closing := c.window(d)
	return !t.Before(open) && t.Before(closing)
}

// window returns the opening and closing instants of the service on d. The
// wall clock is built with time.Date rather than by adding to midnight, so
// that a DST change earlier in the day does not shift the window.
func (c *Calendar) window(d date) (open, closing time.Time) {
	return c.at(d, c.hours.Start), c.at(d, c.hours.End)
}

func (c *Calendar) at(d date, off time.Duration) time.Time {
	h, m := int(off/time.Hour), int(off%time.Hour/time.Minute)
	return time.Date(d.year, d.month, d.day, h, m, 0, int(off%time.Minute), c.loc)
}

// AddDuration returns the instant at which d of service time has passed
// since from: time outside the service window, on weekends and on days off
// does not count. A 24x7 service never closes, holidays included, so there
// it is plain addition. A deadline that uses up a day's window exactly is
// that day's closing time, not the next opening. d <= 0 returns from.
func (c *Calendar) AddDuration(from time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return from.In(c.loc)
	}
	if c.hours.Always {
		return from.Add(d).In(c.loc)
	}
	t := from.In(c.loc)
	for day := dateOf(t); ; day = day.addDays(1) {
		if !c.businessDate(day) {
			continue
		}
		open, closing := c.window(day)
		start := t
		if start.Before(open) {
			start = open
		}
		if !start.Before(closing) {
			continue
		}
		if left := closing.Sub(start); d > left {
			d -= left
			continue
		}
		return start.Add(d)
	}
}

// BusinessDaysAfter returns the close of service hours on the nth business
// day after the day of from (in the calendar's zone), whatever the time of
// day of from: a request on Friday at 20:00 with n = 1 is due Monday at
// closing. Closing is the window's end, or 18:00 for a 24x7 contract. n <= 0
// is the close of the day of from when it is a business day, else of the
// next business day.
func (c *Calendar) BusinessDaysAfter(from time.Time, n int) time.Time {
	day := dateOf(from.In(c.loc))
	if n <= 0 {
		for !c.businessDate(day) {
			day = day.addDays(1)
		}
	}
	for ; n > 0; n-- {
		day = day.addDays(1)
		for !c.businessDate(day) {
			day = day.addDays(1)
		}
	}
	if c.hours.Always {
		return c.at(day, businessClose)
	}
	return c.at(day, c.hours.End)
}
