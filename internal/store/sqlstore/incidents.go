package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/ticket"
)

const incidentCols = `id, tenant, status, verdict, priority, severity, score, needs_human, title, hosts, techniques,
	evidence, alert_count, first_seen, last_seen, created_at, updated_at, dfir`

func scanIncident(sc interface{ Scan(...any) error }) (*ticket.Incident, error) {
	var in ticket.Incident
	var status, verdict, prio string
	var needs, dfir int
	var hosts, techs, ev string
	var first, last, created, updated int64
	if err := sc.Scan(&in.ID, &in.Tenant, &status, &verdict, &prio, &in.Severity, &in.Score, &needs, &in.Title,
		&hosts, &techs, &ev, &in.AlertCount, &first, &last, &created, &updated, &dfir); err != nil {
		return nil, err
	}
	in.Ref = ticket.RefFor(in.ID)
	in.Status, in.Verdict, in.Priority = ticket.Status(status), ticket.Verdict(verdict), alert.Priority(prio)
	in.NeedsHuman, in.DFIR = needs != 0, dfir != 0
	in.FirstSeen, in.LastSeen = fromMicros(first), fromMicros(last)
	in.CreatedAt, in.UpdatedAt = fromMicros(created), fromMicros(updated)
	for _, f := range []struct {
		s string
		v any
	}{{hosts, &in.Hosts}, {techs, &in.Techniques}, {ev, &in.Evidence}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return nil, fmt.Errorf("incident %d: %w", in.ID, err)
		}
	}
	return &in, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// InsertIncident stores a new incident and sets its ID and Ref.
func (tx *Tx) InsertIncident(ctx context.Context, in *ticket.Incident) error {
	id, err := insertID(ctx, tx, `INSERT INTO incidents (tenant, status, verdict, priority, severity, score,
		needs_human, title, hosts, techniques, evidence, alert_count, first_seen, last_seen, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
		in.Tenant, string(in.Status), string(in.Verdict), string(in.Priority), in.Severity, in.Score,
		boolInt(in.NeedsHuman), in.Title, jsonText(nonNil(in.Hosts)), jsonText(nonNil(in.Techniques)),
		jsonText(in.Evidence), in.AlertCount, micros(in.FirstSeen), micros(in.LastSeen),
		micros(in.CreatedAt), micros(in.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert incident: %w", err)
	}
	in.ID, in.Ref = id, ticket.RefFor(id)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UpdateIncident writes back an incident's mutable fields.
//
// In a triage batch (a primed transaction) the update is kept and written
// once per incident at commit, however many of the batch's alerts changed
// it; reads in the transaction see the kept state.
func (tx *Tx) UpdateIncident(ctx context.Context, in *ticket.Incident) error {
	if tx.primed != nil {
		tx.behind.keepIncident(in)
		return nil
	}
	return tx.updateIncident(ctx, in)
}

func (tx *Tx) updateIncident(ctx context.Context, in *ticket.Incident) error {
	res, err := tx.ExecContext(ctx, `UPDATE incidents SET status=$1, verdict=$2, priority=$3, severity=$4, score=$5,
		needs_human=$6, title=$7, hosts=$8, techniques=$9, evidence=$10, alert_count=$11, last_seen=$12, updated_at=$13
		WHERE tenant=$14 AND id=$15`,
		string(in.Status), string(in.Verdict), string(in.Priority), in.Severity, in.Score, boolInt(in.NeedsHuman),
		in.Title, jsonText(nonNil(in.Hosts)), jsonText(nonNil(in.Techniques)), jsonText(in.Evidence), in.AlertCount,
		micros(in.LastSeen), micros(in.UpdatedAt), in.Tenant, in.ID)
	if err != nil {
		return fmt.Errorf("update incident %s: %w", in.Ref, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update incident %s: %w", in.Ref, ErrNotFound)
	}
	return nil
}

// Incident loads one incident of a tenant.
func (db *DB) Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error) {
	return getIncident(ctx, db.sql, tenant, id)
}

// Incident loads one incident of a tenant inside the transaction.
func (tx *Tx) Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error) {
	in, err := getIncident(ctx, tx, tenant, id)
	return tx.behind.latest(in), err
}

// primedIncident loads an incident once per triage batch: later lookups
// get a copy of the kept update, else of what was loaded.
func (tx *Tx) primedIncident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error) {
	if kept, ok := tx.behind.incidents[id]; ok && kept.Tenant == tenant {
		return cloneIncident(kept), nil
	}
	if in, ok := tx.primed.loaded[id]; ok && in.Tenant == tenant {
		return cloneIncident(in), nil
	}
	in, err := getIncident(ctx, tx, tenant, id)
	if err != nil {
		return nil, err
	}
	if tx.primed.loaded == nil {
		tx.primed.loaded = map[int64]*ticket.Incident{}
	}
	tx.primed.loaded[id] = cloneIncident(in)
	return in, nil
}

func getIncident(ctx context.Context, q queryer, tenant string, id int64) (*ticket.Incident, error) {
	in, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE tenant=$1 AND id=$2`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %s of tenant %s: %w", ticket.RefFor(id), tenant, ErrNotFound)
	}
	return in, err
}

