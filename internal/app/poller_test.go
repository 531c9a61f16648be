package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// simClock is the simulator's settable clock: it decides created_timestamp.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// pollRig is a long-lived CrowdStrike simulator and bannin's store; each
// poller it makes is a bannin process polling the simulator.
type pollRig struct {
	t     *testing.T
	app   *app.App
	sim   *crowdstrike.Sim
	clock *simClock
	cfg   connector.Config
	hosts int
}

// inject adds n alerts, each on a host of its own, created at the clock's
// time, and returns their composite ids.
func (r *pollRig) inject(n int) []string {
	r.t.Helper()
	before := len(r.sim.AlertIDs())
	for range n {
		r.hosts++
		host := fmt.Sprintf("ws-%03d", r.hosts)
		if err := r.sim.Inject(crowdstrike.NewAlert(host, aid(host))); err != nil {
			r.t.Fatal(err)
		}
	}
	return r.sim.AlertIDs()[before:]
}

// poller is one bannin process's poller: its own committer and API client
// on the shared store. stop ends it as a crash would.
func (r *pollRig) poller() (p *intake.Poller, stop func()) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := intake.NewCommitter(ctx, r.app.DB, intake.CommitterOptions{OnCommit: r.app.Processor.Wake, Logger: quiet()})
	src, err := crowdstrike.NewSource(r.cfg, crowdstrike.WithPageSize(3))
	if err != nil {
		r.t.Fatal(err)
	}
	p = &intake.Poller{Tenant: "hokuto", Source: "falcon", API: src, Cursors: r.app.DB, Committer: c,
		Interval: time.Second, Clock: time.Now, Log: quiet()}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); c.Wait() }) }
	r.t.Cleanup(stop)
	return p, stop
}

// drain polls until the API has nothing more, at most pages pages (0: no
// limit), and returns how many pages it pulled.
func (r *pollRig) drain(p *intake.Poller, pages int) int {
	r.t.Helper()
	for n := 1; n <= 100; n++ {
		more, err := p.Once(context.Background())
		if err != nil {
			r.t.Fatalf("poll: %v", err)
		}
		if !more || n == pages {
			return n
		}
	}
	r.t.Fatal("the API kept saying more")
	return 0
}

// inboxIDs counts the composite ids of the payloads in the source's inbox.
func (r *pollRig) inboxIDs() map[string]int {
	r.t.Helper()
	rows, err := r.app.DB.SQL().QueryContext(context.Background(),
		`SELECT payload FROM inbox WHERE tenant = $1 AND source = $2`, "hokuto", "falcon")
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var p []byte
		if err := rows.Scan(&p); err != nil {
			r.t.Fatal(err)
		}
		var a struct {
			ID string `json:"composite_id"`
		}
		if err := json.Unmarshal(p, &a); err != nil {
			r.t.Fatalf("inbox payload is not JSON: %v", err)
		}
		out[a.ID]++
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// TestPollerRestart polls a CrowdStrike simulator over HTTP and restarts
// the poller — after a clean page, after a pull whose commit never
// happened, with alerts sharing the cursor's timestamp arriving while it is
// down — and checks that every alert the vendor holds is stored exactly once.
func TestPollerRestart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		// Without simulators the demo source is push-only: bannin polls
		// nothing itself, the test's pollers do.
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)}, func(c *app.Config) { c.Simulate = false })
		clk := &simClock{t: day0.Add(10 * time.Hour)}
		sim := crowdstrike.NewSim(crowdstrike.WithClock(clk.Now))
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		id, secret := sim.Credentials()
		r := &pollRig{t: t, app: e.App, sim: sim, clock: clk, cfg: connector.Config{URL: srv.URL, ClientID: id, ClientSecret: secret}}

		first := clk.Now()
		r.inject(7) // seven alerts in one instant: pages of 3 end inside it
		clk.Set(first.Add(time.Second))
		r.inject(2)

		p1, crash1 := r.poller()
		if n := r.drain(p1, 2); n != 2 {
			t.Fatalf("first poller pulled %d pages, want 2", n)
		}
		crash1()

		// A poller that pulls a page but dies before its commit: the cursor
		// must not move, so the page is pulled again.
		p2, crash2 := r.poller()
		crash2()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := p2.Once(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, intake.ErrBusy) {
			t.Fatalf("poll with a stopped committer: %v, want it refused (busy) or waiting until its context ends", err)
		}

		// While bannin is down: more alerts in the instant the cursor stopped
		// at (indexed late), and a newer one.
		clk.Set(first)
		r.inject(2)
		clk.Set(first.Add(2 * time.Second))
		r.inject(1)

		p3, _ := r.poller()
		r.drain(p3, 0)
		clk.Set(first.Add(3 * time.Second))
		r.inject(3)
		r.drain(p3, 0)
		if n := r.drain(p3, 0); n != 1 {
			t.Errorf("an idle poll pulled %d pages, want 1", n)
		}
		p4, _ := r.poller()
		r.drain(p4, 0) // a restart with nothing new

		want := map[string]int{}
		for _, id := range sim.AlertIDs() {
			want[id] = 1
		}
		if diff := cmp.Diff(want, r.inboxIDs()); diff != "" {
			t.Errorf("inbox payloads per alert id (-want +got):\n%s", diff)
		}
		quiesce(t, e.App)
		if diff := cmp.Diff(want, vendorIDs(t, e.App, "hokuto")); diff != "" {
			t.Errorf("stored alerts per id (-want +got):\n%s", diff)
		}
		if st := e.App.Processor.Stats(); st.Duplicates != 0 || st.Quarantined != 0 {
			t.Errorf("processor stats %+v, want no duplicates and nothing quarantined", st)
		}
		if len(want) != 15 || slices.Contains(sim.AlertIDs(), "") {
			t.Errorf("the simulator holds %d alerts, want 15", len(want))
		}
	})
}
