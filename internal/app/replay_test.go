package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/view"
)

// day0 is the first day of the replays' virtual time (a Monday).
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// envelope is one replay input line.
func envelope(t *testing.T, source string, at time.Time, payload []byte) []byte {
	t.Helper()
	b, err := json.Marshal(app.Envelope{Tenant: "hokuto", Source: source, ReceivedAt: at, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replay runs input through a fresh bannin on a fresh store, as `bannin
// replay` does, and returns the result and its JSON.
func replay(t *testing.T, b backend, input []byte) (*app.Result, []byte) {
	t.Helper()
	return replayTenants(t, b, input, hokuto(t))
}

// replayTenants is replay for the given tenants.
func replayTenants(t *testing.T, b backend, input []byte, tenants ...*tenant.Tenant) (*app.Result, []byte) {
	t.Helper()
	cfg := app.Config{DB: b.fresh(t), Tenants: tenants, Simulate: true, VirtualTime: true,
		DryRunNotify: true, RetryBase: 5 * time.Millisecond, SecretKey: make([]byte, 32), Log: quiet()}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := a.Replay(ctx, bytes.NewReader(input), nil)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return res, out
}

// storyInput is a few days of one tenant: credential theft on a PC,
// ransomware on a critical server, an allowlisted backup agent, blocked
// adware, the first alert again, and two bad lines.
func storyInput(t *testing.T) []byte {
	t.Helper()
	theft := envelope(t, "falcon", day0.Add(9*time.Hour), csAlert("rp:theft", "pc-401", credentialTheft()...))
	lines := [][]byte{
		theft,
		envelope(t, "falcon", day0.Add(24*time.Hour+2*time.Hour), csAlert("rp:ransom", "fs01", crowdstrike.AlertSeverity(90),
			crowdstrike.AlertTechnique("TA0040", "Impact", "T1486", "Data Encrypted for Impact"))),
		envelope(t, "falcon", day0.Add(48*time.Hour+3*time.Hour), csAlert("rp:backup", "srv-backup01", crowdstrike.AlertSeverity(70),
			crowdstrike.AlertProcess("AcmeBackup.exe", `\Device\HarddiskVolume1\Program Files\Acme\AcmeBackup.exe`,
				`"C:\Program Files\Acme\AcmeBackup.exe" --full`, strings.Repeat("ab", 32)))),
		envelope(t, "falcon", day0.Add(72*time.Hour+4*time.Hour), csAlert("rp:adware", "pc-450", crowdstrike.AlertSeverity(30),
			crowdstrike.AlertDisposition(alert.ActionBlocked))),
		[]byte(`this line is not JSON`),
		envelope(t, "no-such-source", day0.Add(80*time.Hour), csAlert("rp:lost", "pc-451")),
		theft, // delivered again
	}
	return append(ndjson(lines...), '\n')
}

// TestReplay checks the counts, the decisions and the stable JSON fields
// of DESIGN.md, on virtual time; and that the same input gives the same
// output on a fresh store.
func TestReplay(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		input := storyInput(t)
		res, out := replay(t, b, input)
		want := app.AlertCounts{Received: 7, Accepted: 5, Duplicates: 1, Quarantined: 2, Suppressed: 1}
		if diff := cmp.Diff(want, res.Alerts); diff != "" {
			t.Errorf("alert counts (-want +got):\n%s", diff)
		}
		checkSchema(t, out)

		byHost := map[string]view.IncidentOut{}
		for _, in := range res.Incidents {
			if len(in.Hosts) != 1 {
				t.Errorf("incident %s has hosts %v, want one", in.ID, in.Hosts)
				continue
			}
			byHost[in.Hosts[0]] = in
		}
		if len(res.Incidents) != 3 {
			t.Errorf("%d incidents, want 3 (pc-401, fs01, pc-450): %s", len(res.Incidents), out)
		}
		theft, ransom, adware := byHost["pc-401"], byHost["fs01"], byHost["pc-450"]
		theftAt := day0.Add(9 * time.Hour)
		if theft.Priority != "P1" || theft.Severity != "critical" || !theft.NeedsHuman || theft.AlertCount != 1 {
			t.Errorf("pc-401: %s %s needs_human %v, %d alerts; want P1 critical needing a human, 1 alert (the repeat is a duplicate)",
				theft.Priority, theft.Severity, theft.NeedsHuman, theft.AlertCount)
		}
		if len(theft.Actions) != 1 || theft.Actions[0].State != "done" || !theft.Actions[0].At.Equal(theftAt) {
			t.Errorf("pc-401 actions = %+v, want one isolation, done, stamped %s (virtual time)", theft.Actions, theftAt)
		}
		for _, n := range theft.Notifications {
			if !n.At.Equal(theftAt) {
				t.Errorf("pc-401 notification %+v stamped %s, want %s (virtual time)", n, n.At, theftAt)
			}
		}
		if ransom.Priority != "P0" || ransom.Severity != "emergency" || len(ransom.Actions) != 1 || ransom.Actions[0].State != "awaiting_approval" {
			t.Errorf("fs01: %s %s actions %+v; want P0 emergency with the isolation awaiting approval", ransom.Priority, ransom.Severity, ransom.Actions)
		}
		if got := channels(ransom); got != "email:it-ml,phone:cso" {
			t.Errorf("fs01 notified %s, want email:it-ml,phone:cso", got)
		}
		if adware.NeedsHuman || len(adware.Actions) != 0 || len(adware.Notifications) != 0 {
			t.Errorf("blocked adware: needs_human %v, actions %v, notifications %v; want a quiet incident for the report",
				adware.NeedsHuman, adware.Actions, adware.Notifications)
		}

		_, again := replay(t, b, input)
		if diff := cmp.Diff(string(out), string(again)); diff != "" {
			t.Errorf("the same replay on a fresh store gave another result (-first +second):\n%s", diff)
		}
	})
}

func channels(in view.IncidentOut) string {
	var s []string
	for _, n := range in.Notifications {
		s = append(s, n.Channel+":"+n.Contact)
	}
	return strings.Join(s, ",")
}

// checkSchema checks that the replay JSON has every field DESIGN.md fixes.
func checkSchema(t *testing.T, out []byte) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	has := func(where string, v any, keys ...string) {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s is %T, want an object", where, v)
			return
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", where, k)
			}
		}
	}
	list := func(where string, v any) []any {
		t.Helper()
		l, ok := v.([]any)
		if !ok {
			t.Errorf("%s is %T, want an array", where, v)
		}
		return l
	}
	has("result", doc, "alerts", "incidents")
	has("alerts", doc["alerts"], "received", "accepted", "duplicates", "quarantined", "suppressed")
	seen := map[string]int{}
	for i, in := range list("incidents", doc["incidents"]) {
		where := fmt.Sprintf("incidents[%d]", i)
		has(where, in, "id", "priority", "severity", "status", "verdict", "needs_human", "alert_count", "hosts",
			"techniques", "evidence", "actions", "notifications")
		m, _ := in.(map[string]any)
		for j, e := range list(where+".evidence", m["evidence"]) {
			has(fmt.Sprintf("%s.evidence[%d]", where, j), e, "signal", "contribution", "detail")
			seen["evidence"]++
		}
		for j, a := range list(where+".actions", m["actions"]) {
			has(fmt.Sprintf("%s.actions[%d]", where, j), a, "kind", "host", "state", "at")
			seen["actions"]++
		}
		for j, n := range list(where+".notifications", m["notifications"]) {
			has(fmt.Sprintf("%s.notifications[%d]", where, j), n, "channel", "contact", "at")
			seen["notifications"]++
		}
	}
	for _, k := range []string{"evidence", "actions", "notifications"} {
		if seen[k] == 0 {
			t.Errorf("no incident has %s: the schema check of its fields proved nothing", k)
		}
	}
}

