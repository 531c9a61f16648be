package crashtest

import (
	"bytes"
	"database/sql"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestPollLeaseMovesPostgres runs three `bannin serve` nodes on one
// PostgreSQL schema that all poll the same CrowdStrike source (the
// simulator, a process of its own). Alerts are injected at the simulator in
// waves while nodes are SIGKILLed one after another — the lease holder
// among them, mid-page or not. Exactly one node polls at a time (a session
// advisory lock); when it dies its lease is free and another node takes
// it on its next try. The check: every injected alert was fetched into the
// inbox exactly once (the cursor is committed with the page, so a node
// killed mid-page leaves no gap and causes no repeat) and stored once.
func TestPollLeaseMovesPostgres(t *testing.T) {
	base := os.Getenv("BANNIN_TEST_PG")
	if base == "" {
		t.Skip("BANNIN_TEST_PG is not set; set it to a PostgreSQL URL to run the poll-lease test")
	}
	if testing.Short() {
		t.Skip("the crash harness builds and runs bannin; skipped with -short")
	}
	h := newHarness(t, 3)
	h.db, h.driver = freshSchema(t, base), "pgx"
	n := envInt("BANNIN_POLL_ALERTS", 1500)
	kills := envInt("BANNIN_POLL_KILLS", 6)
	for i := range h.listens {
		h.start(i)
	}
	db, err := sql.Open("pgx", h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inbox := func() int {
		var c int
		db.QueryRow(`SELECT COUNT(*) FROM inbox WHERE tenant = 'crash'`).Scan(&c)
		return c
	}
	ids := make([]string, n)
	waves := kills + 1
	var longest time.Duration
	r := rand.New(rand.NewPCG(3, 4))
	for w := range waves {
		var body bytes.Buffer
		from, to := w*n/waves, (w+1)*n/waves
		for i := from; i < to; i++ {
			id, _, p := alert(i + 1) // i+1: no critical alert at 0, polling is the subject here
			ids[i] = id
			body.Write(p)
			body.WriteByte('\n')
		}
		post(t, h.simURL+"/_sim/alerts", body.Bytes())
		if w == waves-1 {
			break
		}
		// Kill a node at a random moment of the poll cycle (1 s): before,
		// during or after the holder fetches and commits the wave. Measure
		// how long until the inbox grows again (the lease moved, or the
		// killed node was not the holder).
		time.Sleep(time.Duration(r.IntN(1200)) * time.Millisecond)
		victim := w % len(h.listens)
		before := inbox()
		killed := time.Now()
		h.kill(victim)
		for inbox() == before && inbox() < to && time.Since(killed) < 60*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		gap := time.Since(killed)
		longest = max(longest, gap)
		t.Logf("wave %d: killed node %d with %d of %d fetched; fetching again after %v", w+1, victim, before, to, gap.Round(time.Millisecond))
		h.start(victim)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for inbox() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	waitQuiet(t, db, n)
	for i := range h.listens {
		h.kill(i)
	}
	if got := inbox(); got != n {
		t.Errorf("inbox holds %d payloads for %d injected alerts: want each fetched exactly once", got, n)
	}
	stored := map[string]int{}
	rows, err := db.Query(`SELECT vendor_id FROM alerts WHERE tenant = 'crash'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id]++
	}
	rows.Close()
	missing := 0
	for _, id := range ids {
		if stored[id] != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("alert %s stored %d times, want 1", id, stored[id])
			}
		}
	}
	t.Logf("%d alerts injected in %d waves, %d kills over 3 nodes: %d in the inbox, %d stored, %d missing or doubled; longest wait for polling to resume after a kill %v",
		n, waves, kills, inbox(), len(stored), missing, longest.Round(time.Millisecond))
	if len(stored) != n {
		t.Errorf("%d distinct alerts stored, want %d", len(stored), n)
	}
}
