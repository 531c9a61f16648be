package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCallsEveryIndexOnce(t *testing.T) {
	for _, c := range []struct{ n, grain int }{{0, 16}, {1, 16}, {15, 16}, {17, 16}, {1000, 1}, {1000, 64}, {5, 0}} {
		calls := make([]atomic.Int32, c.n)
		For(c.n, c.grain, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Errorf("n %d, grain %d: index %d called %d times", c.n, c.grain, i, got)
			}
		}
	}
}
