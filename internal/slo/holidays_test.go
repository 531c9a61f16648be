package slo

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The official lists, copied by hand from the Cabinet Office's page of
// national holidays (内閣府「国民の祝日について」) for 2026 and 2027.
var officialHolidays = map[int][]string{
	2026: {
		"2026-01-01", // 元日
		"2026-01-12", // 成人の日 (2nd Monday)
		"2026-02-11", // 建国記念の日
		"2026-02-23", // 天皇誕生日
		"2026-03-20", // 春分の日
		"2026-04-29", // 昭和の日
		"2026-05-03", // 憲法記念日 (Sunday)
		"2026-05-04", // みどりの日
		"2026-05-05", // こどもの日
		"2026-05-06", // 振替休日 for 5/3: 5/4 and 5/5 are holidays themselves
		"2026-07-20", // 海の日 (3rd Monday)
		"2026-08-11", // 山の日
		"2026-09-21", // 敬老の日 (3rd Monday)
		"2026-09-22", // 国民の休日: between 9/21 and 9/23
		"2026-09-23", // 秋分の日
		"2026-10-12", // スポーツの日 (2nd Monday)
		"2026-11-03", // 文化の日
		"2026-11-23", // 勤労感謝の日
	},
	2027: {
		"2027-01-01", "2027-01-11", "2027-02-11", "2027-02-23",
		"2027-03-21", // 春分の日 (Sunday)
		"2027-03-22", // 振替休日
		"2027-04-29", "2027-05-03", "2027-05-04", "2027-05-05",
		"2027-07-19", "2027-08-11", "2027-09-20", "2027-09-23",
		"2027-10-11", "2027-11-03", "2027-11-23",
	},
}

func holidayList(year int) []string {
	var out []string
	for d := range jpHolidays(year) {
		out = append(out, time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	slices.Sort(out)
	return out
}

func TestHolidaysMatchOfficialList(t *testing.T) {
	for year, want := range officialHolidays {
		if diff := cmp.Diff(want, holidayList(year)); diff != "" {
			t.Errorf("holidays of %d (-official +computed):\n%s", year, diff)
		}
	}
}

// TestDerivedHolidaysBeyondLibraryTable checks the substitute and citizens'
// rules where rickar/cal/jp's own table stops (2032) or its fixed offsets
// would not reach: citizens' holiday 2037-09-22 (敬老の日 is 9/21, 秋分の日
// 9/23) and the Golden Week of 2025 (5/4 Sunday → 5/6 substitute).
func TestDerivedHolidaysBeyondLibraryTable(t *testing.T) {
	for _, s := range []string{"2037-09-22", "2032-09-21", "2025-05-06", "2024-02-12", "2019-04-30", "2019-05-02"} {
		d := dateOf(mustDate(t, s))
		if !isJPHoliday(d) {
			t.Errorf("%s is not a holiday, want one", s)
		}
	}
	for _, s := range []string{"2026-05-07", "2026-09-24", "2027-09-21", "2026-12-28"} {
		if isJPHoliday(dateOf(mustDate(t, s))) {
			t.Errorf("%s is a holiday, want a working day", s)
		}
	}
}

// The library writes into a shared value while computing the vernal
// equinox; run with -race, this fails if the cache stops serialising it.
func TestHolidaysConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for y := 2300; y < 2316; y++ { // outside the cache, so computed each time
		wg.Go(func() { jpHolidays(y) })
	}
	wg.Wait()
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
