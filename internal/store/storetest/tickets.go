package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

func createTicket(t *testing.T, db *sqlstore.DB, tk *ticket.Ticket) *ticket.Ticket {
	t.Helper()
	check(t, "CreateTicket", db.CreateTicket(t.Context(), tk, "alice", t0))
	if tk.ID == 0 || tk.Ref != ticket.TicketRef(tk.ID) {
		t.Fatalf("CreateTicket set id %d ref %q", tk.ID, tk.Ref)
	}
	return tk
}

func getTicket(t *testing.T, db *sqlstore.DB, tenant string, id int64) *ticket.Ticket {
	t.Helper()
	tk, err := db.Ticket(t.Context(), tenant, id)
	check(t, "Ticket", err)
	return tk
}

func newPCR(tenant, sha string) *ticket.Ticket {
	return &ticket.Ticket{Tenant: tenant, Kind: ticket.KindPCR, Title: "allow the backup agent", Requester: "customer",
		PCR: &ticket.AllowRequest{SHA256: sha, Reason: "our backup tool"}}
}

func auditActions(t *testing.T, db *sqlstore.DB, tenant, prefix string) []string {
	t.Helper()
	var out []string
	for _, e := range auditLog(t, db, tenant) {
		if strings.HasPrefix(e.Action, prefix) {
			out = append(out, e.Action+" "+e.Object+" "+e.Detail)
		}
	}
	return out
}

// A ticket round-trips, lists by state and kind, moves along its lifecycle
// with an audit entry per move, and a refused move changes nothing.
func testTicketLifecycle(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	in := insertIncident(t, db, newIncident("a", "a's incident", t0))
	insertAlert(t, db, in, newAlert("a", "det-1", "web01", hashA, t0))
	inq := createTicket(t, db, &ticket.Ticket{Tenant: "a", Kind: ticket.KindInquiry, Title: "is this real?", Body: "see INC",
		Assignee: "bob", Requester: "carol", Links: []ticket.Link{{Kind: ticket.LinkIncident, Ref: ticket.RefFor(in)},
			{Kind: ticket.LinkAlert, Ref: "det-1"}}})
	pcr := createTicket(t, db, newPCR("a", hashB))
	got := getTicket(t, db, "a", inq.ID)
	diff(t, "inquiry", inq, got)
	diff(t, "pcr", pcr, getTicket(t, db, "a", pcr.ID))

	all, err := db.Tickets(ctx, "a", sqlstore.TicketFilter{})
	check(t, "Tickets", err)
	diff(t, "ticket count", 2, len(all))
	only, err := db.Tickets(ctx, "a", sqlstore.TicketFilter{Kind: ticket.KindPCR, State: ticket.StateReceived})
	check(t, "Tickets(pcr)", err)
	if len(only) != 1 || only[0].Ref != pcr.Ref {
		t.Errorf("Tickets(pcr, received) = %v", only)
	}
	diff(t, "links in list", inq.Links, all[0].Links)

	for _, s := range []ticket.State{ticket.StateInProgress, ticket.StateWaitingCustomer, ticket.StateResolved} {
		_, err := db.MoveTicket(ctx, "a", inq.ID, s, "bob", "", t0.Add(time.Minute))
		check(t, "MoveTicket "+string(s), err)
	}
	before := len(auditLog(t, db, "a"))
	_, err = db.MoveTicket(ctx, "a", inq.ID, ticket.StateReceived, "bob", "", t0.Add(2*time.Minute))
	if !errors.Is(err, sqlstore.ErrConflict) || !errors.Is(err, ticket.ErrInvalid) {
		t.Errorf("resolved → received: got %v, want ErrConflict", err)
	}
	_, err = db.MoveTicket(ctx, "a", pcr.ID, ticket.StateResolved, "bob", "", t0)
	if !errors.Is(err, sqlstore.ErrConflict) {
		t.Errorf("resolving a PCR without its decision: got %v, want ErrConflict", err)
	}
	diff(t, "audit after refused moves", before, len(auditLog(t, db, "a")))
	diff(t, "state after a refused move", ticket.StateResolved, getTicket(t, db, "a", inq.ID).State)
	diff(t, "pcr state", ticket.StateReceived, getTicket(t, db, "a", pcr.ID).State)

	_, err = db.MoveTicket(ctx, "a", inq.ID, ticket.StateClosed, "bob", "answered by phone", t0.Add(3*time.Minute))
	check(t, "close", err)
	final := getTicket(t, db, "a", inq.ID)
	diff(t, "notes", []ticket.Note{{At: t0.Add(3 * time.Minute), Author: "bob", Text: "answered by phone"}}, final.Notes)
	diff(t, "ticket audit", []string{
		"ticket.created " + inq.Ref + " inquiry: is this real?",
		"ticket.created " + pcr.Ref + " pcr: allow the backup agent",
		"ticket.moved " + inq.Ref + " received → in_progress",
		"ticket.moved " + inq.Ref + " in_progress → waiting_customer",
		"ticket.moved " + inq.Ref + " waiting_customer → resolved",
		"ticket.moved " + inq.Ref + " resolved → closed: answered by phone",
	}, auditActions(t, db, "a", "ticket."))
}

