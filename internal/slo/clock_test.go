package slo

import (
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/tenant"
)

func TestNewClock(t *testing.T) {
	jst, _ := time.LoadLocation("Asia/Tokyo")
	hours, err := tenant.ParseServiceHours("weekdays 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := NewCalendar(hours, jst, true)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, jst)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Friday 17:30 with a 2 h budget: 30 min on Friday, 90 min from Monday
	// 09:00 (2026-11-23 is Labour Thanksgiving Day, a Monday holiday, so
	// Tuesday): due Tuesday 10:30.
	started := at("2026-11-20 17:30")
	for _, c := range []struct {
		name     string
		stopped  time.Time
		now      time.Time
		state    string
		met      bool
		stopping bool
	}{
		{"stopped in time", at("2026-11-24 10:00"), at("2026-11-25 09:00"), Met, true, true},
		{"stopped at the due time", at("2026-11-24 10:30"), at("2026-11-25 09:00"), Met, true, true},
		{"stopped late", at("2026-11-24 10:31"), at("2026-11-25 09:00"), Breached, false, true},
		{"running, not yet due", time.Time{}, at("2026-11-23 12:00"), Running, false, false},
		{"running past due", time.Time{}, at("2026-11-24 10:31"), Breached, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := NewClock(cal, "notification", started, 2*time.Hour, c.stopped, c.now)
			if !got.Due.Equal(at("2026-11-24 10:30")) {
				t.Errorf("due %v, want 2026-11-24 10:30 JST", got.Due.In(jst))
			}
			if got.State != c.state || got.Met != c.met || (got.Stopped != nil) != c.stopping {
				t.Errorf("got state %s met %v stopped %v; want %s %v %v", got.State, got.Met, got.Stopped, c.state, c.met, c.stopping)
			}
		})
	}
}

// TestDayClockAndWarnAt: a PCR received on the Friday before Golden Week's
// end is due at the close of the fifth business day after it; warnings
// fall at their share of service time.
func TestDayClockAndWarnAt(t *testing.T) {
	jst, _ := time.LoadLocation("Asia/Tokyo")
	hours, _ := tenant.ParseServiceHours("weekdays 09:00-18:00")
	cal, err := NewCalendar(hours, jst, true)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, jst)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-05-01 (Fri) → business days 05-07 (Thu), 05-08, 05-11, 05-12, 05-13.
	started := at("2026-05-01 16:00")
	c := NewDayClock(cal, "pcr", started, 5, time.Time{}, at("2026-05-13 17:59"))
	if !c.Due.Equal(at("2026-05-13 18:00")) || c.State != Running || c.Budget != "5 business days" {
		t.Errorf("PCR clock = %+v; want due 2026-05-13 18:00, running", c)
	}
	if c := NewDayClock(cal, "pcr", started, 5, at("2026-05-14 09:00"), at("2026-05-14 09:00")); c.State != Breached || c.Met {
		t.Errorf("decided the day after: %+v, want breached", c)
	}
	// 60 minutes from Friday 17:30: 50 % is 18:00 Friday, 80 % Monday (here
	// Tuesday after a holiday) 09:18.
	fri := at("2026-11-20 17:30")
	if got := WarnAt(cal, fri, time.Hour, 50); !got.Equal(at("2026-11-20 18:00")) {
		t.Errorf("50%% = %v", got)
	}
	if got := WarnAt(cal, fri, time.Hour, 80); !got.Equal(at("2026-11-24 09:18")) {
		t.Errorf("80%% = %v", got)
	}
}
