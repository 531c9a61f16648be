package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// Two triage workers claim from one inbox, each in its own transactions:
// no row is handed out twice and every row is handed out once. SQLite
// guarantees it by its single writer, PostgreSQL by SKIP LOCKED.
func testConcurrentClaim(t *testing.T, db *sqlstore.DB) {
	const rows, batch, workers = 300, 7, 2
	var items []sqlstore.InboxItem
	for i := range rows {
		items = append(items, item("a", "falcon", i))
	}
	accept(t, db, items, nil)

	claimed := make([][]int64, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			claimed[w], errs[w] = drainInbox(t.Context(), db, batch)
		})
	}
	close(start)
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
	}

	seen := map[int64]int{}
	for w, ids := range claimed {
		for _, id := range ids {
			if prev, dup := seen[id]; dup {
				t.Errorf("inbox row %d claimed by worker %d and again by worker %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	if len(seen) != rows {
		t.Errorf("%d distinct rows claimed (worker 0: %d, worker 1: %d), want %d", len(seen), len(claimed[0]), len(claimed[1]), rows)
	}
	diff(t, "InboxCounts", map[string]int{sqlstore.InboxDone: rows}, inboxCounts(t, db, "a"))
}

// drainInbox claims and finishes batches until a claim comes back empty and
// returns the ids it claimed.
func drainInbox(ctx context.Context, db *sqlstore.DB, batch int) ([]int64, error) {
	var ids []int64
	for {
		var got []sqlstore.InboxItem
		err := db.InTx(ctx, func(tx *sqlstore.Tx) error {
			var err error
			if got, err = tx.ClaimPending(ctx, batch); err != nil {
				return err
			}
			for _, it := range got {
				if it.State != sqlstore.InboxPending {
					return fmt.Errorf("claimed row %d in state %q", it.ID, it.State)
				}
				if err := tx.FinishInbox(ctx, it.ID, sqlstore.InboxDone, "", t0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return ids, err
		}
		if len(got) == 0 {
			return ids, nil
		}
		for _, it := range got {
			ids = append(ids, it.ID)
		}
	}
}

// While one transaction holds claimed rows, another claims the rest. Only
// for a dialect that locks claimed rows: with SQLite's single writer the
// second transaction cannot begin before the first ends.
func testClaimSkipsLocked(t *testing.T, db *sqlstore.DB) {
	if db.Dialect().ClaimSuffix == "" {
		t.Skipf("%s has a single writer: claims never overlap", db.Dialect().Name)
	}
	var items []sqlstore.InboxItem
	for i := range 6 {
		items = append(items, item("a", "falcon", i))
	}
	accept(t, db, items, nil)

	var first, second []sqlstore.InboxItem
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		var err error
		if first, err = tx.ClaimPending(ctx, 4); err != nil {
			return err
		}
		// Not finished yet: the rows are still pending, but locked.
		second = claim(t, db, 10, done)
		return nil
	})
	diff(t, "first claim", withState(items[:4], sqlstore.InboxPending, ""), first, ignoreInboxID)
	diff(t, "second claim skips the locked rows", withState(items[4:], sqlstore.InboxPending, ""), second, ignoreInboxID)
	// The first transaction ended without finishing its rows: they are free again.
	diff(t, "rows released by the first transaction", first, claim(t, db, 10, done))
}

// LockTenant serialises transactions of one tenant and leaves other tenants
// alone. Where the dialect has a single writer it is a no-op; where it is not,
// this test watches PostgreSQL's pg_locks to know whether a transaction waits.
func testLockTenant(t *testing.T, db *sqlstore.DB) {
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		if err := tx.LockTenant(ctx, "a"); err != nil {
			return err
		}
		return tx.LockTenant(ctx, "a") // taking it twice in one transaction is fine
	})
	if db.Dialect().TenantLock == "" {
		t.Skipf("%s has a single writer: no tenant lock to contend for", db.Dialect().Name)
	}

	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	var waitA, waitB func() error
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		if err := tx.LockTenant(ctx, "a"); err != nil {
			return err
		}
		var blocked bool
		if blocked, waitB = contend(t, db, "b", note); blocked {
			t.Error("LockTenant(b) waited for tenant a's lock")
		}
		if blocked, waitA = contend(t, db, "a", note); !blocked {
			t.Error("a second LockTenant(a) did not wait for the first transaction")
		}
		note("first")
		return nil
	})
	for _, wait := range []func() error{waitA, waitB} {
		if err := wait(); err != nil {
			t.Fatalf("contending transaction: %v", err)
		}
	}
	if want := []string{"b", "first", "a"}; !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
}

// contend starts a transaction that takes the tenant's lock and notes the
// tenant once it holds it. It returns whether that transaction had to wait
// for the lock, and a function that waits for the transaction to end.
func contend(t *testing.T, db *sqlstore.DB, tenant string, note func(string)) (blocked bool, wait func() error) {
	t.Helper()
	pid := make(chan int, 1)
	finished := make(chan struct{})
	var err error
	go func() {
		defer close(finished)
		err = db.InTx(t.Context(), func(tx *sqlstore.Tx) error {
			var p int
			perr := tx.SQL().QueryRowContext(t.Context(), `SELECT pg_backend_pid()`).Scan(&p)
			pid <- p
			if perr != nil {
				return perr
			}
			if err := tx.LockTenant(t.Context(), tenant); err != nil {
				return err
			}
			note(tenant)
			return nil
		})
	}()
	wait = func() error { <-finished; return err }
	return waitingForLock(t, db, <-pid, finished), wait
}

// waitingForLock polls until the backend pid waits for an advisory lock
// (true) or finished is closed (false).
func waitingForLock(t *testing.T, db *sqlstore.DB, pid int, finished <-chan struct{}) bool {
	t.Helper()
	for {
		select {
		case <-finished:
			return false
		default:
		}
		var waiting bool
		err := db.SQL().QueryRowContext(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)`, pid).Scan(&waiting)
		if err != nil {
			t.Errorf("poll pg_locks: %v", err)
			return false
		}
		if waiting {
			return true
		}
	}
}
