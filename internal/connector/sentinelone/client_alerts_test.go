package sentinelone

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

// injectAlerts adds n STAR alerts for one host, advancing the clock by step
// after each (0: they share one createdAt), and returns their ids.
func injectAlerts(t *testing.T, sim *Sim, c *conntest.Clock, n int, step time.Duration) []string {
	t.Helper()
	var ids []string
	for range n {
		before := sim.AlertIDs()
		if err := sim.Inject(NewAlert("WS-01", testAgent, "Encoded PowerShell", "High")); err != nil {
			t.Fatal(err)
		}
		for _, id := range sim.AlertIDs() {
			if !slices.Contains(before, id) {
				ids = append(ids, id)
			}
		}
		c.Add(step)
	}
	return ids
}

// inOrder checks that the ids of one list came in list order, and returns
// those of got that belong to it.
func inOrder(t *testing.T, what string, list, got []string) {
	t.Helper()
	var sub []string
	for _, id := range got {
		if slices.Contains(list, id) {
			sub = append(sub, id)
		}
	}
	if diff := cmp.Diff(list, sub); diff != "" {
		t.Errorf("%s in the order pulled (-want +got):\n%s", what, diff)
	}
}

// TestSourcePullsThreatsAndAlerts pages through both lists: every threat
// and every alert once, each list in its order.
func TestSourcePullsThreatsAndAlerts(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	threats := inject(t, sim, c, 5, time.Second)
	alerts := injectAlerts(t, sim, c, 7, 500*time.Millisecond)
	got, cur := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, "")
	if diff := cmp.Diff(sorted(append(slices.Clone(threats), alerts...)), sorted(got)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if len(got) != len(threats)+len(alerts) {
		t.Errorf("received %d payloads, want %d", len(got), len(threats)+len(alerts))
	}
	inOrder(t, "threats", threats, got)
	inOrder(t, "alerts", alerts, got)
	var c2 cursor
	if err := json.Unmarshal([]byte(cur), &c2); err != nil || c2.Alerts == nil || c2.CreatedAt == "" || c2.Alerts.CreatedAt == "" {
		t.Errorf("cursor %q does not hold both positions", cur)
	}
	// Only alerts arrive: the next pull returns them alone.
	c.Add(time.Minute)
	more := injectAlerts(t, sim, c, 3, 0)
	rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, cur)
	if diff := cmp.Diff(more, rest); diff != "" {
		t.Errorf("after new alerts (-want +got):\n%s", diff)
	}
}

// TestSourceResumesBothLists restarts a Source from a stored cursor while
// threats and alerts arrive, some with the very createdAt each position
// stopped at: no gap and no duplicate in either list.
func TestSourceResumesBothLists(t *testing.T) {
	for _, size := range []int{1, 2, 3, 10, 1000} {
		t.Run("page size "+strconv.Itoa(size), func(t *testing.T) {
			c := conntest.NewClock()
			sim, cfg := startSim(t, WithClock(c.Now))
			threats := inject(t, sim, c, 6, 0)
			alerts := injectAlerts(t, sim, c, 8, 0) // at one instant
			c.Add(time.Second)
			threats = append(threats, inject(t, sim, c, 2, 0)...)
			alerts = append(alerts, injectAlerts(t, sim, c, 2, time.Millisecond)...)

			first, err := newSource(t, cfg, WithPageSize(size)).Pull(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			got := conntest.PayloadIDs(t, Decoder{}, first.Payloads)
			var cur cursor
			if err := json.Unmarshal([]byte(first.Cursor), &cur); err != nil || cur.Alerts == nil {
				t.Fatalf("cursor %q holds no alerts position", first.Cursor)
			}

			// While bannin is down: alerts and threats at the instants the
			// positions stopped at, and newer ones of each.
			now := c.Now()
			c.Set(jsonfieldTime(t, cur.Alerts.CreatedAt))
			alerts = append(alerts, injectAlerts(t, sim, c, 2, 0)...)
			c.Set(jsonfieldTime(t, cur.CreatedAt))
			threats = append(threats, inject(t, sim, c, 2, 0)...)
			c.Set(now.Add(time.Second))
			alerts = append(alerts, injectAlerts(t, sim, c, 3, time.Millisecond)...)
			threats = append(threats, inject(t, sim, c, 1, 0)...)

			rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(size)), Decoder{}, first.Cursor)
			got = append(got, rest...)
			want := append(slices.Clone(threats), alerts...)
			if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
				t.Errorf("gap or duplicate after restart (-want +got):\n%s", diff)
			}
			if len(got) != len(want) {
				t.Errorf("received %d payloads, want %d", len(got), len(want))
			}
		})
	}
}

