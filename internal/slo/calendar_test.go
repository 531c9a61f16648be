package slo

import (
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/tenant"
)

const (
	w18   = "weekdays 09:00-18:00" // 9 h a day
	w1730 = "weekdays 09:00-17:30" // 8.5 h a day
	h24   = "24x7"
)

var tokyo = mustLoc("Asia/Tokyo")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func newCal(t testing.TB, hours string, holidays bool) *Calendar {
	t.Helper()
	h, err := tenant.ParseServiceHours(hours)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCalendar(h, tokyo, holidays)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dueCase is one hand-checked deadline. Exactly one of dur and days is used:
// days when byDays is set. Times are in Asia/Tokyo unless they say otherwise.
// Weekdays used below: 2026-04-29 Wed, 2026-05-01 Fri, 2026-06-01 Mon,
// 2026-09-18 Fri, 2026-12-25 Fri, 2026-12-28 Mon, 2027-01-04 Mon,
// 2027-03-19 Fri, 2028-02-28 Mon (2028-02-29 Tue).
type dueCase struct {
	name     string
	hours    string
	noHols   bool // --holidays none
	from     string
	dur      time.Duration
	byDays   bool
	days     int
	want     string
	whyRight string
}

var dueCases = []dueCase{
	// Golden Week 2026: 4/29 Wed 昭和の日; 5/2 Sat, 5/3 Sun, 5/4–5/5 holidays, 5/6 substitute.
	{name: "gw before showa day", hours: w18, from: "2026-04-28T17:00:00+09:00", dur: 2 * time.Hour, want: "2026-04-30T10:00:00+09:00",
		whyRight: "1 h Tue 17–18, Wed 4/29 is a holiday, 1 h from Thu 09:00"},
	{name: "gw start on showa day", hours: w18, from: "2026-04-29T10:00:00+09:00", dur: time.Hour, want: "2026-04-30T10:00:00+09:00",
		whyRight: "nothing counts on the holiday; the hour starts Thu 09:00"},
	{name: "gw friday evening", hours: w18, from: "2026-05-01T17:00:00+09:00", dur: 2 * time.Hour, want: "2026-05-07T10:00:00+09:00",
		whyRight: "1 h Fri, then 5/2–5/6 are all off (weekend, 5/4, 5/5, substitute 5/6), 1 h from Thu 5/7 09:00"},
	{name: "gw ends at close exactly", hours: w18, from: "2026-05-01T17:30:00+09:00", dur: 30 * time.Minute, want: "2026-05-01T18:00:00+09:00",
		whyRight: "the 30 min fit before closing: the deadline is the close, not the next opening"},
	{name: "substitute holiday 2026-05-06", hours: w18, from: "2026-05-06T09:30:00+09:00", dur: time.Hour, want: "2026-05-07T10:00:00+09:00",
		whyRight: "5/6 is 振替休日 for Sunday 5/3 (5/4 and 5/5 being holidays themselves)"},
	{name: "substitute ignored without holidays", hours: w18, noHols: true, from: "2026-05-06T09:30:00+09:00", dur: time.Hour, want: "2026-05-06T10:30:00+09:00",
		whyRight: "with --holidays none 5/6 is an ordinary Wednesday"},
	{name: "gw several days", hours: w18, from: "2026-04-30T12:00:00+09:00", dur: 20 * time.Hour, want: "2026-05-07T14:00:00+09:00",
		whyRight: "Thu 12–18 = 6 h (14 left), Fri 9 h (5 left), GW off, Thu 5/7 09:00 + 5 h"},
	{name: "gw several days 17:30", hours: w1730, from: "2026-04-30T12:00:00+09:00", dur: 20 * time.Hour, want: "2026-05-07T15:00:00+09:00",
		whyRight: "Thu 12–17:30 = 5.5 h (14.5 left), Fri 8.5 h (6 left), Thu 5/7 09:00 + 6 h"},
	{name: "gw 24x7 plain addition", hours: h24, from: "2026-05-01T17:00:00+09:00", dur: 2 * time.Hour, want: "2026-05-01T19:00:00+09:00",
		whyRight: "24x7 never closes, holidays included"},
	{name: "24x7 across midnight on a holiday", hours: h24, from: "2026-05-03T23:30:00+09:00", dur: time.Hour, want: "2026-05-04T00:30:00+09:00",
		whyRight: "plain addition across a date change"},
	{name: "gw 27h ends at thursday close", hours: w18, from: "2026-04-27T09:00:00+09:00", dur: 27 * time.Hour, want: "2026-04-30T18:00:00+09:00",
		whyRight: "Mon 9 + Tue 9 + (Wed holiday) + Thu 9 = 27 h, used up exactly at Thu 18:00"},
	{name: "gw 28h", hours: w18, from: "2026-04-27T09:00:00+09:00", dur: 28 * time.Hour, want: "2026-05-01T10:00:00+09:00",
		whyRight: "one hour more than the case above: Fri 5/1 09:00 + 1 h"},

	// Silver Week 2026: 9/19 Sat, 9/20 Sun, 9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日.
	{name: "silver week friday", hours: w18, from: "2026-09-18T16:00:00+09:00", dur: 3 * time.Hour, want: "2026-09-24T10:00:00+09:00",
		whyRight: "2 h Fri 16–18, five days off, 1 h from Thu 9/24 09:00"},
	{name: "citizens holiday start", hours: w18, from: "2026-09-22T12:00:00+09:00", dur: 30 * time.Minute, want: "2026-09-24T09:30:00+09:00",
		whyRight: "9/22 lies between two national holidays, so it is off; so is 9/23"},
	{name: "silver week 17:30", hours: w1730, from: "2026-09-18T17:00:00+09:00", dur: time.Hour, want: "2026-09-24T09:30:00+09:00",
		whyRight: "30 min Fri 17:00–17:30, 30 min Thu 9/24 from 09:00"},
	{name: "silver week without holidays", hours: w18, noHols: true, from: "2026-09-18T17:00:00+09:00", dur: 2 * time.Hour, want: "2026-09-21T10:00:00+09:00",
		whyRight: "1 h Fri, weekend, Mon 9/21 counts when holidays are off: 09:00 + 1 h"},

	// Year-end break 12/29–1/3.
	{name: "year end from monday 12/28", hours: w18, from: "2026-12-28T17:00:00+09:00", dur: 2 * time.Hour, want: "2027-01-04T10:00:00+09:00",
		whyRight: "1 h Mon, 12/29–1/3 off, Mon 1/4 09:00 + 1 h"},
	{name: "start inside year end", hours: w18, from: "2026-12-31T10:00:00+09:00", dur: time.Hour, want: "2027-01-04T10:00:00+09:00",
		whyRight: "12/31 is in the break; the first service hour is Mon 1/4 09–10"},
	{name: "year end without holidays", hours: w18, noHols: true, from: "2026-12-31T10:00:00+09:00", dur: time.Hour, want: "2026-12-31T11:00:00+09:00",
		whyRight: "with --holidays none Thu 12/31 is a working day"},
	{name: "new year's day without holidays", hours: w18, noHols: true, from: "2026-12-31T17:30:00+09:00", dur: time.Hour, want: "2027-01-01T09:30:00+09:00",
		whyRight: "30 min Thu, and Fri 1/1 is a working day without holidays"},
	{name: "year end 2025 17:30", hours: w1730, from: "2025-12-26T17:00:00+09:00", dur: time.Hour, want: "2026-01-05T09:30:00+09:00",
		whyRight: "30 min Fri 12/26; 12/29 Mon–1/2 Fri are the break, 1/3–1/4 weekend; 30 min Mon 1/5"},

	// Substitute holiday 2027-03-22 (春分の日 3/21 is a Sunday).
	{name: "substitute 2027 friday", hours: w18, from: "2027-03-19T17:00:00+09:00", dur: 2 * time.Hour, want: "2027-03-23T10:00:00+09:00",
		whyRight: "1 h Fri, Sat, Sun 3/21 holiday, Mon 3/22 substitute, 1 h Tue 3/23"},
	{name: "substitute 2027 start on it", hours: w18, from: "2027-03-22T08:00:00+09:00", dur: time.Hour, want: "2027-03-23T10:00:00+09:00",
		whyRight: "3/22 is off; Tue 09–10"},

	// Leap day 2028-02-29 (Tue); 2/23 Wed is 天皇誕生日.
	{name: "into leap day", hours: w18, from: "2028-02-28T17:00:00+09:00", dur: 2 * time.Hour, want: "2028-02-29T10:00:00+09:00",
		whyRight: "1 h Mon, 1 h Tue 2/29"},
	{name: "out of leap day", hours: w18, from: "2028-02-29T17:00:00+09:00", dur: 2 * time.Hour, want: "2028-03-01T10:00:00+09:00",
		whyRight: "1 h Tue 2/29, 1 h Wed 3/1: no 2/30"},
	{name: "leap day 24x7", hours: h24, from: "2028-02-28T23:00:00+09:00", dur: 2 * time.Hour, want: "2028-02-29T01:00:00+09:00",
		whyRight: "plain addition lands on 2/29"},
	{name: "emperor's birthday 2028", hours: w18, from: "2028-02-22T17:00:00+09:00", dur: 2 * time.Hour, want: "2028-02-24T10:00:00+09:00",
		whyRight: "1 h Tue, Wed 2/23 holiday, 1 h Thu"},

	// Starts outside service hours on ordinary days (June 2026 has no holiday).
	{name: "before opening", hours: w18, from: "2026-06-01T07:00:00+09:00", dur: time.Hour, want: "2026-06-01T10:00:00+09:00",
		whyRight: "counting starts at 09:00"},
	{name: "at closing", hours: w18, from: "2026-06-01T18:00:00+09:00", dur: time.Hour, want: "2026-06-02T10:00:00+09:00",
		whyRight: "18:00 is already closed (window is [09:00, 18:00))"},
	{name: "friday night", hours: w18, from: "2026-06-05T22:00:00+09:00", dur: time.Hour, want: "2026-06-08T10:00:00+09:00",
		whyRight: "weekend does not count; Mon 09–10"},
	{name: "at 17:30 closing", hours: w1730, from: "2026-06-01T17:30:00+09:00", dur: 30 * time.Minute, want: "2026-06-02T09:30:00+09:00",
		whyRight: "the 17:30 contract is closed at 17:30"},
	{name: "just before 17:30", hours: w1730, from: "2026-06-01T17:00:00+09:00", dur: 30 * time.Minute, want: "2026-06-01T17:30:00+09:00",
		whyRight: "exactly the remaining window"},
	{name: "whole week 9h", hours: w18, from: "2026-06-01T09:00:00+09:00", dur: 45 * time.Hour, want: "2026-06-05T18:00:00+09:00",
		whyRight: "5 days × 9 h = 45 h, used up Fri at closing"},
	{name: "whole week 8.5h", hours: w1730, from: "2026-06-01T09:00:00+09:00", dur: 45 * time.Hour, want: "2026-06-08T11:30:00+09:00",
		whyRight: "5 × 8.5 h = 42.5 h, 2.5 h left: Mon 09:00 + 2.5 h"},
	{name: "from given in UTC", hours: w18, from: "2026-06-01T00:30:00Z", dur: time.Hour, want: "2026-06-01T10:30:00+09:00",
		whyRight: "00:30Z is 09:30 in Tokyo, inside the window"},

	// Business days (seed 000: PCR in 5 business days; seed 002: next business day).
	{name: "next business day from friday evening", hours: w18, from: "2026-06-05T19:00:00+09:00", byDays: true, days: 1, want: "2026-06-08T18:00:00+09:00",
		whyRight: "the day of from is Friday whatever the hour; the next business day is Monday, closing 18:00"},
	{name: "5 business days from friday evening", hours: w18, from: "2026-06-05T19:00:00+09:00", byDays: true, days: 5, want: "2026-06-12T18:00:00+09:00",
		whyRight: "Mon 8, Tue 9, Wed 10, Thu 11, Fri 12"},
	{name: "next business day over golden week 17:30", hours: w1730, from: "2026-05-01T20:00:00+09:00", byDays: true, days: 1, want: "2026-05-07T17:30:00+09:00",
		whyRight: "5/2–5/6 are off; Thu 5/7 closing at 17:30"},
	{name: "24x7 business days over golden week", hours: h24, from: "2026-05-01T20:00:00+09:00", byDays: true, days: 5, want: "2026-05-13T18:00:00+09:00",
		whyRight: "24x7 still counts weekdays without holidays: 5/7, 5/8, 5/11, 5/12, 5/13; closes at 18:00"},
	{name: "24x7 business days without holidays", hours: h24, noHols: true, from: "2026-05-01T20:00:00+09:00", byDays: true, days: 1, want: "2026-05-04T18:00:00+09:00",
		whyRight: "without holidays Mon 5/4 is a business day"},
	{name: "next business day over silver week", hours: w18, from: "2026-09-18T21:00:00+09:00", byDays: true, days: 1, want: "2026-09-24T18:00:00+09:00",
		whyRight: "9/19–9/23 are off"},
	{name: "PCR over year end", hours: w18, from: "2026-12-25T18:30:00+09:00", byDays: true, days: 5, want: "2027-01-07T18:00:00+09:00",
		whyRight: "12/28, then the break, 1/4, 1/5, 1/6, 1/7"},
	{name: "PCR over year end without holidays", hours: w18, noHols: true, from: "2026-12-25T18:30:00+09:00", byDays: true, days: 5, want: "2027-01-01T18:00:00+09:00",
		whyRight: "12/28, 12/29, 12/30, 12/31, 1/1 are all weekdays"},
	{name: "next business day over 2027 substitute", hours: w18, from: "2027-03-19T10:00:00+09:00", byDays: true, days: 1, want: "2027-03-23T18:00:00+09:00",
		whyRight: "Mon 3/22 is the substitute holiday"},
	{name: "next business day is leap day", hours: w18, from: "2028-02-28T10:00:00+09:00", byDays: true, days: 1, want: "2028-02-29T18:00:00+09:00",
		whyRight: "Tue 2/29 exists in 2028"},
	{name: "from a sunday holiday", hours: w18, from: "2026-05-03T10:00:00+09:00", byDays: true, days: 1, want: "2026-05-07T18:00:00+09:00",
		whyRight: "the day after 5/3 that is a business day: 5/4–5/6 are off"},
	{name: "zero days on a business day", hours: w18, from: "2026-06-01T10:00:00+09:00", byDays: true, days: 0, want: "2026-06-01T18:00:00+09:00",
		whyRight: "n = 0 is the close of the day of from"},
	{name: "zero days on a holiday 24x7", hours: h24, from: "2026-05-06T03:00:00+09:00", byDays: true, days: 0, want: "2026-05-07T18:00:00+09:00",
		whyRight: "n = 0 on a day off moves to the next business day"},
	{name: "day of from is taken in the zone", hours: w18, from: "2026-06-04T16:00:00Z", byDays: true, days: 1, want: "2026-06-08T18:00:00+09:00",
		whyRight: "16:00Z Thu is 01:00 Fri in Tokyo, so the next business day is Mon, not Fri"},
}

func TestDue(t *testing.T) {
	if len(dueCases) < 30 {
		t.Fatalf("only %d cases", len(dueCases))
	}
	for _, tc := range dueCases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCal(t, tc.hours, !tc.noHols)
			from, err := time.Parse(time.RFC3339, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			var got time.Time
			if tc.byDays {
				got = c.BusinessDaysAfter(from, tc.days)
			} else {
				got = c.AddDuration(from, tc.dur)
			}
			if s := got.Format(time.RFC3339); s != tc.want {
				t.Errorf("%s from %s: got %s, want %s (%s)", tc.hours, tc.from, s, tc.want, tc.whyRight)
			}
		})
	}
}

