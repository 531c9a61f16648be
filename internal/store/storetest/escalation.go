package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// testAcknowledge: the first acknowledgement wins and is noted and audited
// with the person as actor; a second changes nothing; another tenant's
// incident and a nameless acknowledgement are refused, nothing stored.
func testAcknowledge(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	id := insertIncident(t, db, newIncident("a", "credential theft", t0))
	if _, _, err := db.Acknowledge(ctx, "b", id, "mallory", "api", t0); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("ack of another tenant's incident: err %v, want ErrNotFound", err)
	}
	if _, _, err := db.Acknowledge(ctx, "a", id, " ", "api", t0); !errors.Is(err, sqlstore.ErrConflict) {
		t.Errorf("ack without a name: err %v, want ErrConflict", err)
	}
	if ack, err := db.IncidentAck(ctx, "a", id); err != nil || ack != nil {
		t.Fatalf("after refusals: ack %+v, %v; want none", ack, err)
	}
	ack, fresh, err := db.Acknowledge(ctx, "a", id, "ciso", "email", t0.Add(time.Minute))
	check(t, "Acknowledge", err)
	if !fresh || ack.By != "ciso" || ack.Via != "email" {
		t.Errorf("first ack = %+v fresh %v", ack, fresh)
	}
	again, fresh, err := db.Acknowledge(ctx, "a", id, "it-ml", "slack", t0.Add(2*time.Minute))
	check(t, "Acknowledge again", err)
	if fresh || again.By != "ciso" || !again.At.Equal(t0.Add(time.Minute)) {
		t.Errorf("second ack = %+v fresh %v; want the first, not fresh", again, fresh)
	}
	if got := auditActions(t, db, "a", "incident.acknowledged"); len(got) != 1 {
		t.Errorf("audit %v: want one acknowledgement", got)
	}
	notes, err := db.Notes(ctx, "a", id)
	check(t, "Notes", err)
	if len(notes) != 1 || !strings.Contains(notes[0].Text, "確認しました") || !strings.Contains(notes[0].Text, "acknowledged by ciso") {
		t.Errorf("notes %+v: want one, in Japanese and English", notes)
	}
	// The CISO acknowledged by mail: the customer's act, not the SOC's
	// first response. An analyst's acknowledgement in the console is.
	console := insertIncident(t, db, newIncident("a", "lateral movement", t0))
	_, _, err = db.Acknowledge(ctx, "a", console, "analyst-3", "console", t0.Add(3*time.Minute))
	check(t, "Acknowledge in the console", err)
	acts, err := db.FirstHumanActs(ctx, "a", []string{ticket.RefFor(id), ticket.RefFor(console), "INC-999999"})
	check(t, "FirstHumanActs", err)
	if len(acts) != 1 || !acts[ticket.RefFor(console)].Equal(t0.Add(3*time.Minute)) {
		t.Errorf("first human acts = %v, want only the console acknowledgement at %v", acts, t0.Add(3*time.Minute))
	}
	for _, e := range auditLog(t, db, "a") {
		if e.Action == "incident.acknowledged" && e.Object == ticket.RefFor(id) && e.Actor != sqlstore.CustomerActor+"ciso" {
			t.Errorf("the mail acknowledgement is audited as %q, want %q", e.Actor, sqlstore.CustomerActor+"ciso")
		}
	}
}

