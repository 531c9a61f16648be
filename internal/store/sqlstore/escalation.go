package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/ticket"
)

// customerVias are the channels whose acknowledgements come from the
// tenant's contacts rather than from the SOC's own console, API or CLI.
var customerVias = map[string]bool{"email": true, "slack": true, "phone": true, "webhook": true}

// Acknowledge records that someone has taken an incident in hand. The
// first acknowledgement wins: a later one changes nothing and returns the
// first with fresh false. It is noted on the incident (ja/en) and audited.
// By the SOC (console, api, cli) it is the first response and stops that
// clock; by a contact (email, slack) it is audited as CustomerActor+by and
// stops only the chain.
func (db *DB) Acknowledge(ctx context.Context, tenant string, incidentID int64, by, via string, at time.Time) (ack *Ack, fresh bool, err error) {
	by = strings.TrimSpace(by)
	if by == "" {
		return nil, false, fmt.Errorf("%w: an acknowledgement needs the name of who acknowledges", ErrConflict)
	}
	err = db.InTx(ctx, func(tx *Tx) error {
		in, err := tx.Incident(ctx, tenant, incidentID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO incident_acks (tenant, incident_id, at, by_whom, via)
			VALUES ($1,$2,$3,$4,$5) ON CONFLICT (tenant, incident_id) DO NOTHING`, tenant, incidentID, micros(at), by, via)
		if err != nil {
			return fmt.Errorf("acknowledge %s: %w", in.Ref, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			ack, err = incidentAck(ctx, tx, tenant, incidentID)
			return err
		}
		ack, fresh = &Ack{At: at, By: by, Via: via}, true
		text := fmt.Sprintf("%s が確認しました（%s）。エスカレーションを停止します / acknowledged by %s (%s); escalation stopped",
			by, via, by, via)
		if err := tx.AddNote(ctx, tenant, incidentID, ticket.Note{At: at, Author: by, Text: text}); err != nil {
			return err
		}
		actor := by
		if customerVias[via] {
			actor = CustomerActor + by
		}
		return tx.Audit(ctx, AuditEntry{Tenant: tenant, At: at, Actor: actor, Action: "incident.acknowledged",
			Object: in.Ref, Detail: "via " + via})
	})
	return ack, fresh, err
}

// IncidentAck returns an incident's acknowledgement, or nil.
func (db *DB) IncidentAck(ctx context.Context, tenant string, incidentID int64) (*Ack, error) {
	return incidentAck(ctx, db.sql, tenant, incidentID)
}

// IncidentAck returns an incident's acknowledgement as the transaction
// sees it, or nil.
func (tx *Tx) IncidentAck(ctx context.Context, tenant string, incidentID int64) (*Ack, error) {
	return incidentAck(ctx, tx, tenant, incidentID)
}

func incidentAck(ctx context.Context, q queryer, tenant string, incidentID int64) (*Ack, error) {
	var a Ack
	var at int64
	err := q.QueryRowContext(ctx, `SELECT at, by_whom, via FROM incident_acks WHERE tenant=$1 AND incident_id=$2`,
		tenant, incidentID).Scan(&at, &a.By, &a.Via)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acknowledgement: %w", err)
	}
	a.At = fromMicros(at)
	return &a, nil
}

// Unacknowledged lists a tenant's open incidents that need a human, are not
// false positives, were first notified at or after since, and nobody has
// acknowledged.
func (db *DB) Unacknowledged(ctx context.Context, tenant string, since time.Time) ([]*Chained, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+prefixed("i.", incidentCols)+`, s.start FROM incidents i
		JOIN (SELECT incident_id, MIN(created_at) AS start FROM notifications WHERE tenant=$1 AND kind='first'
			AND created_at >= $2 GROUP BY incident_id) s ON s.incident_id = i.id
		WHERE i.tenant=$1 AND i.status='open' AND i.needs_human=1 AND i.verdict <> 'false_positive'
		AND NOT EXISTS (SELECT 1 FROM incident_acks k WHERE k.tenant=i.tenant AND k.incident_id=i.id)
		ORDER BY i.id`, tenant, micros(since))
	if err != nil {
		return nil, fmt.Errorf("unacknowledged incidents: %w", err)
	}
	var out []*Chained
	byID := map[int64]*Chained{}
	for rows.Next() {
		var start int64
		in, err := scanIncident(scanTail{rows, &start})
		if err != nil {
			rows.Close()
			return nil, err
		}
		c := &Chained{Incident: in, Start: fromMicros(start), Taken: map[int]bool{}}
		out = append(out, c)
		byID[in.ID] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	steps, err := db.sql.QueryContext(ctx, `SELECT incident_id, round, step FROM escalation_steps WHERE tenant=$1
		AND incident_id >= $2`, tenant, out[0].Incident.ID)
	if err != nil {
		return nil, fmt.Errorf("escalation steps: %w", err)
	}
	defer steps.Close()
	for steps.Next() {
		var id int64
		var round, step int
		if err := steps.Scan(&id, &round, &step); err != nil {
			return nil, err
		}
		if c := byID[id]; c != nil {
			c.Taken[StepKey(round, step)] = true
		}
	}
	return out, steps.Err()
}

// scanTail scans an incident row followed by extra columns.
type scanTail struct {
	rows  *sql.Rows
	extra *int64
}

func (s scanTail) Scan(dst ...any) error { return s.rows.Scan(append(dst, s.extra)...) }

// TakeStep claims one step of an incident's chain. It returns false when
// the step was taken already (by an earlier sweep or another node): the
// caller then does nothing, so a step never notifies twice.
func (tx *Tx) TakeStep(ctx context.Context, tenant string, incidentID int64, s EscalationStep) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO escalation_steps (tenant, incident_id, round, step, due_at, fired_at, outcome)
		VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (tenant, incident_id, round, step) DO NOTHING`,
		tenant, incidentID, s.Round, s.Step, micros(s.Due), micros(s.Fired), s.Outcome)
	if err != nil {
		return false, fmt.Errorf("escalation step: %w", err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// EscalationSteps lists the steps taken for an incident, in order.
func (db *DB) EscalationSteps(ctx context.Context, tenant string, incidentID int64) ([]EscalationStep, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT round, step, due_at, fired_at, outcome FROM escalation_steps
		WHERE tenant=$1 AND incident_id=$2 ORDER BY round, step`, tenant, incidentID)
	if err != nil {
		return nil, fmt.Errorf("escalation steps: %w", err)
	}
	defer rows.Close()
	var out []EscalationStep
	for rows.Next() {
		var s EscalationStep
		var due, fired int64
		if err := rows.Scan(&s.Round, &s.Step, &due, &fired, &s.Outcome); err != nil {
			return nil, err
		}
		s.Due, s.Fired = fromMicros(due), fromMicros(fired)
		out = append(out, s)
	}
	return out, rows.Err()
}

// TakeSignal claims a warning or breach; false means it was raised already.
func (tx *Tx) TakeSignal(ctx context.Context, tenant string, s Signal) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO slo_signals (tenant, object, clock, level, due_at, fired_at)
		VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (tenant, object, clock, level) DO NOTHING`,
		tenant, s.Object, s.Clock, s.Level, micros(s.Due), micros(s.Fired))
	if err != nil {
		return false, fmt.Errorf("SLO signal: %w", err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// Signals lists the warnings and breaches raised for a tenant's object
// ("" for all of the tenant's), oldest first.
func (db *DB) Signals(ctx context.Context, tenant, object string) ([]Signal, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT object, clock, level, due_at, fired_at FROM slo_signals
		WHERE tenant=$1 AND ($2='' OR object=$2) ORDER BY fired_at, object, clock, level`, tenant, object)
	if err != nil {
		return nil, fmt.Errorf("SLO signals: %w", err)
	}
	defer rows.Close()
	var out []Signal
	for rows.Next() {
		var s Signal
		var due, fired int64
		if err := rows.Scan(&s.Object, &s.Clock, &s.Level, &due, &fired); err != nil {
			return nil, err
		}
		s.Due, s.Fired = fromMicros(due), fromMicros(fired)
		out = append(out, s)
	}
	return out, rows.Err()
}

// FirstHumanActs returns, for each of a tenant's objects (INC-…, TKT-…),
// the time of the first audit entry by a person of the SOC (not bannin, not
// the customer's people, whose actors start with CustomerActor): the stop
// event of the first-response clock.
func (db *DB) FirstHumanActs(ctx context.Context, tenant string, objects []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := inLists(objects, tenant, func(in string, args []any) error {
		return eachFirst(ctx, db.sql, `SELECT object, MIN(at) FROM audit WHERE tenant=$1 AND object IN (`+in+`)
			AND actor <> 'bannin' AND actor <> '' AND actor NOT LIKE 'customer:%' GROUP BY object`, args,
			func(o string, at time.Time) { out[o] = at })
	})
	if err != nil {
		return nil, fmt.Errorf("first human actions: %w", err)
	}
	return out, nil
}

// inLists calls fn with "$2,$3,…" and the arguments (first) followed by
// up to 400 of xs at a time: an IN list that stays within both stores'
// parameter limits and cheap to parse.
func inLists[T any](xs []T, first any, fn func(in string, args []any) error) error {
	for len(xs) > 0 {
		n := min(len(xs), 400)
		args := []any{first}
		marks := make([]string, n)
		for i, x := range xs[:n] {
			args = append(args, x)
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		xs = xs[n:]
		if err := fn(strings.Join(marks, ","), args); err != nil {
			return err
		}
	}
	return nil
}

// eachFirst runs a query of (key, MIN(time)) rows and hands each to set.
func eachFirst[K any](ctx context.Context, q queryer, query string, args []any, set func(K, time.Time)) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k K
		var at int64
		if err := rows.Scan(&k, &at); err != nil {
			return err
		}
		set(k, fromMicros(at))
	}
	return rows.Err()
}

// OpenNeedingHuman lists a tenant's open incidents that need a human, are
// not false positives, and were first seen at or after since: those whose
// clocks may be running.
func (db *DB) OpenNeedingHuman(ctx context.Context, tenant string, since time.Time) ([]*ticket.Incident, error) {
	return db.incidentsWhere(ctx, `tenant=$1 AND status='open' AND needs_human=1 AND verdict <> 'false_positive'
		AND first_seen >= $2 ORDER BY id`, tenant, micros(since))
}

// ClockStops reads the stop events of a tenant's incidents, a few hundred
// per statement.
func (db *DB) ClockStops(ctx context.Context, tenant string, ids []int64) (map[int64]ClockStop, error) {
	out := map[int64]ClockStop{}
	err := inLists(ids, tenant, func(in string, args []any) error {
		err := eachFirst(ctx, db.sql, `SELECT incident_id, MIN(sent_at) FROM notifications WHERE tenant=$1 AND state='sent'
			AND kind IN ('first','update','escalation') AND incident_id IN (`+in+`) GROUP BY incident_id`, args,
			func(id int64, at time.Time) { c := out[id]; c.Sent = at; out[id] = c })
		if err != nil {
			return err
		}
		return eachFirst(ctx, db.sql, `SELECT incident_id, MIN(updated_at) FROM actions WHERE tenant=$1 AND kind='isolate'
			AND state='done' AND incident_id IN (`+in+`) GROUP BY incident_id`, args,
			func(id int64, at time.Time) { c := out[id]; c.Isolated = at; out[id] = c })
	})
	if err != nil {
		return nil, fmt.Errorf("clock stops: %w", err)
	}
	return out, nil
}

// IsolatedElsewhere returns the ref of another open incident of the tenant,
// not a false positive, whose isolation of the host is done and not
// released (by it, or by a later release of any incident); "" if none.
func (tx *Tx) IsolatedElsewhere(ctx context.Context, tenant, hostKey string, incidentID int64) (string, error) {
	var other int64
	err := tx.QueryRowContext(ctx, `SELECT a.incident_id FROM actions a JOIN incidents i ON i.id = a.incident_id
		WHERE a.tenant=$1 AND a.host_key=$2 AND a.incident_id <> $3 AND a.kind='isolate' AND a.state='done'
		AND i.status='open' AND i.verdict <> 'false_positive'
		AND NOT EXISTS (SELECT 1 FROM actions r WHERE r.tenant=a.tenant AND r.host_key=a.host_key AND r.kind='release'
			AND r.state IN ('requested','done') AND r.id > a.id)
		ORDER BY a.id DESC LIMIT 1`, tenant, hostKey, incidentID).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("isolations of %s: %w", hostKey, err)
	}
	return ticket.RefFor(other), nil
}
