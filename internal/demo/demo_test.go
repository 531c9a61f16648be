package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/view"
)

// TestStory plays the whole demo against a real bannin (SQLite, simulator
// over HTTP, SMTP sink, phone sink) and checks what it decided and did.
func TestStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := Start(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	o, err := d.Play(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
	if r.Alerts.Received != 14 || r.Alerts.Quarantined != 0 || r.Alerts.Suppressed != 1 || r.Alerts.Duplicates != 2 {
		t.Errorf("alert counts = %+v, want 14 received, 0 quarantined, 1 suppressed, 2 duplicates", r.Alerts)
	}
	var human []view.IncidentOut
	for _, in := range r.Incidents {
		if in.NeedsHuman {
			human = append(human, in)
		}
	}
	if len(human) != 2 {
		t.Fatalf("%d incidents need a human, want 2 (ransomware, credential theft): %+v", len(human), human)
	}
	ransom, spread := human[0], human[1]
	if ransom.Priority != "P0" || ransom.Severity != "emergency" || strings.Join(ransom.Hosts, ",") != "fs01" {
		t.Errorf("ransomware incident = %s %s %v, want P0 emergency on fs01", ransom.Priority, ransom.Severity, ransom.Hosts)
	}
	if len(ransom.Actions) != 1 || ransom.Actions[0].State != "done" || !strings.Contains(ransom.Actions[0].Reason, "critical host") {
		t.Errorf("fs01 isolation = %+v, want one action, held for approval as a critical host, done after approval", ransom.Actions)
	}
	if spread.Priority != "P1" || len(spread.Hosts) != 3 {
		t.Errorf("spread incident = %s on %v, want P1 on three hosts", spread.Priority, spread.Hosts)
	}
	for _, a := range spread.Actions {
		if a.State != "done" {
			t.Errorf("isolation of %s is %s, want done", a.Host, a.State)
		}
	}
	if !hasSignal(spread, "lateral_spread") || !hasSignal(ransom, "asset") {
		t.Errorf("evidence lacks lateral_spread or asset signals: %+v / %+v", spread.Evidence, ransom.Evidence)
	}
	// Every isolation reached the simulator exactly once.
	for key, n := range d.Sim.Calls() {
		if n != 1 {
			t.Errorf("containment %s was called %d times, want 1", key, n)
		}
	}
	if len(d.Sim.Calls()) != 4 {
		t.Errorf("simulator saw %d containment keys, want 4: %v", len(d.Sim.Calls()), d.Sim.Calls())
	}
	if len(o.Mails) < 2 || !strings.Contains(o.Mails[0].Subject, "P0") || !o.Mails[0].TLS {
		t.Errorf("mails = %+v, want the P0 notice first, over STARTTLS", o.Mails)
	}
	if len(o.Mails) > 0 && (!strings.Contains(o.Mails[0].Text, "crowdstrike の評価") || strings.Contains(o.Mails[0].Text, "rated it")) {
		t.Errorf("the Japanese notice must give the evidence in Japanese:\n%s", o.Mails[0].Text)
	}
	if len(o.Calls) == 0 || o.Calls[0].To != "+81-3-5555-0100" || o.Calls[0].Language != "ja" {
		t.Errorf("phone calls = %+v, want the CSO called in Japanese", o.Calls)
	}
	if s := o.Summary(); !strings.Contains(s, "need a human") {
		t.Errorf("summary lacks the headline:\n%s", s)
	}
}

func hasSignal(in view.IncidentOut, signal string) bool {
	for _, e := range in.Evidence {
		if e.Signal == signal {
			return true
		}
	}
	return false
}