func TestIsServiceTimeAndBusinessDay(t *testing.T) {
	w := newCal(t, w18, true)
	a := newCal(t, h24, true)
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		cal           *Calendar
		t             string
		service, bday bool
	}{
		{w, "2026-06-01T09:00:00+09:00", true, true},   // opening instant is in
		{w, "2026-06-01T17:59:59+09:00", true, true},   // last second
		{w, "2026-06-01T18:00:00+09:00", false, true},  // closing instant is out
		{w, "2026-06-06T12:00:00+09:00", false, false}, // Saturday
		{w, "2026-05-06T12:00:00+09:00", false, false}, // substitute holiday
		{w, "2026-12-30T12:00:00+09:00", false, false}, // year-end break
		{a, "2026-05-06T03:00:00+09:00", true, false},  // 24x7 open on a day that is no business day
		{a, "2026-06-06T12:00:00+09:00", true, false},
	} {
		if got := tc.cal.IsServiceTime(at(tc.t)); got != tc.service {
			t.Errorf("IsServiceTime(%s) = %v, want %v", tc.t, got, tc.service)
		}
		if got := tc.cal.IsBusinessDay(at(tc.t)); got != tc.bday {
			t.Errorf("IsBusinessDay(%s) = %v, want %v", tc.t, got, tc.bday)
		}
	}
}