// Incidents lists a tenant's incidents, oldest first.
func (db *DB) Incidents(ctx context.Context, tenant string) ([]*ticket.Incident, error) {
	return db.incidentsWhere(ctx, `tenant=$1 ORDER BY id`, tenant)
}

// incidentsWhere lists the incidents a WHERE clause selects.
func (db *DB) incidentsWhere(ctx context.Context, where string, args ...any) ([]*ticket.Incident, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []*ticket.Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// OpenIncidentByFingerprint finds the open incident that already holds an
// alert with this fingerprint.
func (tx *Tx) OpenIncidentByFingerprint(ctx context.Context, tenant, fp string) (*ticket.Incident, error) {
	if tx.primed != nil {
		if id, ok := tx.primed.fp[fpKey{tenant, fp}]; ok {
			if id == 0 {
				return nil, nil
			}
			if in, err := tx.primedIncident(ctx, tenant, id); !errors.Is(err, ErrNotFound) {
				return in, err
			}
		}
	}
	return tx.openIncidentByKey(ctx, "fp", tenant, fp, 0)
}

// OpenIncidentByHost finds the newest open incident with an alert on the
// host seen since the given time.
func (tx *Tx) OpenIncidentByHost(ctx context.Context, tenant, hostKey string, since time.Time) (*ticket.Incident, error) {
	if tx.primed != nil {
		if id, ok := tx.primed.hostIncident(tenant, hostKey, micros(since)); ok {
			if id == 0 {
				return nil, nil
			}
			if in, err := tx.primedIncident(ctx, tenant, id); !errors.Is(err, ErrNotFound) {
				return in, err
			}
			// Not this tenant's: ask the database, which filters on tenant.
		}
	}
	return tx.openIncidentByKey(ctx, "host", tenant, hostKey, micros(since))
}

// openIncidentByKey returns the newest open incident holding an alert with
// this fingerprint or on this host, received since the given time, from
// the incident_keys rollup.
func (tx *Tx) openIncidentByKey(ctx context.Context, kind, tenant, key string, since int64) (*ticket.Incident, error) {
	if err := tx.flushRollups(ctx); err != nil {
		return nil, err
	}
	return tx.oneIncident(ctx, `SELECT `+prefixed("i.", incidentCols)+` FROM incidents i
		JOIN incident_keys k ON k.incident_id = i.id
		WHERE k.tenant=$1 AND k.kind=$2 AND k.key=$3 AND k.latest >= $4 AND i.tenant=$1 AND i.status='open'
		ORDER BY i.id DESC LIMIT 1`, tenant, kind, key, since)
}

// OpenIncidentByHash finds an open incident holding an alert with this
// SHA-256 on another host, seen since the given time (lateral spread).
func (tx *Tx) OpenIncidentByHash(ctx context.Context, tenant, sha256, hostKey string, since time.Time) (*ticket.Incident, error) {
	if tx.primed != nil && sha256 != "" {
		if id, ok := tx.primed.hashIncident(tenant, sha256, hostKey, micros(since)); ok {
			if id == 0 {
				return nil, nil
			}
			if in, err := tx.primedIncident(ctx, tenant, id); !errors.Is(err, ErrNotFound) {
				return in, err
			}
		}
	}
	if sha256 == "" {
		return nil, nil
	}
	if err := tx.flushRollups(ctx); err != nil {
		return nil, err
	}
	return tx.oneIncident(ctx, `SELECT `+prefixed("i.", incidentCols)+` FROM incidents i
		JOIN hash_hosts h ON h.incident_id = i.id
		WHERE h.tenant=$1 AND h.sha256=$2 AND h.host_key <> $3 AND h.latest >= $4 AND i.tenant=$1 AND i.status='open'
		ORDER BY i.id DESC LIMIT 1`, tenant, sha256, hostKey, micros(since))
}

func (tx *Tx) oneIncident(ctx context.Context, q string, args ...any) (*ticket.Incident, error) {
	in, err := scanIncident(tx.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // absence is an answer here, not an error: the caller opens a new incident
	}
	// The lookups filter on alerts and on status, which triage never
	// changes, so a kept update cannot change which incident is found.
	return tx.behind.latest(in), err
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// AddNote appends a line to an incident's history.
func (tx *Tx) AddNote(ctx context.Context, tenant string, incidentID int64, n ticket.Note) error {
	if tx.primed != nil {
		// In a triage batch notes wait for commit with the other rows.
		tx.behind.notes = append(tx.behind.notes, noteRow{tenant, incidentID, n})
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO notes (tenant, incident_id, at, author, text) VALUES ($1,$2,$3,$4,$5)`,
		tenant, incidentID, micros(n.At), n.Author, n.Text)
	if err != nil {
		return fmt.Errorf("add note: %w", err)
	}
	return nil
}

// Notes returns an incident's history, oldest first.
func (db *DB) Notes(ctx context.Context, tenant string, incidentID int64) ([]ticket.Note, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT at, author, text FROM notes WHERE tenant=$1 AND incident_id=$2 ORDER BY id`,
		tenant, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list notes: %w", err)
	}
	defer rows.Close()
	var out []ticket.Note
	for rows.Next() {
		var n ticket.Note
		var at int64
		if err := rows.Scan(&at, &n.Author, &n.Text); err != nil {
			return nil, err
		}
		n.At = fromMicros(at)
		out = append(out, n)
	}
	return out, rows.Err()
}
