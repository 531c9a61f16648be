package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/ticket"
)

// SuspectUnanswered finds tickets that have waited on the customer since
// before now − wait and turns each linked incident whose verdict is still
// undecided (none or In progress) to Suspicious, with a note on the
// incident and on the ticket, in Japanese and English, and an audit entry.
// An incident already decided is left alone, so running the sweep again
// changes nothing.
func (db *DB) SuspectUnanswered(ctx context.Context, now time.Time, wait time.Duration) ([]Unanswered, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE state=$1 AND state_since <= $2 ORDER BY id`,
		string(ticket.StateWaitingCustomer), micros(now.Add(-wait)))
	if err != nil {
		return nil, fmt.Errorf("waiting tickets: %w", err)
	}
	var waiting []*ticket.Ticket
	for rows.Next() {
		tk, err := scanTicket(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		waiting = append(waiting, tk)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Unanswered
	for _, w := range waiting {
		err := db.InTx(ctx, func(tx *Tx) error {
			tk, err := tx.Ticket(ctx, w.Tenant, w.ID)
			if err != nil {
				return err
			}
			hours := int(wait.Hours())
			for _, l := range tk.Links {
				if l.Kind != ticket.LinkIncident {
					continue
				}
				id, err := ticket.ParseRef(l.Ref)
				if err != nil {
					continue
				}
				in, err := tx.Incident(ctx, tk.Tenant, id)
				if err != nil {
					return err
				}
				if in.Verdict != ticket.VerdictNone && in.Verdict != ticket.VerdictInProgress {
					continue
				}
				why := fmt.Sprintf("%d 時間以内にお客様からの応答がなかったため（%s）/ no answer from the customer within %d hours (%s)",
					hours, tk.Ref, hours, tk.Ref)
				if _, err := tx.SetVerdict(ctx, tk.Tenant, id, ticket.VerdictSuspicious, "bannin", why, now); err != nil {
					return err
				}
				note := fmt.Sprintf("%s: お客様からの応答が %d 時間なかったため、評価を Suspicious に変更しました / no answer from the customer for %d hours: verdict set to Suspicious",
					in.Ref, hours, hours)
				if err := tx.addTicketNote(ctx, tk, ticket.Note{At: now, Author: "bannin", Text: note}); err != nil {
					return err
				}
				out = append(out, Unanswered{Tenant: tk.Tenant, Incident: in.Ref, Ticket: tk.Ref})
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
