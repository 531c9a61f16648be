package sqlstore

import (
	"context"
	"fmt"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Rollups (migration 00005) are kept with the transaction's deferred writes
// and written before anything in the transaction reads them.

type keyRow struct {
	tenant, kind, key string
	incident          int64
}

type sightingRow struct {
	tenant, pattern, host string
	day                   int64
}

// rollupAlert notes what a stored alert adds to the rollups.
func (b *behind) rollupAlert(r *AlertRow) {
	a := &r.Alert
	at := micros(a.Received)
	host := alert.HostKey(a.Host)
	if r.IncidentID != 0 {
		if b.keys == nil {
			b.keys = map[keyRow]int64{}
		}
		for _, k := range []keyRow{{a.Tenant, "fp", a.Fingerprint(), r.IncidentID}, {a.Tenant, "host", host, r.IncidentID}} {
			b.keys[k] = max(b.keys[k], at)
		}
	}
	if b.sightings == nil {
		b.sightings = map[sightingRow]int64{}
	}
	s := sightingRow{a.Tenant, a.Pattern(), host, at / microsPerDay}
	b.sightings[s] = max(b.sightings[s], at)
}

// flushRollups upserts the noted rollup rows, keeping the later receipt.
func (tx *Tx) flushRollups(ctx context.Context) error {
	if len(tx.behind.keys) > 0 {
		rows := make([][]any, 0, len(tx.behind.keys))
		for k, at := range tx.behind.keys {
			rows = append(rows, []any{k.tenant, k.kind, k.key, k.incident, at})
		}
		if err := tx.upsertMax(ctx, "incident_keys", "tenant, kind, key, incident_id", "latest", rows); err != nil {
			return err
		}
		tx.behind.keys = nil
	}
	if len(tx.behind.sightings) > 0 {
		rows := make([][]any, 0, len(tx.behind.sightings))
		for s, at := range tx.behind.sightings {
			rows = append(rows, []any{s.tenant, s.pattern, s.host, s.day, at})
		}
		if err := tx.upsertMax(ctx, "pattern_sightings", "tenant, pattern, host_key, day", "latest", rows); err != nil {
			return err
		}
		tx.behind.sightings = nil
	}
	return nil
}

// upsertMax inserts rows (the key columns, then the value column) and, for
// a key already there, keeps the larger value.
func (tx *Tx) upsertMax(ctx context.Context, table, keyCols, valCol string, rows [][]any) error {
	tail := fmt.Sprintf(" ON CONFLICT (%s) DO UPDATE SET %s = CASE WHEN excluded.%s > %s.%s THEN excluded.%s ELSE %s.%s END",
		keyCols, valCol, valCol, table, valCol, valCol, table, valCol)
	if err := tx.execRows(ctx, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES ", table, keyCols, valCol), rows, tail, nil); err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	return nil
}
