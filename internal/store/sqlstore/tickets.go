package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/ticket"
)

const ticketCols = `id, tenant, kind, title, body, state, assignee, requester, pcr, created_at, updated_at, state_since`

func scanTicket(sc interface{ Scan(...any) error }) (*ticket.Ticket, error) {
	var tk ticket.Ticket
	var kind, state, pcr string
	var created, updated, since int64
	if err := sc.Scan(&tk.ID, &tk.Tenant, &kind, &tk.Title, &tk.Body, &state, &tk.Assignee, &tk.Requester, &pcr,
		&created, &updated, &since); err != nil {
		return nil, err
	}
	tk.Ref, tk.Kind, tk.State = ticket.TicketRef(tk.ID), ticket.Kind(kind), ticket.State(state)
	tk.CreatedAt, tk.UpdatedAt, tk.StateSince = fromMicros(created), fromMicros(updated), fromMicros(since)
	tk.Links = []ticket.Link{}
	if pcr != "" {
		tk.PCR = &ticket.AllowRequest{}
		if err := json.Unmarshal([]byte(pcr), tk.PCR); err != nil {
			return nil, fmt.Errorf("ticket %s: %w", tk.Ref, err)
		}
	}
	return &tk, nil
}

func pcrText(r *ticket.AllowRequest) string {
	if r == nil {
		return ""
	}
	return jsonText(r)
}

