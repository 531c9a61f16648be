package response

import (
	"context"
	"fmt"

	"github.com/bannin-soc/bannin/internal/audit"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// A verdict is recorded by the ticket model (its note and audit entry); what
// it means for containment is decided here, in the same transaction: a
// false positive lifts every isolation the incident holds.

// SetVerdict records an analyst's verdict; a false positive lifts every
// isolation of the incident in the same transaction (M5: release on false
// positive).
func (s *Service) SetVerdict(ctx context.Context, tenantID string, id int64, v ticket.Verdict, by, why string) (*ticket.Incident, []*Action, error) {
	var in *ticket.Incident
	var rels []*Action
	now := s.now()
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		if in, err = tx.SetVerdict(ctx, tenantID, id, v, by, why, now); err != nil {
			return err
		}
		if v == ticket.VerdictFalsePositive {
			rels, err = s.ReleaseAll(ctx, tx, tenantID, id, ReleaseFalsePositive, by, "verdict false positive by "+by, now)
		}
		return err
	})
	return in, rels, err
}

// AnswerVendor records the EDR maker's answer to a ticket's vendor
// escalation (M17). A benign answer is applied at once, in the same
// transaction: every incident linked to the ticket becomes a false
// positive and its isolations are lifted — except an incident an analyst
// has judged a true positive, which stands (audited).
func (s *Service) AnswerVendor(ctx context.Context, tenantID string, ticketID int64, v ticket.VendorVerdict, answer, by string) (*ticket.VendorEscalation, []*Action, error) {
	var esc *ticket.VendorEscalation
	var rels []*Action
	now := s.now()
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		if esc, err = tx.AnswerVendor(ctx, tenantID, ticketID, v, answer, by, now); err != nil || v != ticket.VendorBenign {
			return err
		}
		tk, err := tx.Ticket(ctx, tenantID, ticketID)
		if err != nil {
			return err
		}
		why := fmt.Sprintf("%s's analysis (%s): benign", esc.Vendor, tk.Ref)
		for _, l := range tk.Links {
			if l.Kind != ticket.LinkIncident {
				continue
			}
			id, err := ticket.ParseRef(l.Ref)
			if err != nil {
				return err
			}
			in, err := tx.Incident(ctx, tenantID, id)
			if err != nil {
				return err
			}
			if in.Verdict == ticket.VerdictTruePositive {
				// An analyst's true positive stands: the vendor's answer is
				// noted on the ticket, the incident and its isolations stay.
				if err := tx.Audit(ctx, audit.Entry{Tenant: tenantID, At: now, Actor: by, Action: "incident.vendor_benign_ignored",
					Object: in.Ref, Detail: why + "; the incident's verdict is true_positive and stands"}); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.SetVerdict(ctx, tenantID, id, ticket.VerdictFalsePositive, by, why, now); err != nil {
				return err
			}
			r, err := s.ReleaseAll(ctx, tx, tenantID, id, ReleaseVendorBenign, by, why, now)
			if err != nil {
				return err
			}
			rels = append(rels, r...)
		}
		return nil
	})
	return esc, rels, err
}
