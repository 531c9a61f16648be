package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/ticket"
)

const allowCols = `id, tenant, sha256, path_glob, host_glob, reason, ticket_id, created_by, created_at`

func allowEntries(ctx context.Context, q queryer, where string, args ...any) ([]AllowlistEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+allowCols+` FROM allowlist_entries `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("allowlist entries: %w", err)
	}
	defer rows.Close()
	var out []AllowlistEntry
	for rows.Next() {
		var e AllowlistEntry
		var tid, at int64
		if err := rows.Scan(&e.ID, &e.Tenant, &e.SHA256, &e.PathGlob, &e.HostGlob, &e.Reason, &tid, &e.CreatedBy, &at); err != nil {
			return nil, err
		}
		e.Ticket, e.CreatedAt = ticket.TicketRef(tid), fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AllowlistEntries lists the entries applied PCRs made for a tenant.
func (db *DB) AllowlistEntries(ctx context.Context, tenant string) ([]AllowlistEntry, error) {
	return allowEntries(ctx, db.sql, `WHERE tenant=$1`, tenant)
}

// StoredAllowed reports whether an entry an applied PCR made covers the
// alert, and the suppression reason naming the PCR. Only entries without a
// hash or with the alert's hash are read (through their index).
func (tx *Tx) StoredAllowed(ctx context.Context, tenant string, a *alert.Alert) (string, bool, error) {
	var es []AllowlistEntry
	var err error
	if tx.primed != nil {
		// A triage batch reads the tenant's entries once (applied PCRs are
		// few, and change only in an analyst's own transaction).
		var ok bool
		if es, ok = tx.primed.allow[tenant]; !ok {
			if es, err = allowEntries(ctx, tx, `WHERE tenant=$1`, tenant); err != nil {
				return "", false, err
			}
			if tx.primed.allow == nil {
				tx.primed.allow = map[string][]AllowlistEntry{}
			}
			tx.primed.allow[tenant] = es
		}
	} else if es, err = allowEntries(ctx, tx, `WHERE tenant=$1 AND (sha256='' OR sha256=$2)`, tenant, strings.ToLower(a.Process.SHA256)); err != nil {
		return "", false, err
	}
	for _, e := range es {
		if e.Request().Matches(a) {
			return e.Suppression(), true, nil
		}
	}
	return "", false, nil
}

// covers reports whether an existing entry already allows everything the
// request asks for: the same hash (or both none) and globs no narrower.
func covers(have, want ticket.AllowRequest) bool {
	if have.SHA256 != want.SHA256 || (have.SHA256 == "" && have.PathGlob == "") {
		return false
	}
	return (have.PathGlob == "" || strings.EqualFold(have.PathGlob, want.PathGlob)) &&
		(have.HostGlob == "" || strings.EqualFold(have.HostGlob, want.HostGlob))
}

// ApplyPCR applies a PCR ticket of the tenant: the requested entry joins
// the tenant's allowlist with the ticket as its origin, the ticket is
// resolved, and every open incident holding a matching alert gets a note
// (they are not closed). existing are the tenant file's own entries: a
// request that one of them, or a stored entry, already covers is refused
// with ErrConflict and nothing changes.
func (db *DB) ApplyPCR(ctx context.Context, tenant string, id int64, existing []ticket.AllowRequest, by string, at time.Time) (*PCRResult, error) {
	var res *PCRResult
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		res, err = tx.applyPCR(ctx, tenant, id, existing, by, at)
		return err
	})
	return res, err
}

