package slo

import (
	"fmt"
	"time"
)

// Clock states.
const (
	Met      = "met"      // stopped within its budget
	Breached = "breached" // stopped late, or still running past its due time
	Running  = "running"  // not stopped, due time not reached
)

// Clock is one service-level clock: from a start event to a stop event,
// with a budget of service time. Due is computed from the calendar, so it
// is exact whatever moment the clock is looked at.
type Clock struct {
	Name    string     `json:"name"`
	Started time.Time  `json:"started"`
	Due     time.Time  `json:"due"`
	Stopped *time.Time `json:"stopped"` // null while running
	Met     bool       `json:"met"`
	State   string     `json:"state"` // met | breached | running
	// Budget is the target as service time (e.g. "2h0m0s").
	Budget string `json:"budget"`
	// Excluded, when set, is why the clock does not count towards
	// attainment (e.g. the flood of an initial full-disk scan, seed 003).
	Excluded string `json:"excluded,omitempty"`
}

// WarnAt returns the instant at which pct percent of a budget of service
// time starting at started has passed.
func WarnAt(cal *Calendar, started time.Time, budget time.Duration, pct int) time.Time {
	return cal.AddDuration(started, budget*time.Duration(pct)/100)
}

// NewClock evaluates a clock that started at started with a budget of
// service time; stopped is its stop event (zero: not yet) and now the time
// it is looked at.
func NewClock(cal *Calendar, name string, started time.Time, budget time.Duration, stopped, now time.Time) Clock {
	c := Clock{Name: name, Started: started, Due: cal.AddDuration(started, budget), Budget: budget.String()}
	return c.judge(stopped, now)
}

// NewDayClock evaluates a clock whose budget is counted in business days:
// it is due at the close of service hours on the days-th business day
// after the day it started (seed 000: PCR 5営業日), as BusinessDaysAfter.
func NewDayClock(cal *Calendar, name string, started time.Time, days int, stopped, now time.Time) Clock {
	c := Clock{Name: name, Started: started, Due: cal.BusinessDaysAfter(started, days), Budget: fmt.Sprintf("%d business days", days)}
	return c.judge(stopped, now)
}

// judge sets the clock's state from its stop event and the time it is
// looked at.
func (c Clock) judge(stopped, now time.Time) Clock {
	switch {
	case !stopped.IsZero():
		s := stopped
		c.Stopped = &s
		c.Met = !stopped.After(c.Due)
		c.State = Breached
		if c.Met {
			c.State = Met
		}
	case now.After(c.Due):
		c.State = Breached
	default:
		c.State = Running
	}
	return c
}
