package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// testSuspectUnanswered: an incident whose ticket waits on the customer for
// 72 hours turns Suspicious by itself, with notes in both languages; an
// incident already decided, a ticket that waited less, and another
// tenant's incident are left alone; a second sweep changes nothing.
func testSuspectUnanswered(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	open := insertIncident(t, db, newIncident("a", "needs an answer", t0))
	decided := insertIncident(t, db, newIncident("a", "already true positive", t0))
	_, err := db.SetVerdict(ctx, "a", decided, ticket.VerdictTruePositive, "alice", "", t0)
	check(t, "SetVerdict", err)
	fresh := insertIncident(t, db, newIncident("a", "asked later", t0))
	other := insertIncident(t, db, newIncident("b", "another tenant", t0))
	waitOn := func(tenant string, at time.Time, incs ...int64) *ticket.Ticket {
		tk := &ticket.Ticket{Tenant: tenant, Kind: ticket.KindIncident, Title: "question to the customer"}
		for _, id := range incs {
			tk.Links = append(tk.Links, ticket.Link{Kind: ticket.LinkIncident, Ref: ticket.RefFor(id)})
		}
		createTicket(t, db, tk)
		_, err := db.MoveTicket(ctx, tenant, tk.ID, ticket.StateWaitingCustomer, "alice", "asked the customer", at)
		check(t, "MoveTicket", err)
		return tk
	}
	asked := waitOn("a", t0, open, decided)
	waitOn("a", t0.Add(10*time.Hour), fresh)
	waitOn("b", t0, other)

	got, err := db.SuspectUnanswered(ctx, t0.Add(sqlstore.CustomerWait-time.Minute), sqlstore.CustomerWait)
	check(t, "sweep before 72 h", err)
	if len(got) != 0 {
		t.Errorf("before 72 h the sweep changed %v", got)
	}
	got, err = db.SuspectUnanswered(ctx, t0.Add(sqlstore.CustomerWait), sqlstore.CustomerWait)
	check(t, "sweep at 72 h", err)
	if len(got) != 2 {
		t.Fatalf("at 72 h the sweep changed %v, want tenant a's open incident and tenant b's", got)
	}
	for id, want := range map[int64]ticket.Verdict{open: ticket.VerdictSuspicious, decided: ticket.VerdictTruePositive, fresh: ticket.VerdictNone} {
		if v := getIncident(t, db, "a", id).Verdict; v != want {
			t.Errorf("incident %d verdict %q, want %q", id, v, want)
		}
	}
	if v := getIncident(t, db, "b", other).Verdict; v != ticket.VerdictSuspicious {
		t.Errorf("tenant b's incident verdict %q, want suspicious (its own 72 h passed)", v)
	}
	notes, err := db.Notes(ctx, "a", open)
	check(t, "Notes", err)
	var text string
	for _, n := range notes {
		text += n.Text + "\n"
	}
	if !strings.Contains(text, "72 時間以内") || !strings.Contains(text, "within 72 hours") {
		t.Errorf("incident notes lack the bilingual reason:\n%s", text)
	}
	tk := getTicket(t, db, "a", asked.ID)
	if len(tk.Notes) == 0 || !strings.Contains(tk.Notes[len(tk.Notes)-1].Text, "Suspicious") {
		t.Errorf("ticket notes %+v: want one saying the incident turned Suspicious", tk.Notes)
	}
	again, err := db.SuspectUnanswered(ctx, t0.Add(100*time.Hour), sqlstore.CustomerWait)
	check(t, "second sweep", err)
	if len(again) != 1 || again[0].Incident != ticket.RefFor(fresh) {
		t.Errorf("second sweep at 100 h changed %v, want only the ticket asked 10 h later", again)
	}
}
