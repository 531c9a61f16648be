package escalation

import (
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// TestChainOf: an incident follows its severity's route; in DFIR mode every
// wait is capped at 5 minutes and no step keeps its hours; the chain's
// offsets add up over the rounds.
func TestChainOf(t *testing.T) {
	office, _ := tenant.ParseServiceHours("weekdays 09:00-18:00")
	tn := &tenant.Tenant{Notify: []tenant.Route{
		{Severities: []string{"high"}, To: []tenant.Recipient{{Contact: "it"}}},
		{Severities: []string{"emergency"}, To: []tenant.Recipient{{Contact: "it"}}, Repeat: 1, RepeatAfter: time.Hour,
			Escalate: []tenant.Step{
				{After: 10 * time.Minute, To: []tenant.Recipient{{Contact: "ciso"}}},
				{After: 30 * time.Minute, To: []tenant.Recipient{{Contact: "ceo"}}, Hours: "weekdays 09:00-18:00", Window: office},
			}},
	}}
	offsets := func(r tenant.Route) []time.Duration {
		var out []time.Duration
		for _, c := range r.Chain() {
			out = append(out, c.Offset)
		}
		return out
	}
	r, ok := chainOf(tn, &ticket.Incident{Severity: "emergency"})
	want := []time.Duration{0, 10 * time.Minute, 40 * time.Minute, 100 * time.Minute, 110 * time.Minute, 140 * time.Minute}
	if got := offsets(r); !ok || len(got) != len(want) {
		t.Fatalf("offsets %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("offset %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
	if longestChain(tn) != 140*time.Minute {
		t.Errorf("longest chain %v, want 2h20m", longestChain(tn))
	}
	d, _ := chainOf(tn, &ticket.Incident{Severity: "emergency", DFIR: true})
	wantDFIR := []time.Duration{0, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 25 * time.Minute}
	for i, c := range d.Chain() {
		if c.Offset != wantDFIR[i] || c.Hours != "" {
			t.Errorf("DFIR step %d: offset %v hours %q, want %v and no hours", i, c.Offset, c.Hours, wantDFIR[i])
		}
	}
	if r.Escalate[0].After != 10*time.Minute {
		t.Error("DFIR changed the tenant's own route")
	}
	if _, ok := chainOf(tn, &ticket.Incident{Severity: "low"}); ok {
		t.Error("a severity without a route has a chain")
	}
	if c := func() []tenant.ChainStep { r, _ := chainOf(tn, &ticket.Incident{Severity: "high"}); return r.Chain() }(); len(c) != 1 {
		t.Errorf("a route without escalation has %d steps, want 1", len(c))
	}
}

// TestStepOutcomes: of several steps due at one sweep only the latest that
// is within its hours notifies; earlier ones are passed, those outside
// their hours skipped.
func TestStepOutcomes(t *testing.T) {
	jst, _ := time.LoadLocation("Asia/Tokyo")
	office, _ := tenant.ParseServiceHours("weekdays 09:00-18:00")
	tn := &tenant.Tenant{Location: jst}
	sat := time.Date(2026, 3, 7, 10, 0, 0, 0, jst) // Saturday
	steps := []tenant.ChainStep{
		{Step: 1, Offset: 10 * time.Minute},
		{Step: 2, Offset: 20 * time.Minute},
		{Step: 3, Offset: 30 * time.Minute, Hours: "weekdays 09:00-18:00", Window: office},
	}
	got, err := stepOutcomes(tn, sat, steps)
	want := []string{StepPassed, StepNotified, StepSkippedHours}
	if err != nil || len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Saturday: %v, %v; want %v", got, err, want)
	}
	mon := time.Date(2026, 3, 9, 10, 0, 0, 0, jst)
	got, _ = stepOutcomes(tn, mon, steps)
	if got[0] != StepPassed || got[1] != StepPassed || got[2] != StepNotified {
		t.Errorf("Monday: %v; want passed, passed, notified", got)
	}
}