// Tenant "b" can neither read, move, note nor link tenant "a"'s tickets,
// nor link its own ticket to a's incidents or alerts.
func testTicketTenantIsolation(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	in := insertIncident(t, db, newIncident("a", "a's incident", t0))
	insertAlert(t, db, in, newAlert("a", "det-a", "web01", hashA, t0))
	a := createTicket(t, db, newPCR("a", hashA))
	b := createTicket(t, db, &ticket.Ticket{Tenant: "b", Kind: ticket.KindInquiry, Title: "b's question"})
	want := getTicket(t, db, "a", a.ID)

	_, err := db.Ticket(ctx, "b", a.ID)
	wantNotFound(t, "Ticket(b, a's id)", err)
	list, err := db.Tickets(ctx, "b", sqlstore.TicketFilter{})
	check(t, "Tickets(b)", err)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("Tickets(b) = %v, want only b's", list)
	}
	_, err = db.MoveTicket(ctx, "b", a.ID, ticket.StateInProgress, "mallory", "", t0)
	wantNotFound(t, "MoveTicket(b, a's id)", err)
	wantNotFound(t, "AddTicketNote(b, a's id)", db.AddTicketNote(ctx, "b", a.ID, ticket.Note{At: t0, Author: "m", Text: "x"}))
	wantNotFound(t, "AssignTicket(b, a's id)", db.AssignTicket(ctx, "b", a.ID, "mallory", "mallory", t0))
	wantNotFound(t, "LinkTicket(b, a's ticket)", db.LinkTicket(ctx, "b", a.ID,
		ticket.Link{Kind: ticket.LinkIncident, Ref: ticket.RefFor(in)}, "mallory", t0))
	wantNotFound(t, "LinkTicket(b's ticket, a's incident)", db.LinkTicket(ctx, "b", b.ID,
		ticket.Link{Kind: ticket.LinkIncident, Ref: ticket.RefFor(in)}, "mallory", t0))
	wantNotFound(t, "LinkTicket(b's ticket, a's alert)", db.LinkTicket(ctx, "b", b.ID,
		ticket.Link{Kind: ticket.LinkAlert, Ref: "det-a"}, "mallory", t0))
	err = db.CreateTicket(ctx, &ticket.Ticket{Tenant: "b", Kind: ticket.KindIncident, Title: "steal",
		Links: []ticket.Link{{Kind: ticket.LinkIncident, Ref: ticket.RefFor(in)}}}, "mallory", t0)
	wantNotFound(t, "CreateTicket(b, linking a's incident)", err)
	_, err = db.ApplyPCR(ctx, "b", a.ID, nil, "mallory", t0)
	wantNotFound(t, "ApplyPCR(b, a's id)", err)
	_, err = db.RefusePCR(ctx, "b", a.ID, "no", "mallory", t0)
	wantNotFound(t, "RefusePCR(b, a's id)", err)
	_, err = db.SetVerdict(ctx, "b", in, ticket.VerdictFalsePositive, "mallory", "", t0)
	wantNotFound(t, "SetVerdict(b, a's incident)", err)

	diff(t, "a's ticket after b's attempts", want, getTicket(t, db, "a", a.ID))
	diff(t, "b's ticket links", []ticket.Link{}, getTicket(t, db, "b", b.ID).Links)
	diff(t, "a's verdict", ticket.VerdictNone, getIncident(t, db, "a", in).Verdict)
	list, err = db.Tickets(ctx, "b", sqlstore.TicketFilter{})
	check(t, "Tickets(b)", err)
	diff(t, "b's tickets after a refused create", 1, len(list))
	if got := auditActions(t, db, "b", "ticket.linked"); len(got) != 0 {
		t.Errorf("b's audit shows links: %v", got)
	}
}