func TestNewCalendarRejects(t *testing.T) {
	for _, tc := range []struct {
		h   tenant.Hours
		loc *time.Location
	}{
		{tenant.Hours{}, tokyo}, // zero window would never end a count
		{tenant.Hours{Start: 18 * time.Hour, End: 9 * time.Hour}, tokyo},
		{tenant.Hours{Start: 9 * time.Hour, End: 25 * time.Hour}, tokyo},
		{tenant.Hours{Always: true}, nil},
	} {
		if _, err := NewCalendar(tc.h, tc.loc, true); err == nil {
			t.Errorf("NewCalendar(%+v, %v) succeeded, want an error", tc.h, tc.loc)
		}
	}
}

// FuzzAddDuration: whatever the start and duration, AddDuration returns,
// never goes back in time, and lands in service time (or on a closing
// instant) for business hours.
func FuzzAddDuration(f *testing.F) {
	f.Add(int64(1777593600), int64(2*time.Hour), uint8(0), true)
	f.Add(int64(1798675200), int64(45*time.Hour), uint8(1), true)
	f.Add(int64(1830000000), int64(time.Minute), uint8(2), false)
	f.Add(int64(-62135596800), int64(-time.Hour), uint8(0), true)
	hours := []string{w18, w1730, h24}
	cals := map[string]*Calendar{}
	for _, h := range hours {
		cals[h+"/y"] = newCal(f, h, true)
		cals[h+"/n"] = newCal(f, h, false)
	}
	f.Fuzz(func(t *testing.T, sec, d int64, which uint8, hol bool) {
		// Keep the search bounded: years 1900–2200 and up to ten years of
		// service time, so that one input cannot run for minutes.
		const lo, hi = -2208988800, 7258118400
		sec = lo + (sec%(hi-lo)+(hi-lo))%(hi-lo)
		dur := time.Duration(d % int64(10*365*24*time.Hour))
		key := hours[int(which)%len(hours)] + "/n"
		if hol {
			key = hours[int(which)%len(hours)] + "/y"
		}
		c := cals[key]
		from := time.Unix(sec, 0)
		got := c.AddDuration(from, dur)
		if got.Before(from) {
			t.Fatalf("%s: AddDuration(%s, %s) = %s, before from", key, from, dur, got)
		}
		if dur > 0 && !c.hours.Always && !c.IsServiceTime(got) && !c.IsServiceTime(got.Add(-time.Nanosecond)) {
			t.Fatalf("%s: AddDuration(%s, %s) = %s, outside service time", key, from, dur, got)
		}
	})
}
