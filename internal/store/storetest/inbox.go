package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

var ignoreInboxID = cmpopts.IgnoreFields(sqlstore.InboxItem{}, "ID")

func item(tenant, source string, n int) sqlstore.InboxItem {
	return sqlstore.InboxItem{Tenant: tenant, Source: source, ReceivedAt: t0.Add(time.Duration(n) * time.Second),
		Payload: fmt.Appendf(nil, `{"n":%d}`, n)}
}

func accept(t *testing.T, db *sqlstore.DB, items []sqlstore.InboxItem, cursors []sqlstore.Cursor) {
	t.Helper()
	check(t, "Accept", db.Accept(t.Context(), items, cursors))
}

// claim claims up to limit rows in a transaction of its own and, unless
// finish is nil, finishes each with finish(i, row).
func claim(t *testing.T, db *sqlstore.DB, limit int, finish func(i int, it sqlstore.InboxItem) (state, reason string)) []sqlstore.InboxItem {
	t.Helper()
	var got []sqlstore.InboxItem
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		var err error
		if got, err = tx.ClaimPending(ctx, limit); err != nil {
			return err
		}
		for i, it := range got {
			if finish == nil {
				continue
			}
			state, reason := finish(i, it)
			if err := tx.FinishInbox(ctx, it.ID, state, reason, t0.Add(time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	return got
}

func done(int, sqlstore.InboxItem) (string, string) { return sqlstore.InboxDone, "" }

func inboxCounts(t *testing.T, db *sqlstore.DB, tenant string) map[string]int {
	t.Helper()
	n, err := db.InboxCounts(t.Context(), tenant)
	check(t, "InboxCounts", err)
	return n
}

func pendingCount(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	n, err := db.PendingCount(t.Context())
	check(t, "PendingCount", err)
	return n
}

func quarantined(t *testing.T, db *sqlstore.DB, tenant string) []sqlstore.InboxItem {
	t.Helper()
	q, err := db.Quarantined(t.Context(), tenant, 100)
	check(t, "Quarantined", err)
	return q
}

func withState(items []sqlstore.InboxItem, state, reason string) []sqlstore.InboxItem {
	out := make([]sqlstore.InboxItem, len(items))
	for i, it := range items {
		it.State, it.Error = state, reason
		out[i] = it
	}
	return out
}

func testInboxClaimFinish(t *testing.T, db *sqlstore.DB) {
	items := []sqlstore.InboxItem{item("a", "falcon", 1), item("b", "s1", 2), item("a", "falcon", 3)}
	accept(t, db, items, nil)
	if n := pendingCount(t, db); n != 3 {
		t.Errorf("PendingCount = %d, want 3", n)
	}

	first := claim(t, db, 2, func(i int, _ sqlstore.InboxItem) (string, string) {
		if i == 0 {
			return sqlstore.InboxDone, ""
		}
		return sqlstore.InboxQuarantined, "decode: unexpected end of JSON input"
	})
	diff(t, "first claim (oldest first, all tenants)", withState(items[:2], sqlstore.InboxPending, ""), first, ignoreInboxID)
	if len(first) == 2 && !(first[0].ID > 0 && first[1].ID > first[0].ID) {
		t.Errorf("claimed ids %d, %d: want positive and increasing", first[0].ID, first[1].ID)
	}

	second := claim(t, db, 10, done)
	diff(t, "second claim (finished rows are not claimed again)", withState(items[2:], sqlstore.InboxPending, ""), second, ignoreInboxID)
	if rest := claim(t, db, 10, nil); len(rest) != 0 {
		t.Errorf("claim after all finished returned %d rows", len(rest))
	}

	if n := pendingCount(t, db); n != 0 {
		t.Errorf("PendingCount = %d, want 0", n)
	}
	diff(t, "InboxCounts(a)", map[string]int{sqlstore.InboxDone: 2}, inboxCounts(t, db, "a"))
	diff(t, "InboxCounts(b)", map[string]int{sqlstore.InboxQuarantined: 1}, inboxCounts(t, db, "b"))

	wantQ := withState(items[1:2], sqlstore.InboxQuarantined, "decode: unexpected end of JSON input")
	diff(t, "Quarantined(b)", wantQ, quarantined(t, db, "b"), ignoreInboxID)
	diff(t, "Quarantined(a)", []sqlstore.InboxItem(nil), quarantined(t, db, "a"))
}

// Claiming only locks: a transaction that claims rows and ends without
// finishing them leaves them pending for the next claimer.
func testInboxClaimWithoutFinish(t *testing.T, db *sqlstore.DB) {
	accept(t, db, []sqlstore.InboxItem{item("a", "falcon", 1), item("a", "falcon", 2)}, nil)

	committed := claim(t, db, 10, nil)
	errRollback := errors.New("roll back")
	err := db.InTx(t.Context(), func(tx *sqlstore.Tx) error {
		if _, err := tx.ClaimPending(t.Context(), 10); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx = %v, want the callback's error", err)
	}
	again := claim(t, db, 10, done)
	diff(t, "rows claimed again", committed, again)
	if len(again) != 2 {
		t.Errorf("claimed %d rows, want 2", len(again))
	}
}

func testInboxRequeue(t *testing.T, db *sqlstore.DB) {
	accept(t, db, []sqlstore.InboxItem{item("a", "falcon", 1), item("a", "falcon", 2), item("a", "falcon", 3),
		item("a", "falcon", 4)}, nil)
	rows := claim(t, db, 10, func(i int, _ sqlstore.InboxItem) (string, string) {
		if i == 3 {
			return sqlstore.InboxDone, ""
		}
		return sqlstore.InboxQuarantined, fmt.Sprintf("bad payload %d", i)
	})
	if len(rows) != 4 {
		t.Fatalf("claimed %d rows, want 4", len(rows))
	}
	ctx := t.Context()

	// By id: only quarantined rows move; the done row stays done.
	n, err := db.Requeue(ctx, "a", []int64{rows[0].ID, rows[3].ID})
	check(t, "Requeue(ids)", err)
	if n != 1 {
		t.Errorf("Requeue(ids) = %d, want 1", n)
	}
	diff(t, "Quarantined after requeue by id (newest first)",
		[]sqlstore.InboxItem{withState(rows[2:3], sqlstore.InboxQuarantined, "bad payload 2")[0],
			withState(rows[1:2], sqlstore.InboxQuarantined, "bad payload 1")[0]},
		quarantined(t, db, "a"))
	diff(t, "counts after requeue by id",
		map[string]int{sqlstore.InboxPending: 1, sqlstore.InboxQuarantined: 2, sqlstore.InboxDone: 1}, inboxCounts(t, db, "a"))
	diff(t, "requeued row is pending again with its error cleared", rows[:1], claim(t, db, 10, nil))

	// All of them.
	n, err = db.Requeue(ctx, "a", nil)
	check(t, "Requeue(all)", err)
	if n != 2 {
		t.Errorf("Requeue(all) = %d, want 2", n)
	}
	diff(t, "Quarantined after requeue of all", []sqlstore.InboxItem(nil), quarantined(t, db, "a"))
	diff(t, "counts after requeue of all", map[string]int{sqlstore.InboxPending: 3, sqlstore.InboxDone: 1}, inboxCounts(t, db, "a"))
	diff(t, "all requeued rows pending", rows[:3], claim(t, db, 10, nil))
	if n, err := db.Requeue(ctx, "a", nil); err != nil || n != 0 {
		t.Errorf("Requeue with nothing quarantined = %d, %v; want 0, nil", n, err)
	}
}

// Accept stores many payloads and the pollers' cursors in one transaction.
func testAcceptGroup(t *testing.T, db *sqlstore.DB) {
	const n = 450 // more than one multi-row INSERT
	var items []sqlstore.InboxItem
	for i := range n {
		items = append(items, item([]string{"a", "b"}[i%2], "falcon", i))
	}
	cursors := []sqlstore.Cursor{
		{Tenant: "a", Source: "falcon", Value: "offset-449", UpdatedAt: t0},
		{Tenant: "b", Source: "falcon", Value: "offset-448", UpdatedAt: t0},
	}
	accept(t, db, items, cursors)

	diff(t, "InboxCounts(a)", map[string]int{sqlstore.InboxPending: n / 2}, inboxCounts(t, db, "a"))
	diff(t, "InboxCounts(b)", map[string]int{sqlstore.InboxPending: n / 2}, inboxCounts(t, db, "b"))
	diff(t, "all rows in order", withState(items, sqlstore.InboxPending, ""), claim(t, db, 1000, done), ignoreInboxID)
	for _, c := range cursors {
		got, err := db.GetCursor(t.Context(), c.Tenant, c.Source)
		check(t, "GetCursor", err)
		if got != c.Value {
			t.Errorf("GetCursor(%s, %s) = %q, want %q", c.Tenant, c.Source, got, c.Value)
		}
	}

	// A cursor alone (a poll that found nothing new) and nothing at all.
	accept(t, db, nil, []sqlstore.Cursor{{Tenant: "a", Source: "falcon", Value: "offset-450", UpdatedAt: t0}})
	accept(t, db, nil, nil)
	if got, _ := db.GetCursor(t.Context(), "a", "falcon"); got != "offset-450" {
		t.Errorf("cursor after cursor-only Accept = %q, want offset-450", got)
	}
	if n := pendingCount(t, db); n != 0 {
		t.Errorf("PendingCount = %d, want 0", n)
	}
}

func testCursors(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	get := func(tenant, source string) string {
		t.Helper()
		v, err := db.GetCursor(ctx, tenant, source)
		check(t, "GetCursor", err)
		return v
	}
	put := func(c sqlstore.Cursor) {
		t.Helper()
		inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.PutCursor(ctx, c) })
	}
	if v := get("a", "falcon"); v != "" {
		t.Errorf("absent cursor = %q, want empty", v)
	}
	put(sqlstore.Cursor{Tenant: "a", Source: "falcon", Value: "1", UpdatedAt: t0})
	put(sqlstore.Cursor{Tenant: "a", Source: "falcon", Value: "2", UpdatedAt: t0.Add(time.Minute)})
	put(sqlstore.Cursor{Tenant: "a", Source: "s1", Value: "x"})
	for _, c := range []struct{ tenant, source, want string }{
		{"a", "falcon", "2"}, {"a", "s1", "x"}, {"b", "falcon", ""}, {"a", "defender", ""},
	} {
		if v := get(c.tenant, c.source); v != c.want {
			t.Errorf("GetCursor(%s, %s) = %q, want %q", c.tenant, c.source, v, c.want)
		}
	}

	// A rolled-back transaction does not move the cursor.
	err := db.InTx(ctx, func(tx *sqlstore.Tx) error {
		if err := tx.PutCursor(ctx, sqlstore.Cursor{Tenant: "a", Source: "falcon", Value: "3"}); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("InTx returned nil for a failing callback")
	}
	if v := get("a", "falcon"); v != "2" {
		t.Errorf("cursor after rollback = %q, want 2", v)
	}
}

// testInboxPeek covers what the processor's decode-ahead reads: pending
// rows after an id, oldest first, without claiming them.
func testInboxPeek(t *testing.T, db *sqlstore.DB) {
	items := []sqlstore.InboxItem{item("a", "falcon", 1), item("b", "s1", 2), item("a", "falcon", 3), item("a", "falcon", 4)}
	accept(t, db, items, nil)
	first := claim(t, db, 1, done)
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error {
		all, err := tx.PeekPending(ctx, 0, 10)
		if err != nil {
			return err
		}
		diff(t, "PeekPending(0, 10): the pending rows", withState(items[1:], sqlstore.InboxPending, ""), all, ignoreInboxID)
		if len(first) != 1 || len(all) != 3 {
			return nil
		}
		after, err := tx.PeekPending(ctx, all[0].ID, 1)
		if err != nil {
			return err
		}
		diff(t, "PeekPending(id, 1)", withState(items[2:3], sqlstore.InboxPending, ""), after, ignoreInboxID)
		return nil
	})
	if n := pendingCount(t, db); n != 3 {
		t.Errorf("PendingCount after peeking = %d, want 3", n)
	}
}