func (tx *Tx) applyPCR(ctx context.Context, tenant string, id int64, existing []ticket.AllowRequest, by string, at time.Time) (*PCRResult, error) {
	tk, err := tx.Ticket(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if tk.Kind != ticket.KindPCR || tk.PCR == nil {
		return nil, fmt.Errorf("%w: ticket %s is a %s ticket, not a PCR", ticket.ErrInvalid, tk.Ref, tk.Kind)
	}
	if tk.PCR.Decision != ticket.DecisionNone || !tk.State.Open() {
		return nil, fmt.Errorf("%w: PCR %s is %s (%s), no longer open", ErrConflict, tk.Ref, tk.State, orNone(string(tk.PCR.Decision)))
	}
	if err := tx.checkNotCovered(ctx, tk, existing); err != nil {
		return nil, err
	}
	from := tk.State
	if err := tk.Decide(ticket.DecisionApplied, "", by, at); err != nil {
		return nil, invalid(err)
	}
	if err := tx.updateTicket(ctx, tk); err != nil {
		return nil, err
	}
	e := AllowlistEntry{Tenant: tenant, SHA256: tk.PCR.SHA256, PathGlob: tk.PCR.PathGlob, HostGlob: tk.PCR.HostGlob,
		Reason: tk.PCR.Reason, Ticket: tk.Ref, CreatedBy: by, CreatedAt: at}
	e.ID, err = insertID(ctx, tx, `INSERT INTO allowlist_entries (tenant, sha256, path_glob, host_glob, reason, ticket_id,
		created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		tenant, e.SHA256, e.PathGlob, e.HostGlob, e.Reason, tk.ID, by, micros(at))
	if err != nil {
		return nil, fmt.Errorf("store allowlist entry of %s: %w", tk.Ref, err)
	}
	if err := tx.auditMove(ctx, tk, from, by, "PCR applied: "+tk.PCR.Describe()); err != nil {
		return nil, err
	}
	matched, err := tx.notePCRMatches(ctx, tk, by, at)
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("許可リストに登録しました (%s)。一致する未完了インシデント: %d 件。\n"+
		"Added to the allowlist (%s). Matching open incidents: %d.", tk.PCR.Describe(), len(matched), tk.PCR.Describe(), len(matched))
	if err := tx.addTicketNote(ctx, tk, ticket.Note{At: at, Author: "bannin", Text: note}); err != nil {
		return nil, err
	}
	return &PCRResult{Ticket: tk, Entry: e, Matched: matched}, nil
}

func (tx *Tx) checkNotCovered(ctx context.Context, tk *ticket.Ticket, existing []ticket.AllowRequest) error {
	stored, err := allowEntries(ctx, tx, `WHERE tenant=$1 AND sha256=$2`, tk.Tenant, tk.PCR.SHA256)
	if err != nil {
		return err
	}
	for _, e := range stored {
		if covers(e.Request(), *tk.PCR) {
			return fmt.Errorf("%w: PCR %s: %s is already allowlisted for tenant %s by %s", ErrConflict, tk.Ref,
				tk.PCR.Describe(), tk.Tenant, e.Ticket)
		}
	}
	for _, e := range existing {
		if covers(e, *tk.PCR) {
			return fmt.Errorf("%w: PCR %s: %s is already allowlisted in tenant %s's file", ErrConflict, tk.Ref,
				tk.PCR.Describe(), tk.Tenant)
		}
	}
	return nil
}

// notePCRMatches notes on every open incident with an alert the applied
// PCR covers that it does, links it to the ticket, and returns their refs.
func (tx *Tx) notePCRMatches(ctx context.Context, tk *ticket.Ticket, by string, at time.Time) ([]string, error) {
	// The alerts' sha256 column holds only hashes fit for spread lookups,
	// so every alert of an open incident is read and matched here.
	rows, err := alertRows(ctx, tx, `WHERE tenant=$1 AND incident_id IN
		(SELECT id FROM incidents WHERE tenant=$1 AND status='open') ORDER BY incident_id, id`, tk.Tenant)
	if err != nil {
		return nil, err
	}
	matched := []string{}
	seen := map[int64]bool{}
	for _, r := range rows {
		if seen[r.IncidentID] || !tk.PCR.Matches(&r.Alert) {
			continue
		}
		seen[r.IncidentID] = true
		ref := ticket.RefFor(r.IncidentID)
		if err := tx.AddNote(ctx, tk.Tenant, r.IncidentID, ticket.Note{At: at, Author: "bannin",
			Text: ticket.PCRMatchNote(tk.Ref, *tk.PCR)}); err != nil {
			return nil, err
		}
		if err := tx.insertLink(ctx, tk, ticket.Link{Kind: ticket.LinkIncident, Ref: ref}); err != nil {
			return nil, err
		}
		if err := tx.Audit(ctx, AuditEntry{Tenant: tk.Tenant, At: at, Actor: by, Action: "incident.pcr_matched",
			Object: ref, Detail: tk.Ref + ": " + tk.PCR.Describe()}); err != nil {
			return nil, err
		}
		matched = append(matched, ref)
	}
	return matched, nil
}

// RefusePCR refuses a PCR ticket of the tenant with a reason (required;
// e.g. it would weaken protection), kept on the ticket, as a note and in
// the audit log.
func (db *DB) RefusePCR(ctx context.Context, tenant string, id int64, reason, by string, at time.Time) (*ticket.Ticket, error) {
	var tk *ticket.Ticket
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		if tk, err = tx.Ticket(ctx, tenant, id); err != nil {
			return err
		}
		from := tk.State
		if err := tk.Decide(ticket.DecisionRefused, reason, by, at); err != nil {
			if strings.TrimSpace(reason) == "" {
				return err // a missing reason is bad input, not a conflict
			}
			return invalid(err)
		}
		if err := tx.updateTicket(ctx, tk); err != nil {
			return err
		}
		if err := tx.auditMove(ctx, tk, from, by, "PCR refused: "+tk.PCR.RefusalReason); err != nil {
			return err
		}
		note := fmt.Sprintf("許可リスト申請を却下しました。理由: %s\nThe allowlist request was refused. Reason: %s",
			tk.PCR.RefusalReason, tk.PCR.RefusalReason)
		return tx.addTicketNote(ctx, tk, ticket.Note{At: at, Author: by, Text: note})
	})
	return tk, err
}