// An analyst's verdict is stored with a bilingual note and an audit entry;
// an unknown verdict is refused.
func testIncidentVerdict(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	id := insertIncident(t, db, newIncident("a", "a's incident", t0))
	for _, v := range []ticket.Verdict{ticket.VerdictInProgress, ticket.VerdictSuspicious, ticket.VerdictTruePositive,
		ticket.VerdictFalsePositive} {
		in, err := db.SetVerdict(ctx, "a", id, v, "alice", "checked", t0.Add(time.Minute))
		check(t, "SetVerdict "+string(v), err)
		diff(t, "returned verdict", v, in.Verdict)
		diff(t, "stored verdict", v, getIncident(t, db, "a", id).Verdict)
	}
	_, err := db.SetVerdict(ctx, "a", id, "benign", "alice", "", t0)
	if !errors.Is(err, ticket.ErrInvalid) {
		t.Errorf("unknown verdict: got %v, want ErrInvalid", err)
	}
	notes, err := db.Notes(ctx, "a", id)
	check(t, "Notes", err)
	if len(notes) != 4 || !strings.Contains(notes[3].Text, "誤検知") || !strings.Contains(notes[3].Text, "False Positive") {
		t.Errorf("verdict notes: %v", notes)
	}
	diff(t, "verdict audit", []string{
		"incident.verdict " + ticket.RefFor(id) + " none → in_progress: checked",
		"incident.verdict " + ticket.RefFor(id) + " in_progress → suspicious: checked",
		"incident.verdict " + ticket.RefFor(id) + " suspicious → true_positive: checked",
		"incident.verdict " + ticket.RefFor(id) + " true_positive → false_positive: checked",
	}, auditActions(t, db, "a", "incident.verdict"))
}

// Applying a PCR stores the entry, notes the tenant's matching open
// incidents (only those), and triage's lookup finds it; a PCR for a hash
// already allowlisted is refused with nothing changed.
func testApplyPCR(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	hit := insertIncident(t, db, newIncident("a", "hit", t0))
	insertAlert(t, db, hit, newAlert("a", "det-1", "web01", hashA, t0))
	miss := insertIncident(t, db, newIncident("a", "other hash", t0))
	insertAlert(t, db, miss, newAlert("a", "det-2", "web02", hashB, t0))
	other := insertIncident(t, db, newIncident("b", "b's, same hash", t0))
	insertAlert(t, db, other, newAlert("b", "det-3", "web01", hashA, t0))

	pcr := createTicket(t, db, newPCR("a", hashA))
	res, err := db.ApplyPCR(ctx, "a", pcr.ID, nil, "alice", t0.Add(time.Hour))
	check(t, "ApplyPCR", err)
	diff(t, "matched", []string{ticket.RefFor(hit)}, res.Matched)
	got := getTicket(t, db, "a", pcr.ID)
	diff(t, "state", ticket.StateResolved, got.State)
	diff(t, "decision", ticket.DecisionApplied, got.PCR.Decision)
	diff(t, "link to the matched incident", []ticket.Link{{Kind: ticket.LinkIncident, Ref: ticket.RefFor(hit)}}, got.Links)
	entries, err := db.AllowlistEntries(ctx, "a")
	check(t, "AllowlistEntries", err)
	if len(entries) != 1 || entries[0].SHA256 != hashA || entries[0].Ticket != pcr.Ref {
		t.Errorf("entries: %+v", entries)
	}
	notes, err := db.Notes(ctx, "a", hit)
	check(t, "Notes", err)
	if len(notes) != 1 || !strings.Contains(notes[0].Text, pcr.Ref) || !strings.Contains(notes[0].Text, "許可リスト") {
		t.Errorf("notes on the matched incident: %v", notes)
	}
	diff(t, "matched incident stays open", ticket.StatusOpen, getIncident(t, db, "a", hit).Status)
	for _, id := range []struct {
		tenant string
		id     int64
	}{{"a", miss}, {"b", other}} {
		n, err := db.Notes(ctx, id.tenant, id.id)
		check(t, "Notes", err)
		diff(t, "notes on an unmatched incident", 0, len(n))
	}

	checkStoredAllowed(t, db, pcr.Ref)
	checkPCRRefusals(t, db)
}

