package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/view"
)

// TestMonthNeedsTwoHumans is seed 001's headline as an acceptance test: a
// month of ~2,000 alerts holds two real incidents, and only those two reach a
// human — on virtual time, through the whole pipeline.
func TestMonthNeedsTwoHumans(t *testing.T) {
	var in bytes.Buffer
	n, err := Month(&in, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	res := replay(t, in.Bytes())
	if res.Alerts.Received != n || res.Alerts.Quarantined != 0 {
		t.Fatalf("alerts = %+v, want %d received, none quarantined", res.Alerts, n)
	}
	var human []view.IncidentOut
	for _, in := range res.Incidents {
		if in.NeedsHuman {
			human = append(human, in)
		}
	}
	if len(human) != 2 {
		for _, h := range human {
			t.Logf("needs a human: %s %s %s %v %q", h.ID, h.Priority, h.Severity, h.Hosts, h.Title)
		}
		t.Fatalf("%d incidents need a human, want 2 (the ransomware and the credential theft)", len(human))
	}
	if human[0].Priority != "P0" || human[1].Priority != "P1" || len(human[1].Hosts) != 3 {
		t.Errorf("got %s on %v and %s on %v; want P0 on fs01 and P1 on three hosts",
			human[0].Priority, human[0].Hosts, human[1].Priority, human[1].Hosts)
	}
	if res.Alerts.Suppressed < 150 || res.Alerts.Duplicates < 60 {
		t.Errorf("suppressed %d, duplicates %d: want the allowlisted backups and the re-deliveries counted", res.Alerts.Suppressed, res.Alerts.Duplicates)
	}
}

// TestReplayDeterministic replays the same input twice on fresh stores and
// requires identical output.
func TestReplayDeterministic(t *testing.T) {
	var in bytes.Buffer
	if _, err := Month(&in, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 300, 7); err != nil {
		t.Fatal(err)
	}
	in.WriteString("not json\n")
	first, second := replay(t, in.Bytes()), replay(t, in.Bytes())
	if first.Alerts.Quarantined != 1 {
		t.Errorf("quarantined = %d, want the one bad line", first.Alerts.Quarantined)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("two replays of one input differ (-first +second):\n%s", diff)
	}
}

func replay(t *testing.T, input []byte) *app.Result {
	t.Helper()
	// Generous: under -race on a loaded 2-core CI machine a month's replay
	// has taken close to two minutes; this bounds a hang, not a speed.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, app.Config{DB: filepath.Join(dir, "replay.db"), Tenants: []*tenant.Tenant{ten}, Simulate: true,
		VirtualTime: true, DryRunNotify: true, RetryBase: time.Millisecond, SecretKey: make([]byte, 32), Log: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := a.Replay(ctx, bytes.NewReader(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestReplayLongLine: a line over the limit is quarantined, not fatal.
func TestReplayLongLine(t *testing.T) {
	var in bytes.Buffer
	if _, err := Month(&in, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 20, 5); err != nil {
		t.Fatal(err)
	}
	good := in.Bytes()
	var body bytes.Buffer
	body.Write(good)
	body.WriteString(`{"tenant":"hokuto","source":"falcon","received_at":"2026-10-30T00:00:00Z","payload":{"x":"`)
	body.Write(bytes.Repeat([]byte("a"), 17<<20))
	body.WriteString("\"}}\n")
	body.Write(good[:bytes.IndexByte(good, '\n')+1])
	res := replay(t, body.Bytes())
	if res.Alerts.Quarantined != 1 || res.Alerts.Received != bytes.Count(good, []byte("\n"))+2 {
		t.Errorf("alerts = %+v, want the long line quarantined and every other line read", res.Alerts)
	}
}