// TestSourceResumesBothFromEveryCursor stores the cursor after every page
// and restarts from each: a restart delivers exactly what the uninterrupted
// run delivered after that point, in the same order.
func TestSourceResumesBothFromEveryCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	inject(t, sim, c, 3, 0)
	injectAlerts(t, sim, c, 4, 0)
	inject(t, sim, c, 4, time.Millisecond)
	injectAlerts(t, sim, c, 5, time.Millisecond)
	src := newSource(t, cfg, WithPageSize(2))
	var pages [][]string
	cursors := []string{""}
	for cur := ""; ; {
		page, err := src.Pull(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, conntest.PayloadIDs(t, Decoder{}, page.Payloads))
		cur = page.Cursor
		cursors = append(cursors, cur)
		if !page.More {
			break
		}
	}
	for i, cur := range cursors {
		rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, cur)
		want := slices.Concat(pages[min(i, len(pages)):]...)
		if diff := cmp.Diff(want, rest); diff != "" {
			t.Errorf("restart from cursor %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestSourceResumesThreatsOnlyCursor resumes from a cursor written before
// STAR alerts were pulled: threats go on from where it was, alerts start
// at the beginning.
func TestSourceResumesThreatsOnlyCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	threats := inject(t, sim, c, 4, time.Second)
	alerts := injectAlerts(t, sim, c, 2, time.Second)
	first, err := newSource(t, cfg, WithPageSize(2), WithoutAlerts()).Pull(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var old cursor
	if err := json.Unmarshal([]byte(first.Cursor), &old); err != nil || old.Alerts != nil {
		t.Fatalf("threats-only cursor %q: %v", first.Cursor, err)
	}
	got := conntest.PayloadIDs(t, Decoder{}, first.Payloads)
	rest, _ := conntest.PullAll(t, newSource(t, cfg, WithPageSize(2)), Decoder{}, first.Cursor)
	got = append(got, rest...)
	if diff := cmp.Diff(sorted(append(slices.Clone(threats), alerts...)), sorted(got)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// TestSourceAlertErrors: alerts the API user may not read fail the Pull
// naming the permission, and the threats read with them come again.
func TestSourceAlertErrors(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	threats := inject(t, sim, c, 2, time.Second)
	injectAlerts(t, sim, c, 1, 0)
	sim.DenyPermission(PermAlertsView)
	_, err := newSource(t, cfg).Pull(context.Background(), "")
	conntest.CheckErr(t, err, false, 0, ErrMissingPermission, `"STAR Custom Rules / Alerts: View"`)
	got, _ := conntest.PullAll(t, newSource(t, cfg, WithoutAlerts()), Decoder{}, "")
	if diff := cmp.Diff(threats, got); diff != "" {
		t.Errorf("WithoutAlerts (-want +got):\n%s", diff)
	}
}

// TestSourceAlertsExpiredCursor: the console refuses the alerts'
// nextCursor; the alerts listing restarts at its last instant.
func TestSourceAlertsExpiredCursor(t *testing.T) {
	c := conntest.NewClock()
	sim, cfg := startSim(t, WithClock(c.Now))
	want := injectAlerts(t, sim, c, 5, time.Second)
	src := newSource(t, cfg, WithPageSize(2))
	page, err := src.Pull(context.Background(), "")
	if err != nil || !page.More {
		t.Fatalf("first pull: more %v, %v", page.More, err)
	}
	got := conntest.PayloadIDs(t, Decoder{}, page.Payloads)
	var cur cursor
	if err := json.Unmarshal([]byte(page.Cursor), &cur); err != nil || cur.Alerts == nil || cur.Alerts.Cursor == "" {
		t.Fatalf("cursor %q holds no alerts nextCursor", page.Cursor)
	}
	cur.Alerts.Cursor = "expired!"
	rest, _ := conntest.PullAll(t, src, Decoder{}, cur.String())
	if diff := cmp.Diff(want, append(got, rest...)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func jsonfieldTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