// testEscalationSteps: Unacknowledged lists open, notified, unacknowledged
// incidents with the steps taken; a step and a signal are taken once.
func testEscalationSteps(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	waiting := insertIncident(t, db, newIncident("a", "waiting", t0))
	insertNotification(t, db, newNotification("a", waiting, "it-ml", t0.Add(time.Second)))
	acked := insertIncident(t, db, newIncident("a", "acked", t0))
	insertNotification(t, db, newNotification("a", acked, "it-ml", t0))
	insertIncident(t, db, newIncident("a", "never notified", t0)) // not listed: no first notice
	closed := newIncident("a", "closed", t0)
	closed.Status = ticket.StatusClosed
	insertNotification(t, db, newNotification("a", insertIncident(t, db, closed), "it-ml", t0))
	fp := newIncident("a", "false positive", t0)
	fp.Verdict = ticket.VerdictFalsePositive
	insertNotification(t, db, newNotification("a", insertIncident(t, db, fp), "it-ml", t0))
	other := insertIncident(t, db, newIncident("b", "other tenant", t0))
	insertNotification(t, db, newNotification("b", other, "it-ml", t0))
	_, _, err := db.Acknowledge(ctx, "a", acked, "ciso", "console", t0)
	check(t, "Acknowledge", err)

	step := sqlstore.EscalationStep{Round: 0, Step: 1, Due: t0.Add(10 * time.Minute), Fired: t0.Add(10 * time.Minute), Outcome: "notified"}
	for i, want := range []bool{true, false} {
		var took bool
		inTxOK(t, db, func(tx *sqlstore.Tx) error { took, err = tx.TakeStep(ctx, "a", waiting, step); return err })
		if took != want {
			t.Errorf("TakeStep #%d = %v, want %v", i+1, took, want)
		}
	}
	list, err := db.Unacknowledged(ctx, "a", t0.Add(-time.Hour))
	check(t, "Unacknowledged", err)
	if len(list) != 1 || list[0].Incident.ID != waiting || !list[0].Start.Equal(t0.Add(time.Second)) ||
		!list[0].Taken[sqlstore.StepKey(0, 1)] || len(list[0].Taken) != 1 {
		t.Fatalf("Unacknowledged = %+v; want only %d, started %v, step 0/1 taken", list, waiting, t0.Add(time.Second))
	}
	if list, err := db.Unacknowledged(ctx, "a", t0.Add(time.Hour)); err != nil || len(list) != 0 {
		t.Errorf("Unacknowledged since a later time = %d incidents, %v; want none", len(list), err)
	}
	steps, err := db.EscalationSteps(ctx, "a", waiting)
	check(t, "EscalationSteps", err)
	if len(steps) != 1 || steps[0].Outcome != "notified" || !steps[0].Due.Equal(step.Due) {
		t.Errorf("steps = %+v", steps)
	}
	if steps, _ := db.EscalationSteps(ctx, "b", waiting); len(steps) != 0 {
		t.Errorf("another tenant sees steps %+v", steps)
	}

	sig := sqlstore.Signal{Object: ticket.RefFor(waiting), Clock: "first_response", Level: 80, Due: t0, Fired: t0}
	for i, want := range []bool{true, false} {
		var took bool
		inTxOK(t, db, func(tx *sqlstore.Tx) error { took, err = tx.TakeSignal(ctx, "a", sig); return err })
		if took != want {
			t.Errorf("TakeSignal #%d = %v, want %v", i+1, took, want)
		}
	}
	sigs, err := db.Signals(ctx, "a", "")
	check(t, "Signals", err)
	if len(sigs) != 1 || sigs[0].Level != 80 {
		t.Errorf("signals = %+v", sigs)
	}
	if sigs, _ := db.Signals(ctx, "b", ""); len(sigs) != 0 {
		t.Errorf("another tenant sees signals %+v", sigs)
	}
}

// testReportsSent: the first delivery of a report wins, per tenant.
func testReportsSent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	r := sqlstore.ReportSent{Kind: "monthly", Period: "2026-09", At: t0, By: "alice", Note: "by mail"}
	got, fresh, err := db.RecordReportSent(ctx, "a", r)
	check(t, "RecordReportSent", err)
	if !fresh || got.By != "alice" {
		t.Errorf("first record = %+v fresh %v", got, fresh)
	}
	again, fresh, err := db.RecordReportSent(ctx, "a", sqlstore.ReportSent{Kind: "monthly", Period: "2026-09", At: t0.Add(time.Hour), By: "bob"})
	check(t, "RecordReportSent again", err)
	if fresh || again.By != "alice" || !again.At.Equal(t0) {
		t.Errorf("second record = %+v fresh %v; want the first", again, fresh)
	}
	if _, _, err := db.RecordReportSent(ctx, "a", sqlstore.ReportSent{Kind: "monthly", Period: "2026-10", At: t0}); !errors.Is(err, sqlstore.ErrConflict) {
		t.Errorf("a record without its sender: err %v", err)
	}
	if d, err := db.ReportDelivery(ctx, "b", "monthly", "2026-09"); err != nil || d != nil {
		t.Errorf("another tenant sees %+v, %v", d, err)
	}
	if got := auditActions(t, db, "a", "report.sent"); len(got) != 1 {
		t.Errorf("audit %v: want one report.sent", got)
	}
}