// InsertTicket stores a new ticket, checked with ticket.NewTicket, with its
// links (each must name the tenant's own incident or alert), audited. It
// sets the ticket's ID and Ref.
func (tx *Tx) InsertTicket(ctx context.Context, tk *ticket.Ticket, actor string) error {
	if tk.StateSince.IsZero() {
		tk.StateSince = tk.CreatedAt
	}
	id, err := insertID(ctx, tx, `INSERT INTO tickets (tenant, kind, title, body, state, assignee, requester, pcr,
		created_at, updated_at, state_since) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		tk.Tenant, string(tk.Kind), tk.Title, tk.Body, string(tk.State), tk.Assignee, tk.Requester, pcrText(tk.PCR),
		micros(tk.CreatedAt), micros(tk.UpdatedAt), micros(tk.StateSince))
	if err != nil {
		return fmt.Errorf("insert ticket: %w", err)
	}
	tk.ID, tk.Ref = id, ticket.TicketRef(id)
	links := tk.Links
	tk.Links = []ticket.Link{}
	for _, l := range links {
		if err := tx.insertLink(ctx, tk, l); err != nil {
			return err
		}
	}
	return tx.Audit(ctx, AuditEntry{Tenant: tk.Tenant, At: tk.CreatedAt, Actor: actor, Action: "ticket.created",
		Object: tk.Ref, Detail: fmt.Sprintf("%s: %s", tk.Kind, tk.Title)})
}

// CreateTicket checks and stores a new ticket in its own transaction.
func (db *DB) CreateTicket(ctx context.Context, tk *ticket.Ticket, actor string, at time.Time) error {
	if err := ticket.NewTicket(tk, at); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error { return tx.InsertTicket(ctx, tk, actor) })
}

// Ticket loads one ticket of a tenant with its links and notes.
func (db *DB) Ticket(ctx context.Context, tenant string, id int64) (*ticket.Ticket, error) {
	return loadTicket(ctx, db.sql, tenant, id)
}

// Ticket loads one ticket of a tenant inside the transaction.
func (tx *Tx) Ticket(ctx context.Context, tenant string, id int64) (*ticket.Ticket, error) {
	return loadTicket(ctx, tx, tenant, id)
}

func loadTicket(ctx context.Context, q queryer, tenant string, id int64) (*ticket.Ticket, error) {
	tk, err := scanTicket(q.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant=$1 AND id=$2`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("ticket %s of tenant %s: %w", ticket.TicketRef(id), tenant, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ticket %s: %w", ticket.TicketRef(id), err)
	}
	links, err := ticketLinks(ctx, q, `WHERE tenant=$1 AND ticket_id=$2`, tenant, id)
	if err != nil {
		return nil, err
	}
	if l := links[id]; l != nil {
		tk.Links = l
	}
	rows, err := q.QueryContext(ctx, `SELECT at, author, text FROM ticket_notes WHERE tenant=$1 AND ticket_id=$2 ORDER BY id`,
		tenant, id)
	if err != nil {
		return nil, fmt.Errorf("ticket notes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n ticket.Note
		var at int64
		if err := rows.Scan(&at, &n.Author, &n.Text); err != nil {
			return nil, err
		}
		n.At = fromMicros(at)
		tk.Notes = append(tk.Notes, n)
	}
	return tk, rows.Err()
}

func ticketLinks(ctx context.Context, q queryer, where string, args ...any) (map[int64][]ticket.Link, error) {
	rows, err := q.QueryContext(ctx, `SELECT ticket_id, kind, ref FROM ticket_links `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("ticket links: %w", err)
	}
	defer rows.Close()
	out := map[int64][]ticket.Link{}
	for rows.Next() {
		var id int64
		var l ticket.Link
		if err := rows.Scan(&id, &l.Kind, &l.Ref); err != nil {
			return nil, err
		}
		out[id] = append(out[id], l)
	}
	return out, rows.Err()
}

// Tickets lists a tenant's tickets, oldest first, with their links (notes
// are loaded with Ticket).
func (db *DB) Tickets(ctx context.Context, tenant string, f TicketFilter) ([]*ticket.Ticket, error) {
	where, args := `WHERE tenant=$1`, []any{tenant}
	if f.State != "" {
		args = append(args, string(f.State))
		where += fmt.Sprintf(` AND state=$%d`, len(args))
	}
	if f.Kind != "" {
		args = append(args, string(f.Kind))
		where += fmt.Sprintf(` AND kind=$%d`, len(args))
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	var out []*ticket.Ticket
	for rows.Next() {
		tk, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, tk)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	links, err := ticketLinks(ctx, db.sql, `WHERE tenant=$1`, tenant)
	if err != nil {
		return nil, err
	}
	for _, tk := range out {
		if l := links[tk.ID]; l != nil {
			tk.Links = l
		}
	}
	return out, nil
}

// updateTicket writes back a ticket's mutable fields.
func (tx *Tx) updateTicket(ctx context.Context, tk *ticket.Ticket) error {
	res, err := tx.ExecContext(ctx, `UPDATE tickets SET state=$1, assignee=$2, pcr=$3, updated_at=$4, state_since=$5 WHERE tenant=$6 AND id=$7`,
		string(tk.State), tk.Assignee, pcrText(tk.PCR), micros(tk.UpdatedAt), micros(tk.StateSince), tk.Tenant, tk.ID)
	if err != nil {
		return fmt.Errorf("update ticket %s: %w", tk.Ref, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update ticket %s: %w", tk.Ref, ErrNotFound)
	}
	return nil
}

// invalid classes a refusal of the ticket model as a conflict with the
// ticket's state, keeping ticket.ErrInvalid for callers that test for it.
func invalid(err error) error {
	if errors.Is(err, ticket.ErrInvalid) {
		return conflict{err}
	}
	return err
}

// conflict is a refusal of the ticket model that contradicts the ticket's
// state: both ErrConflict and ticket.ErrInvalid, worded as the model put it.
type conflict struct{ err error }

func (c conflict) Error() string {
	return strings.TrimPrefix(c.err.Error(), ticket.ErrInvalid.Error()+": ")
}
func (c conflict) Unwrap() []error { return []error{ErrConflict, c.err} }

// MoveTicket moves a ticket to another state, refusing a move its
// lifecycle does not allow (ErrConflict, nothing changed). The move is
// audited; a reason, when given, is also kept as a note.
func (tx *Tx) MoveTicket(ctx context.Context, tenant string, id int64, to ticket.State, actor, why string, at time.Time) (*ticket.Ticket, error) {
	tk, err := tx.Ticket(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	from := tk.State
	if to == ticket.StateRefused && strings.TrimSpace(why) == "" {
		return nil, invalid(fmt.Errorf("%w: refusing ticket %s needs a reason", ticket.ErrInvalid, tk.Ref))
	}
	if err := tk.Move(to, at); err != nil {
		return nil, invalid(err)
	}
	if err := tx.updateTicket(ctx, tk); err != nil {
		return nil, err
	}
	if err := tx.auditMove(ctx, tk, from, actor, why); err != nil {
		return nil, err
	}
	if why = strings.TrimSpace(why); why != "" {
		if err := tx.addTicketNote(ctx, tk, ticket.Note{At: at, Author: actor, Text: why}); err != nil {
			return nil, err
		}
	}
	return tk, nil
}

// MoveTicket moves a ticket in its own transaction (see Tx.MoveTicket).
func (db *DB) MoveTicket(ctx context.Context, tenant string, id int64, to ticket.State, actor, why string, at time.Time) (*ticket.Ticket, error) {
	var tk *ticket.Ticket
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		tk, err = tx.MoveTicket(ctx, tenant, id, to, actor, why, at)
		return err
	})
	return tk, err
}

func (tx *Tx) auditMove(ctx context.Context, tk *ticket.Ticket, from ticket.State, actor, why string) error {
	detail := fmt.Sprintf("%s → %s", from, tk.State)
	if why = strings.TrimSpace(why); why != "" {
		detail += ": " + why
	}
	return tx.Audit(ctx, AuditEntry{Tenant: tk.Tenant, At: tk.UpdatedAt, Actor: actor, Action: "ticket.moved",
		Object: tk.Ref, Detail: detail})
}

// AssignTicket gives a ticket to an analyst (empty: to nobody), audited.
func (db *DB) AssignTicket(ctx context.Context, tenant string, id int64, assignee, actor string, at time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error {
		tk, err := tx.Ticket(ctx, tenant, id)
		if err != nil {
			return err
		}
		tk.Assignee, tk.UpdatedAt = strings.TrimSpace(assignee), at
		if err := tx.updateTicket(ctx, tk); err != nil {
			return err
		}
		return tx.Audit(ctx, AuditEntry{Tenant: tenant, At: at, Actor: actor, Action: "ticket.assigned", Object: tk.Ref,
			Detail: "assignee: " + tk.Assignee})
	})
}

// AddTicketNote appends a line to a ticket's history.
func (tx *Tx) AddTicketNote(ctx context.Context, tenant string, id int64, n ticket.Note) error {
	if strings.TrimSpace(n.Text) == "" {
		return fmt.Errorf("%w: a note needs text", ticket.ErrInvalid)
	}
	tk, err := tx.Ticket(ctx, tenant, id)
	if err != nil {
		return err
	}
	tk.UpdatedAt = n.At
	if err := tx.updateTicket(ctx, tk); err != nil {
		return err
	}
	return tx.addTicketNote(ctx, tk, n)
}

// AddTicketNote appends a note in its own transaction.
func (db *DB) AddTicketNote(ctx context.Context, tenant string, id int64, n ticket.Note) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.AddTicketNote(ctx, tenant, id, n) })
}

