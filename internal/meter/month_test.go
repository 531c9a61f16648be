package meter

import (
	"testing"
	"time"
)

func TestMonthPrev(t *testing.T) {
	for _, c := range []struct{ m, want Month }{
		{Month{2026, time.March}, Month{2026, time.February}},
		{Month{2027, time.January}, Month{2026, time.December}},
	} {
		if got := c.m.Prev(); got != c.want {
			t.Errorf("%s.Prev() = %s, want %s", c.m, got, c.want)
		}
	}
}