// TestReplayPrevalence replays one medium detection (the same pattern and
// hash, CrowdStrike "Medium") on two new hosts a day for three days: it is
// an estate-wide pattern, not an attack spreading, so it must not become one
// lateral-spread incident, and nobody needs to look at it. From the fifth
// host on the third day, triage marks it as prevalent.
func TestReplayPrevalence(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		var lines [][]byte
		for d := range 3 {
			for h := range 2 {
				host := fmt.Sprintf("pc-%03d", 100+2*d+h)
				at := day0.Add(time.Duration(d)*24*time.Hour + time.Duration(8+h)*time.Hour)
				lines = append(lines, envelope(t, "falcon", at, updaterAlert(fmt.Sprintf("prev:%d:%d", d, h), host)))
			}
		}
		res, out := replay(t, b, ndjson(lines...))
		if res.Alerts.Accepted != 6 || res.Alerts.Duplicates != 0 {
			t.Errorf("alert counts %+v, want 6 accepted, no duplicates", res.Alerts)
		}
		if len(res.Incidents) != 6 {
			t.Errorf("%d incidents, want one per host (6): %s", len(res.Incidents), out)
		}
		for _, in := range res.Incidents {
			if len(in.Hosts) != 1 || hasEvidence(in, "lateral_spread") {
				t.Errorf("%s: hosts %v, evidence %+v; want one host and no lateral spread", in.ID, in.Hosts, in.Evidence)
			}
			if in.NeedsHuman || len(in.Notifications) != 0 || len(in.Actions) != 0 {
				t.Errorf("%s on %v: %s %s needs_human %v; want nobody told, nothing isolated", in.ID, in.Hosts, in.Priority, in.Severity, in.NeedsHuman)
			}
			prevalent := in.Hosts[0] >= "pc-104" // the fifth and sixth host, on the third day
			if hasEvidence(in, "prevalence") != prevalent {
				t.Errorf("%s on %v: prevalence evidence %v, want %v: %+v", in.ID, in.Hosts, !prevalent, prevalent, in.Evidence)
			}
			if prevalent && (in.Priority != "P3" || in.Severity != "low") {
				t.Errorf("%s on %v: %s %s, want a prevalent pattern to be P3 low", in.ID, in.Hosts, in.Priority, in.Severity)
			}
		}
	})
}

