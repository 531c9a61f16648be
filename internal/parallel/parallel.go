// Package parallel runs independent pieces of work, one per index, on
// every core: decoding a batch's payloads, encoding its alerts.
package parallel

import (
	"runtime"
	"sync"
)

// For calls f(i) for every i in [0, n) and returns when all calls have.
// The calls run on up to GOMAXPROCS goroutines, one for every grain indexes
// at least (a small n is not worth a goroutine), each taking every
// workers-th index. f must not touch what another index's call touches.
func For(n, grain int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(grain, 1)+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				f(i)
			}
		})
	}
	wg.Wait()
}