func checkStoredAllowed(t *testing.T, db *sqlstore.DB, ref string) {
	t.Helper()
	for _, tc := range []struct {
		tenant, sha string
		want        bool
	}{{"a", hashA, true}, {"a", strings.ToUpper(hashA), true}, {"a", hashB, false}, {"b", hashA, false}} {
		a := newAlert(tc.tenant, "det-9", "web09", tc.sha, t0)
		inTxOK(t, db, func(tx *sqlstore.Tx) error {
			reason, ok, err := tx.StoredAllowed(t.Context(), tc.tenant, &a)
			if ok != tc.want || (ok && !strings.Contains(reason, ref)) {
				t.Errorf("StoredAllowed(%s, %s) = %q %v, want %v", tc.tenant, tc.sha[:8], reason, ok, tc.want)
			}
			return err
		})
	}
}

func checkPCRRefusals(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	ctx := t.Context()
	again := createTicket(t, db, newPCR("a", hashA))
	fromFile := createTicket(t, db, newPCR("a", hashB))
	before := len(auditLog(t, db, "a"))
	_, err := db.ApplyPCR(ctx, "a", again.ID, nil, "alice", t0)
	if !errors.Is(err, sqlstore.ErrConflict) || !strings.Contains(err.Error(), "already allowlisted") {
		t.Errorf("a second PCR for the hash: got %v, want ErrConflict", err)
	}
	_, err = db.ApplyPCR(ctx, "a", fromFile.ID, []ticket.AllowRequest{{SHA256: hashB, Reason: "file"}}, "alice", t0)
	if !errors.Is(err, sqlstore.ErrConflict) {
		t.Errorf("a PCR the tenant file covers: got %v, want ErrConflict", err)
	}
	diff(t, "audit after refused applies", before, len(auditLog(t, db, "a")))
	entries, err := db.AllowlistEntries(ctx, "a")
	check(t, "AllowlistEntries", err)
	diff(t, "entries after refused applies", 1, len(entries))
	diff(t, "state after a refused apply", ticket.StateReceived, getTicket(t, db, "a", again.ID).State)

	_, err = db.RefusePCR(ctx, "a", again.ID, "  ", "alice", t0)
	if !errors.Is(err, ticket.ErrInvalid) {
		t.Errorf("refusing without a reason: got %v, want ErrInvalid", err)
	}
	tk, err := db.RefusePCR(ctx, "a", again.ID, "already allowlisted by the earlier PCR", "alice", t0)
	check(t, "RefusePCR", err)
	diff(t, "refused state", ticket.StateRefused, tk.State)
	got := getTicket(t, db, "a", again.ID)
	diff(t, "refusal reason", "already allowlisted by the earlier PCR", got.PCR.RefusalReason)
	if len(got.Notes) != 1 || !strings.Contains(got.Notes[0].Text, "却下") {
		t.Errorf("refusal note: %v", got.Notes)
	}
	_, err = db.ApplyPCR(ctx, "a", again.ID, nil, "alice", t0)
	if err == nil {
		t.Error("applying a refused PCR succeeded")
	}
}

func inTxOK(t *testing.T, db *sqlstore.DB, fn func(tx *sqlstore.Tx) error) {
	t.Helper()
	if err := db.InTx(t.Context(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}
