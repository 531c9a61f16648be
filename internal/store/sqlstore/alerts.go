package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/parallel"
)

// AlertRow is a decoded alert as stored, with what triage did with it.
type AlertRow struct {
	ID          int64
	InboxID     int64
	IncidentID  int64 // 0 when the alert joined no incident
	Disposition string
	Reason      string
	Score       int
	// NoSpread keeps the alert's hash out of lateral-spread lookups: triage
	// sets it when the product stopped the program or rates it low, so that
	// a blocked adware hash never links unrelated hosts.
	NoSpread bool
	Alert    alert.Alert
}

// Alert dispositions.
const (
	DispositionNew        = "new"        // opened an incident
	DispositionGrouped    = "grouped"    // joined an open incident (same host or spread)
	DispositionFolded     = "folded"     // the same event again (fingerprint)
	DispositionSuppressed = "suppressed" // allowlisted or a rule suppressed it
	DispositionLow        = "low"        // below attention, kept for the monthly report
)

// AlertSeen reports whether this vendor alert was already stored (the same
// alert delivered twice, e.g. by the poller and the webhook).
func (tx *Tx) AlertSeen(ctx context.Context, tenant, source, vendorID string) (bool, error) {
	if tx.primed != nil {
		if seen, ok := tx.primed.seen[seenKey{tenant, source, vendorID}]; ok {
			return seen, nil
		}
	}
	if err := tx.flushAlerts(ctx); err != nil {
		return false, err
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE tenant=$1 AND source=$2 AND vendor_id=$3`,
		tenant, source, vendorID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("alert seen: %w", err)
	}
	return true, nil
}

const alertCols = `tenant, source, vendor, vendor_id, inbox_id, incident_id,
	disposition, fingerprint, pattern, host_key, sha256, score, reason, event_time, received_at, data`

// alertValues are an alert row's values in alertCols' order.
func alertValues(r *AlertRow) ([]any, error) {
	vals := alertKeys(r)
	data, err := json.Marshal(&r.Alert)
	if err != nil {
		return nil, fmt.Errorf("encode alert: %w", err)
	}
	vals[len(vals)-1] = string(data)
	return vals, nil
}

// alertKeys are alertValues without the last, the alert's JSON (data).
func alertKeys(r *AlertRow) []any {
	a := &r.Alert
	hash := a.SuspiciousHash()
	if r.NoSpread {
		hash = ""
	}
	var inc any
	if r.IncidentID != 0 {
		inc = r.IncidentID
	}
	return []any{a.Tenant, a.Source, a.Vendor, a.VendorID, r.InboxID, inc, r.Disposition, a.Fingerprint(), a.Pattern(),
		alert.HostKey(a.Host), hash, r.Score, r.Reason, micros(a.EventTime), micros(a.Received), nil}
}

// keepAlert keeps an alert row for the batch's multi-row insert at commit.
// Its JSON is encoded then, on every core (flushAlerts), from a copy taken
// now: the encoding is a good part of a triaged alert's cost, and triage
// holds the transaction (on SQLite the one connection) while it works.
func (b *behind) keepAlert(r *AlertRow) {
	a := r.Alert
	b.alerts = append(b.alerts, alertKeys(r))
	b.alertData = append(b.alertData, &a)
}

// InsertAlert stores a decoded alert and sets its ID.
//
// In a triage batch (a primed transaction) the row is written at commit
// with the batch's other alerts, in multi-row statements, and its ID stays
// 0; reads of the alerts table in the transaction write the kept rows first.
func (tx *Tx) InsertAlert(ctx context.Context, r *AlertRow) error {
	a := &r.Alert
	if tx.primed != nil {
		tx.behind.keepAlert(r)
	} else {
		vals, err := alertValues(r)
		if err != nil {
			return err
		}
		id, err := insertID(ctx, tx, `INSERT INTO alerts (`+alertCols+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`, vals...)
		if err != nil {
			return fmt.Errorf("insert alert %s: %w", a.VendorID, err)
		}
		r.ID = id
	}
	tx.noteHostIPs(a)
	tx.behind.rollupAlert(r)
	if tx.primed != nil {
		tx.primed.sawAlert(r)
	}
	return nil
}