// TestReplayMediumNeverSpreads is the same estate-wide pattern rated 65:
// still "Medium" for the vendor, so its hash never links hosts and nothing
// is isolated, even before prevalence has built up.
func TestReplayMediumNeverSpreads(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		var lines [][]byte
		for d := range 4 {
			for h := range 2 {
				host := fmt.Sprintf("pc-%03d", 300+2*d+h)
				at := day0.Add(time.Duration(d)*24*time.Hour + time.Duration(8+h)*time.Hour)
				lines = append(lines, envelope(t, "falcon", at, csAlert(fmt.Sprintf("med:%d:%d", d, h), host,
					crowdstrike.AlertSeverity(65), crowdstrike.AlertPattern(50506, "SuspiciousTool"),
					crowdstrike.AlertProcess("tool.exe", `\Device\HarddiskVolume2\tool.exe`, "tool.exe /run", strings.Repeat("6b", 32)))))
			}
		}
		res, out := replay(t, b, ndjson(lines...))
		if len(res.Incidents) != 8 {
			t.Errorf("%d incidents, want one per host (8): %s", len(res.Incidents), out)
		}
		for _, in := range res.Incidents {
			if len(in.Hosts) != 1 || hasEvidence(in, "lateral_spread") || len(in.Actions) != 0 {
				t.Errorf("%s: hosts %v, actions %+v, evidence %+v; want one host, no spread, nothing isolated", in.ID, in.Hosts, in.Actions, in.Evidence)
			}
		}
	})
}

// TestReplayPrevalenceCountsDistinctDays has the detection on five hosts
// but over two days only: that is not yet an estate-wide pattern.
func TestReplayPrevalenceCountsDistinctDays(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		var lines [][]byte
		for i, d := range []int{0, 0, 0, 1, 1} {
			at := day0.Add(time.Duration(d)*24*time.Hour + time.Duration(8+i)*time.Hour)
			lines = append(lines, envelope(t, "falcon", at, updaterAlert(fmt.Sprintf("days:%d", i), fmt.Sprintf("pc-%03d", 200+i))))
		}
		res, out := replay(t, b, ndjson(lines...))
		for _, in := range res.Incidents {
			if hasEvidence(in, "prevalence") {
				t.Errorf("%s on %v is marked prevalent after two days (want ≥ 3): %s", in.ID, in.Hosts, out)
			}
		}
	})
}

// updaterAlert is the same detection every time: pattern, process, hash and
// command line, rated 50 ("Medium") and not blocked.
func updaterAlert(id, host string) []byte {
	return csAlert(id, host, crowdstrike.AlertSeverity(50), crowdstrike.AlertPattern(50505, "SuspiciousUpdater"),
		crowdstrike.AlertProcess("updsvc.exe", `\Device\HarddiskVolume2\Program Files\Vendor\updsvc.exe`,
			`"C:\Program Files\Vendor\updsvc.exe" /check`, strings.Repeat("5a", 32)))
}

func hasEvidence(in view.IncidentOut, signal string) bool {
	for _, e := range in.Evidence {
		if e.Signal == signal {
			return true
		}
	}
	return false
}
