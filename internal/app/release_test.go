package app_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// isolatedIncident isolates host through a credential-theft alert and
// returns its incident.
func isolatedIncident(t *testing.T, e *env, sim *crowdstrike.Sim, id, host string) view.IncidentOut {
	t.Helper()
	// A hash of its own: the same hash on another host would join the
	// earlier incident (lateral spread).
	own := crowdstrike.AlertProcess("mssecsvc.exe", `C:\Users\Public\mssecsvc.exe`, `mssecsvc.exe sekurlsa::logonpasswords`,
		fmt.Sprintf("%064x", sha256.Sum256([]byte(host))))
	if r := e.post(t, "hokuto", csAlert(id, host, append(credentialTheft(), own)...)); r.code != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.code, r.body)
	}
	quiesce(t, e.App)
	for _, in := range incidents(t, e.App, "hokuto") {
		if len(in.Hosts) == 1 && in.Hosts[0] == host {
			if !sim.Contained(aid(host)) {
				t.Fatalf("%s not contained", host)
			}
			return in
		}
	}
	t.Fatalf("no incident for %s", host)
	return view.IncidentOut{}
}

func releases(t *testing.T, e *env, in view.IncidentOut) []*response.Action {
	t.Helper()
	id, _ := ticket.ParseRef(in.ID)
	acts, err := e.App.DB.IncidentActions(context.Background(), "hokuto", id)
	if err != nil {
		t.Fatal(err)
	}
	var out []*response.Action
	for _, a := range acts {
		if a.Kind == response.KindRelease {
			out = append(out, a)
		}
	}
	return out
}

// TestReleaseWorkflow: a false-positive verdict lifts the isolation by
// itself; a customer's request waits for approval, which the requester
// cannot give; a benign answer from the EDR maker to a vendor escalation
// makes the linked incident a false positive and lifts its isolation. Each
// release calls the vendor once.
func TestReleaseWorkflow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e, sim := containEnv(t, b, "pc-801", "pc-802", "pc-803")

		fp := isolatedIncident(t, e, sim, "rel:1", "pc-801")
		fpID, _ := ticket.ParseRef(fp.ID)
		_, rels, err := e.App.Response.SetVerdict(ctx, "hokuto", fpID, ticket.VerdictFalsePositive, "analyst-1", "admin's own script")
		if err != nil || len(rels) != 1 || rels[0].HostKey != "pc-801" {
			t.Fatalf("false positive: releases %+v, %v", rels, err)
		}
		quiesce(t, e.App)
		if sim.Contained(aid("pc-801")) {
			t.Error("pc-801 still contained after the false-positive verdict")
		}
		if r := releases(t, e, fp); len(r) != 1 || r[0].State != response.StateDone || r[0].Reason != "false_positive: verdict false positive by analyst-1" {
			t.Errorf("releases = %+v", r)
		}

		asked := isolatedIncident(t, e, sim, "rel:2", "pc-802")
		rel, err := e.App.Response.Release(ctx, "hokuto", asked.ID, response.ReleaseRequest{Host: "pc-802", By: "customer-it", Reason: "the user needs the PC",
			Kind: response.ReleaseCustomerRequest, EnteredBy: "analyst-1"})
		if err != nil || rel.State != response.StateAwaitingApproval {
			t.Fatalf("customer request: %+v, %v", rel, err)
		}
		quiesce(t, e.App)
		if !sim.Contained(aid("pc-802")) {
			t.Fatal("released before approval")
		}
		for _, who := range []string{"customer-it", " Customer-IT", "analyst-1"} {
			if _, err := e.App.Response.Approve(ctx, "hokuto", asked.ID, who); !errors.Is(err, sqlstore.ErrConflict) {
				t.Errorf("%q (requester or who entered it) approving: err %v, want ErrConflict", who, err)
			}
		}
		if _, err := e.App.Response.Approve(ctx, "hokuto", asked.ID, "analyst-2"); err != nil {
			t.Fatal(err)
		}
		quiesce(t, e.App)
		if sim.Contained(aid("pc-802")) {
			t.Error("pc-802 still contained after approval")
		}

		vendor := isolatedIncident(t, e, sim, "rel:3", "pc-803")
		tk := &ticket.Ticket{Tenant: "hokuto", Kind: ticket.KindIncident, Title: "is this malware?",
			Links: []ticket.Link{{Kind: ticket.LinkIncident, Ref: vendor.ID}}}
		if err := e.App.DB.CreateTicket(ctx, tk, "analyst-1", clockNow()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.App.Response.AnswerVendor(ctx, "hokuto", tk.ID, ticket.VendorBenign, "", "analyst-1"); !errors.Is(err, sqlstore.ErrConflict) {
			t.Errorf("an answer without an escalation: err %v, want ErrConflict", err)
		}
		esc := &ticket.VendorEscalation{Vendor: "crowdstrike", Request: "is the hash malicious?", RequestedBy: "analyst-1", RequestedAt: clockNow()}
		if err := e.App.DB.EscalateToVendor(ctx, "hokuto", tk.ID, esc); err != nil {
			t.Fatal(err)
		}
		if err := e.App.DB.EscalateToVendor(ctx, "hokuto", tk.ID, &ticket.VendorEscalation{Vendor: "crowdstrike", Request: "again",
			RequestedAt: clockNow()}); !errors.Is(err, sqlstore.ErrConflict) {
			t.Errorf("a second open escalation: err %v, want ErrConflict", err)
		}
		if _, _, err := e.App.Response.AnswerVendor(ctx, "hokuto", tk.ID, "harmless", "", "analyst-1"); !errors.Is(err, ticket.ErrInvalid) {
			t.Errorf("an unknown verdict: err %v, want ErrInvalid", err)
		}
		if !sim.Contained(aid("pc-803")) {
			t.Fatal("refused answers changed the containment")
		}
		got, rels, err := e.App.Response.AnswerVendor(ctx, "hokuto", tk.ID, ticket.VendorBenign, "signed admin tool", "analyst-1")
		if err != nil || got.Verdict != ticket.VendorBenign || len(rels) != 1 {
			t.Fatalf("benign answer: %+v, releases %+v, %v", got, rels, err)
		}
		quiesce(t, e.App)
		if sim.Contained(aid("pc-803")) {
			t.Error("pc-803 still contained after the vendor's benign verdict")
		}
		vid, _ := ticket.ParseRef(vendor.ID)
		if in, _ := e.App.DB.Incident(ctx, "hokuto", vid); in.Verdict != ticket.VerdictFalsePositive {
			t.Errorf("verdict after the vendor's answer: %q", in.Verdict)
		}
		for _, key := range []string{"hokuto/" + fp.ID + "/release/pc-801/1", "hokuto/" + vendor.ID + "/release/pc-803/1"} {
			n := 0
			for _, l := range sim.Ledger() {
				if l.Key == key {
					n++
				}
			}
			if n != 1 {
				t.Errorf("vendor calls for %s: %d, want 1 (ledger %+v)", key, n, sim.Ledger())
			}
		}
	})
}

func clockNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
