package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Writes a transaction seldom reads back — audit entries, the end state of
// inbox rows, and in a triage batch the alert rows, incident updates and
// notes — are kept in the Tx and written in multi-row statements just before
// commit, or before a statement that reads their table. A triage batch of
// hundreds of alerts then costs a few statements for them instead of one
// round trip per row, which is what bounds throughput on PostgreSQL.

// behind holds a transaction's deferred writes.
type behind struct {
	alerts    [][]any        // alert rows (alertCols) kept in a triage batch, data still nil
	alertData []*alert.Alert // the alerts of those rows, encoded into data at flush
	audits    []AuditEntry
	finishes  []finish
	incidents map[int64]*ticket.Incident // kept updates, by id
	order     []int64
	hostIPs   map[ipKey]HostAt // addresses named by this transaction's alerts
	notes     []noteRow
	keys      map[keyRow]int64   // incident_keys rows to upsert
	patHosts  map[patHost]int64  // pattern_hosts rows to upsert
	patDays   map[patDay]int64   // pattern_days rows to upsert
	hashHosts map[hashHost]int64 // hash_hosts rows to upsert
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
	if err := tx.flushAlerts(ctx); err != nil {
		return err
	}
	if err := tx.flushIncidents(ctx); err != nil {
		return err
	}
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
	rows := make([][]any, len(tx.behind.audits))
	for i, e := range tx.behind.audits {
		rows[i] = []any{e.Tenant, micros(e.At), e.Actor, e.Action, e.Object, e.Detail}
	}
	tx.behind.audits = nil
	if err := tx.execRows(ctx, "INSERT INTO audit (tenant, at, actor, action, object, detail) VALUES ", rows, "", nil); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (tx *Tx) flushFinishes(ctx context.Context) error {
	rows := make([][]any, len(tx.behind.finishes))
	for i, f := range tx.behind.finishes {
		rows[i] = []any{f.id, f.state, f.reason, f.at}
	}
	tx.behind.finishes = nil
	// VALUES columns are column1… in both dialects; the casts give
	// PostgreSQL the types it cannot infer from parameters there.
	err := tx.execRows(ctx, "UPDATE inbox SET state = v.column2, error = v.column3, done_at = v.column4 FROM (VALUES ",
		rows, ") AS v WHERE inbox.id = v.column1", []string{"BIGINT", "TEXT", "TEXT", "BIGINT"})
	if err != nil {
		return fmt.Errorf("finish inbox rows: %w", err)
	}
	return nil
}

// flushIncidents writes the kept incident updates in multi-row statements.
func (tx *Tx) flushIncidents(ctx context.Context) error {
	if len(tx.behind.order) == 0 {
		return nil
	}
	rows := make([][]any, len(tx.behind.order))
	for i, id := range tx.behind.order {
		in := tx.behind.incidents[id]
		rows[i] = []any{in.Tenant, in.ID, string(in.Status), string(in.Verdict), string(in.Priority), in.Severity, in.Score,
			boolInt(in.NeedsHuman), in.Title, jsonText(nonNil(in.Hosts)), jsonText(nonNil(in.Techniques)), jsonText(in.Evidence),
			in.AlertCount, micros(in.LastSeen), micros(in.UpdatedAt)}
	}
	tx.behind.order, tx.behind.incidents = nil, nil
	n, err := tx.execRowsN(ctx, `UPDATE incidents SET status = v.column3, verdict = v.column4, priority = v.column5,
		severity = v.column6, score = v.column7, needs_human = v.column8, title = v.column9, hosts = v.column10,
		techniques = v.column11, evidence = v.column12, alert_count = v.column13, last_seen = v.column14,
		updated_at = v.column15 FROM (VALUES `, rows, ") AS v WHERE incidents.tenant = v.column1 AND incidents.id = v.column2",
		[]string{"TEXT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "BIGINT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "BIGINT", "BIGINT", "BIGINT"})
	if err != nil {
		return fmt.Errorf("update incidents: %w", err)
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("update incidents: %d of %d rows: %w", n, len(rows), ErrNotFound)
	}
	return nil
}

// execRows runs head, then rows as "($1,$2,…),(…)" — each parameter in
// CAST(… AS type) where casts names one — then tail, in statements of at
// most tx.rows() rows.
func (tx *Tx) execRows(ctx context.Context, head string, rows [][]any, tail string, casts []string) error {
	_, err := tx.execRowsN(ctx, head, rows, tail, casts)
	return err
}

// execRowsN is execRows returning how many rows the statements changed.
func (tx *Tx) execRowsN(ctx context.Context, head string, rows [][]any, tail string, casts []string) (int64, error) {
	var total int64
	for start := 0; start < len(rows); start += tx.rows() {
		part := rows[start:min(start+tx.rows(), len(rows))]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(part)*len(part[0]))
		for i, r := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for j := range r {
				if j > 0 {
					b.WriteByte(',')
				}
				if casts != nil {
					fmt.Fprintf(&b, "CAST($%d AS %s)", len(args)+j+1, casts[j])
				} else {
					fmt.Fprintf(&b, "$%d", len(args)+j+1)
				}
			}
			b.WriteByte(')')
			args = append(args, r...)
		}
		b.WriteString(tail)
		res, err := tx.ExecContext(ctx, b.String(), tx.oneOff(args)...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

type noteRow struct {
	tenant   string
	incident int64
	note     ticket.Note
}

func (tx *Tx) flushNotes(ctx context.Context) error {
	rows := make([][]any, len(tx.behind.notes))
	for i, n := range tx.behind.notes {
		rows[i] = []any{n.tenant, n.incident, micros(n.note.At), n.note.Author, n.note.Text}
	}
	tx.behind.notes = nil
	if err := tx.execRows(ctx, "INSERT INTO notes (tenant, incident_id, at, author, text) VALUES ", rows, "", nil); err != nil {
		return fmt.Errorf("add notes: %w", err)
	}
	return nil
}
