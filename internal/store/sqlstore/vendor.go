package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/ticket"
)

// EscalateToVendor records on a ticket that the EDR maker was asked for a
// detailed analysis, with a note and an audit entry. A ticket with an
// escalation still unanswered cannot open another (ErrConflict).
func (db *DB) EscalateToVendor(ctx context.Context, tenant string, id int64, v *ticket.VendorEscalation) error {
	if err := v.Validate(); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		// One open escalation per ticket, also across nodes.
		if err := tx.LockTenant(ctx, tenant); err != nil {
			return err
		}
		tk, err := tx.Ticket(ctx, tenant, id)
		if err != nil {
			return err
		}
		if !tk.State.Open() {
			return fmt.Errorf("%w: %s is %s: reopen it before escalating to the vendor", ErrConflict, tk.Ref, tk.State)
		}
		open, err := vendorEscalations(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.Verdict == ticket.VendorPending {
				return fmt.Errorf("%w: %s already waits for %s's answer (asked %s)", ErrConflict, tk.Ref, o.Vendor, o.RequestedAt.Format(time.RFC3339))
			}
		}
		if v.ID, err = insertID(ctx, tx, `INSERT INTO vendor_escalations (tenant, ticket_id, vendor, request, requested_by,
			requested_at, vendor_ref) VALUES ($1,$2,$3,$4,$5,$6,$7)`, tenant, id, v.Vendor, v.Request, v.RequestedBy,
			micros(v.RequestedAt), v.VendorRef); err != nil {
			return fmt.Errorf("vendor escalation: %w", err)
		}
		text := fmt.Sprintf("%s に詳細解析を依頼しました / asked %s for a detailed analysis: %s", v.Vendor, v.Vendor, v.Request)
		if err := tx.addTicketNote(ctx, tk, ticket.Note{At: v.RequestedAt, Author: v.RequestedBy, Text: text}); err != nil {
			return err
		}
		return tx.Audit(ctx, AuditEntry{Tenant: tenant, At: v.RequestedAt, Actor: v.RequestedBy, Action: "ticket.vendor_escalated",
			Object: tk.Ref, Detail: v.Vendor + ": " + v.Request})
	})
}

// AnswerVendor records the vendor's answer to the ticket's open
// escalation, in the caller's transaction, with a note and an audit entry.
// Without an open escalation it is ErrConflict.
func (tx *Tx) AnswerVendor(ctx context.Context, tenant string, id int64, verdict ticket.VendorVerdict, answer, by string, at time.Time) (*ticket.VendorEscalation, error) {
	if _, err := ticket.ParseVendorVerdict(string(verdict)); err != nil {
		return nil, err
	}
	tk, err := tx.Ticket(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	all, err := vendorEscalations(ctx, tx, tenant, id)
	if err != nil {
		return nil, err
	}
	var open *ticket.VendorEscalation
	for i := range all {
		if all[i].Verdict == ticket.VendorPending {
			open = &all[i]
		}
	}
	if open == nil {
		return nil, fmt.Errorf("%w: %s has no vendor escalation waiting for an answer", ErrConflict, tk.Ref)
	}
	res, err := tx.ExecContext(ctx, `UPDATE vendor_escalations SET verdict=$1, answer=$2, answered_by=$3, answered_at=$4
		WHERE tenant=$5 AND id=$6 AND verdict=''`, string(verdict), answer, by, micros(at), tenant, open.ID)
	if err != nil {
		return nil, fmt.Errorf("vendor answer: %w", err)
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return nil, fmt.Errorf("%w: %s's escalation to %s was answered meanwhile", ErrConflict, tk.Ref, open.Vendor)
	}
	open.Verdict, open.Answer, open.AnsweredBy, open.AnsweredAt = verdict, answer, by, at
	text := fmt.Sprintf("%s の解析結果: %s / %s's analysis: %s", open.Vendor, verdict, open.Vendor, verdict)
	if answer != "" {
		text += " — " + answer
	}
	if err := tx.addTicketNote(ctx, tk, ticket.Note{At: at, Author: by, Text: text}); err != nil {
		return nil, err
	}
	return open, tx.Audit(ctx, AuditEntry{Tenant: tenant, At: at, Actor: by, Action: "ticket.vendor_answered",
		Object: tk.Ref, Detail: fmt.Sprintf("%s: %s %s", open.Vendor, verdict, answer)})
}

// VendorEscalations lists a ticket's vendor escalations, oldest first.
func (db *DB) VendorEscalations(ctx context.Context, tenant string, id int64) ([]ticket.VendorEscalation, error) {
	return vendorEscalations(ctx, db.sql, tenant, id)
}

func vendorEscalations(ctx context.Context, q queryer, tenant string, id int64) ([]ticket.VendorEscalation, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, vendor, request, requested_by, requested_at, vendor_ref, verdict, answer,
		answered_by, answered_at FROM vendor_escalations WHERE tenant=$1 AND ticket_id=$2 ORDER BY id`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("vendor escalations: %w", err)
	}
	defer rows.Close()
	out := []ticket.VendorEscalation{}
	for rows.Next() {
		var v ticket.VendorEscalation
		var req, ans int64
		var verdict string
		if err := rows.Scan(&v.ID, &v.Vendor, &v.Request, &v.RequestedBy, &req, &v.VendorRef, &verdict, &v.Answer,
			&v.AnsweredBy, &ans); err != nil {
			return nil, err
		}
		v.Verdict, v.RequestedAt, v.AnsweredAt = ticket.VendorVerdict(verdict), fromMicros(req), fromMicros(ans)
		out = append(out, v)
	}
	return out, rows.Err()
}