// Prevalence counts, over alerts of a tenant since a time, the distinct hosts
// and distinct UTC days on which a pattern fired.
func (tx *Tx) Prevalence(ctx context.Context, tenant, pattern string, since time.Time) (hosts, days int, err error) {
	// From the pattern_hosts and pattern_days rollups: a host (a day)
	// counts when its latest sighting is recent enough. A day whose latest
	// sighting is at or after since is not before since's own day.
	if err := tx.flushRollups(ctx); err != nil {
		return 0, 0, err
	}
	err = tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM pattern_hosts WHERE tenant=$1 AND pattern=$2 AND latest >= $3),
		(SELECT COUNT(*) FROM pattern_days WHERE tenant=$1 AND pattern=$2 AND day >= $4 AND latest >= $3)`,
		tenant, pattern, micros(since), micros(since)/microsPerDay).Scan(&hosts, &days)
	if err != nil {
		return 0, 0, fmt.Errorf("prevalence: %w", err)
	}
	return hosts, days, nil
}

// PrevalenceWith is Prevalence counting one more sighting — the alert being
// judged, on host at time at — without counting its host or day twice.
func (tx *Tx) PrevalenceWith(ctx context.Context, tenant, pattern string, since time.Time, host string, at time.Time) (hosts, days int, err error) {
	if tx.primed != nil {
		if h, d, ok := tx.primed.prevalence(tenant, pattern, micros(since), host, micros(at)); ok {
			return h, d, nil
		}
	}
	if err := tx.flushRollups(ctx); err != nil {
		return 0, 0, err
	}
	err = tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM pattern_hosts WHERE tenant=$1 AND pattern=$2 AND latest >= $3 AND host_key <> $4) + 1,
		(SELECT COUNT(*) FROM pattern_days WHERE tenant=$1 AND pattern=$2 AND day >= $6 AND latest >= $3 AND day <> $5) + 1`,
		tenant, pattern, micros(since), host, micros(at)/microsPerDay, micros(since)/microsPerDay).Scan(&hosts, &days)
	if err != nil {
		return 0, 0, fmt.Errorf("prevalence: %w", err)
	}
	return hosts, days, nil
}

// IncidentAlerts returns the alerts of an incident, oldest first.
func (db *DB) IncidentAlerts(ctx context.Context, tenant string, incidentID int64) ([]AlertRow, error) {
	return alertRows(ctx, db.sql, `WHERE tenant=$1 AND incident_id=$2 ORDER BY id`, tenant, incidentID)
}

// IncidentAlerts returns the alerts of an incident inside the transaction.
func (tx *Tx) IncidentAlerts(ctx context.Context, tenant string, incidentID int64) ([]AlertRow, error) {
	if err := tx.flushAlerts(ctx); err != nil {
		return nil, err
	}
	return alertRows(ctx, tx, `WHERE tenant=$1 AND incident_id=$2 ORDER BY id`, tenant, incidentID)
}

// DispositionCounts counts a tenant's alerts per disposition.
func (db *DB) DispositionCounts(ctx context.Context, tenant string) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT disposition, COUNT(*) FROM alerts WHERE tenant=$1 GROUP BY disposition`, tenant)
	if err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out[d] = n
	}
	return out, rows.Err()
}

func alertRows(ctx context.Context, q queryer, where string, args ...any) ([]AlertRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, inbox_id, incident_id, disposition, reason, score, data FROM alerts `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertRow
	for rows.Next() {
		var r AlertRow
		var inc sql.NullInt64
		var data string
		if err := rows.Scan(&r.ID, &r.InboxID, &inc, &r.Disposition, &r.Reason, &r.Score, &data); err != nil {
			return nil, err
		}
		r.IncidentID = inc.Int64
		if err := json.Unmarshal([]byte(data), &r.Alert); err != nil {
			return nil, fmt.Errorf("alert %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// IncidentVendors lists, per incident of a tenant, the vendors whose alerts
// it holds (sorted), in one query.
func (db *DB) IncidentVendors(ctx context.Context, tenant string) (map[int64][]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT DISTINCT incident_id, vendor FROM alerts
		WHERE tenant=$1 AND incident_id IS NOT NULL ORDER BY incident_id, vendor`, tenant)
	if err != nil {
		return nil, fmt.Errorf("incident vendors: %w", err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = append(out[id], v)
	}
	return out, rows.Err()
}

// flushAlerts writes the alerts kept for commit (see InsertAlert).
func (tx *Tx) flushAlerts(ctx context.Context) error {
	rows, data := tx.behind.alerts, tx.behind.alertData
	tx.behind.alerts, tx.behind.alertData = nil, nil
	if err := encodeAlerts(rows, data); err != nil {
		return err
	}
	if err := tx.execRows(ctx, "INSERT INTO alerts ("+alertCols+") VALUES ", rows, "", nil); err != nil {
		return fmt.Errorf("insert alerts: %w", err)
	}
	return nil
}

// InsertAlertsBare keeps alert rows exactly as given, to be written at
// commit in the batch's multi-row statements, without what triage keeps
// beside an alert (rollups, host addresses, the read-ahead). Only `bannin
// bench ingest` uses it, for its floor: the writes that any pipeline on
// bannin's data path (raw payload in the inbox, then a stored alert, then
// the inbox row done) cannot skip.
func (tx *Tx) InsertAlertsBare(ctx context.Context, rows []AlertRow) error {
	for i := range rows {
		tx.behind.keepAlert(&rows[i])
	}
	return nil
}

// encodeAlerts sets each kept row's last value to its alert's JSON, on
// every core for a large batch.
func encodeAlerts(rows [][]any, data []*alert.Alert) error {
	errs := make([]error, len(data))
	parallel.For(len(data), 64, func(i int) {
		b, err := json.Marshal(data[i])
		if err != nil {
			errs[i] = fmt.Errorf("encode alert %s: %w", data[i].VendorID, err)
			return
		}
		rows[i][len(rows[i])-1] = string(b)
	})
	return errors.Join(errs...)
}