func (tx *Tx) addTicketNote(ctx context.Context, tk *ticket.Ticket, n ticket.Note) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ticket_notes (tenant, ticket_id, at, author, text) VALUES ($1,$2,$3,$4,$5)`,
		tk.Tenant, tk.ID, micros(n.At), n.Author, n.Text)
	if err != nil {
		return fmt.Errorf("add note to %s: %w", tk.Ref, err)
	}
	tk.Notes = append(tk.Notes, n)
	return nil
}

// LinkTicket ties a ticket to an incident (Ref INC-000123) or an alert (the
// vendor's alert id) of the same tenant, audited. Another tenant's incident
// or alert is ErrNotFound, as is another tenant's ticket; linking twice is a
// no-op.
func (tx *Tx) LinkTicket(ctx context.Context, tenant string, id int64, l ticket.Link, actor string, at time.Time) error {
	tk, err := tx.Ticket(ctx, tenant, id)
	if err != nil {
		return err
	}
	if err := tx.insertLink(ctx, tk, l); err != nil {
		return err
	}
	return tx.Audit(ctx, AuditEntry{Tenant: tenant, At: at, Actor: actor, Action: "ticket.linked", Object: tk.Ref,
		Detail: l.Kind + " " + l.Ref})
}

// LinkTicket links in its own transaction (see Tx.LinkTicket).
func (db *DB) LinkTicket(ctx context.Context, tenant string, id int64, l ticket.Link, actor string, at time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.LinkTicket(ctx, tenant, id, l, actor, at) })
}

func (tx *Tx) insertLink(ctx context.Context, tk *ticket.Ticket, l ticket.Link) error {
	var incident sql.NullInt64
	switch l.Kind {
	case ticket.LinkIncident:
		iid, err := ticket.ParseRef(l.Ref)
		if err != nil {
			return fmt.Errorf("%w: %w", ticket.ErrInvalid, err)
		}
		in, err := getIncident(ctx, tx, tk.Tenant, iid)
		if err != nil {
			return err // ErrNotFound for another tenant's incident
		}
		l.Ref, incident = in.Ref, sql.NullInt64{Int64: in.ID, Valid: true}
	case ticket.LinkAlert:
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts WHERE tenant=$1 AND vendor_id=$2`, tk.Tenant, l.Ref).Scan(&n)
		if err != nil {
			return fmt.Errorf("find alert %s: %w", l.Ref, err)
		}
		if n == 0 {
			return fmt.Errorf("alert %s of tenant %s: %w", l.Ref, tk.Tenant, ErrNotFound)
		}
	default:
		return fmt.Errorf("%w: link kind %q: want incident or alert", ticket.ErrInvalid, l.Kind)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ticket_links (tenant, ticket_id, kind, ref, incident_id) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (ticket_id, kind, ref) DO NOTHING`, tk.Tenant, tk.ID, l.Kind, l.Ref, incident)
	if err != nil {
		return fmt.Errorf("link %s to %s %s: %w", tk.Ref, l.Kind, l.Ref, err)
	}
	for _, have := range tk.Links {
		if have == l {
			return nil
		}
	}
	tk.Links = append(tk.Links, l)
	return nil
}

// SetVerdict records an analyst's verdict on an incident of the tenant,
// with a note (Japanese and English) and an audit entry.
func (tx *Tx) SetVerdict(ctx context.Context, tenant string, incidentID int64, v ticket.Verdict, actor, why string, at time.Time) (*ticket.Incident, error) {
	if _, err := ticket.ParseVerdict(string(v)); err != nil {
		return nil, fmt.Errorf("%w: %w", ticket.ErrInvalid, err)
	}
	in, err := tx.Incident(ctx, tenant, incidentID)
	if err != nil {
		return nil, err
	}
	from := in.Verdict
	in.Verdict, in.UpdatedAt = v, at
	if err := tx.UpdateIncident(ctx, in); err != nil {
		return nil, err
	}
	if err := tx.AddNote(ctx, tenant, in.ID, ticket.Note{At: at, Author: actor, Text: ticket.VerdictNote(v, actor, why)}); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("%s → %s", orNone(string(from)), v)
	if why = strings.TrimSpace(why); why != "" {
		detail += ": " + why
	}
	return in, tx.Audit(ctx, AuditEntry{Tenant: tenant, At: at, Actor: actor, Action: "incident.verdict", Object: in.Ref, Detail: detail})
}

// SetVerdict sets a verdict in its own transaction (see Tx.SetVerdict).
func (db *DB) SetVerdict(ctx context.Context, tenant string, incidentID int64, v ticket.Verdict, actor, why string, at time.Time) (*ticket.Incident, error) {
	var in *ticket.Incident
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		in, err = tx.SetVerdict(ctx, tenant, incidentID, v, actor, why, at)
		return err
	})
	return in, err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
