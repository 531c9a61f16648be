package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/ticket"
)

// Writes nobody reads back inside the transaction that makes them — audit
// entries and the end state of inbox rows — are kept in the Tx and written
// in multi-row statements just before commit. A triage batch of hundreds of
// alerts then costs two statements for them instead of one round trip per
// row, which is what bounds throughput on PostgreSQL.

// behind holds a transaction's deferred writes.
type behind struct {
	audits    []AuditEntry
	finishes  []finish
	incidents map[int64]*ticket.Incident // kept updates, by id
	order     []int64
	hostIPs   map[ipKey]HostAt // addresses named by this transaction's alerts
	notes     []noteRow
	keys      map[keyRow]int64      // incident_keys rows to upsert
	sightings map[sightingRow]int64 // pattern_sightings rows to upsert
}

// keepIncident keeps a copy of an incident's new state.
func (b *behind) keepIncident(in *ticket.Incident) {
	if b.incidents == nil {
		b.incidents = map[int64]*ticket.Incident{}
	}
	if _, ok := b.incidents[in.ID]; !ok {
		b.order = append(b.order, in.ID)
	}
	b.incidents[in.ID] = cloneIncident(in)
}

// latest returns the kept state of an incident read from the database, if
// there is one (as a copy the caller may change).
func (b *behind) latest(in *ticket.Incident) *ticket.Incident {
	if in == nil {
		return nil
	}
	if kept, ok := b.incidents[in.ID]; ok && kept.Tenant == in.Tenant {
		return cloneIncident(kept)
	}
	return in
}

func cloneIncident(in *ticket.Incident) *ticket.Incident {
	c := *in
	c.Hosts = slices.Clone(in.Hosts)
	c.Techniques = slices.Clone(in.Techniques)
	c.Evidence = slices.Clone(in.Evidence)
	return &c
}

type finish struct {
	id            int64
	state, reason string
	at            int64
}

// rows bounds a multi-row statement. PostgreSQL takes 500 rows in one
// round trip well inside its 65535 parameters. SQLite gets 40: it looks up
// each $N parameter by name in a list while parsing, so a statement's parse
// time grows with the square of its parameters (a 3,000-parameter insert
// spent more time being parsed than run), and small statements of one
// shape are reused from the transaction's statement cache.
func (tx *Tx) rows() int {
	if tx.dialect.Name == SQLite.Name {
		return 40
	}
	return 500
}

// flush writes the deferred rows. InTx calls it before commit; readers of
// the deferred tables inside a transaction call it first.
func (tx *Tx) flush(ctx context.Context) error {
	for _, id := range tx.behind.order {
		if err := tx.updateIncident(ctx, tx.behind.incidents[id]); err != nil {
			return err
		}
	}
	tx.behind.order, tx.behind.incidents = nil, nil
	if err := tx.flushHostIPs(ctx); err != nil {
		return err
	}
	if err := tx.flushRollups(ctx); err != nil {
		return err
	}
	if err := tx.flushNotes(ctx); err != nil {
		return err
	}
	if err := tx.flushAudits(ctx); err != nil {
		return err
	}
	return tx.flushFinishes(ctx)
}

func (tx *Tx) flushAudits(ctx context.Context) error {
	for len(tx.behind.audits) > 0 {
		part := tx.behind.audits[:min(tx.rows(), len(tx.behind.audits))]
		var b strings.Builder
		b.WriteString("INSERT INTO audit (tenant, at, actor, action, object, detail) VALUES ")
		args := make([]any, 0, len(part)*6)
		for i, e := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, e.Tenant, micros(e.At), e.Actor, e.Action, e.Object, e.Detail)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		tx.behind.audits = tx.behind.audits[len(part):]
	}
	return nil
}

func (tx *Tx) flushFinishes(ctx context.Context) error {
	for len(tx.behind.finishes) > 0 {
		part := tx.behind.finishes[:min(tx.rows(), len(tx.behind.finishes))]
		// VALUES columns are column1… in both dialects; the casts give
		// PostgreSQL the types it cannot infer from parameters there.
		var b strings.Builder
		b.WriteString("UPDATE inbox SET state = v.column2, error = v.column3, done_at = v.column4 FROM (VALUES ")
		args := make([]any, 0, len(part)*4)
		for i, f := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&b, "(CAST($%d AS BIGINT),CAST($%d AS TEXT),CAST($%d AS TEXT),CAST($%d AS BIGINT))", n+1, n+2, n+3, n+4)
			args = append(args, f.id, f.state, f.reason, f.at)
		}
		b.WriteString(") AS v WHERE inbox.id = v.column1")
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("finish inbox rows: %w", err)
		}
		tx.behind.finishes = tx.behind.finishes[len(part):]
	}
	return nil
}

type noteRow struct {
	tenant   string
	incident int64
	note     ticket.Note
}

func (tx *Tx) flushNotes(ctx context.Context) error {
	for len(tx.behind.notes) > 0 {
		part := tx.behind.notes[:min(tx.rows(), len(tx.behind.notes))]
		var b strings.Builder
		b.WriteString("INSERT INTO notes (tenant, incident_id, at, author, text) VALUES ")
		args := make([]any, 0, len(part)*5)
		for i, n := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			k := len(args)
			fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5)
			args = append(args, n.tenant, n.incident, micros(n.note.At), n.note.Author, n.note.Text)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("add notes: %w", err)
		}
		tx.behind.notes = tx.behind.notes[len(part):]
	}
	return nil
}
