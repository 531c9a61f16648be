package sqlstore

import (
	"context"
	"fmt"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Rollups (migrations 00005, 00011 and 00012) are kept with the transaction's deferred writes
// and written before anything in the transaction reads them.

type keyRow struct {
	tenant, kind, key string
	incident          int64
}

type patHost struct{ tenant, pattern, host string }

type hashHost struct {
	tenant, sha256, host string
	incident             int64
}

type patDay struct {
	tenant, pattern string
	day             int64
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
		if h := a.SuspiciousHash(); h != "" && !r.NoSpread {
			if b.hashHosts == nil {
				b.hashHosts = map[hashHost]int64{}
			}
			k := hashHost{a.Tenant, h, host, r.IncidentID}
			b.hashHosts[k] = max(b.hashHosts[k], at)
		}
	}
	if b.patHosts == nil {
		b.patHosts, b.patDays = map[patHost]int64{}, map[patDay]int64{}
	}
	h, d := patHost{a.Tenant, a.Pattern(), host}, patDay{a.Tenant, a.Pattern(), at / microsPerDay}
	b.patHosts[h] = max(b.patHosts[h], at)
	b.patDays[d] = max(b.patDays[d], at)
}

// flushRollups upserts the noted rollup rows, keeping the later receipt.
func (tx *Tx) flushRollups(ctx context.Context) error {
	b := &tx.behind
	if err := upsertLatest(ctx, tx, "incident_keys", "tenant, kind, key, incident_id", b.keys,
		func(k keyRow) []any { return []any{k.tenant, k.kind, k.key, k.incident} }); err != nil {
		return err
	}
	if err := upsertLatest(ctx, tx, "hash_hosts", "tenant, sha256, host_key, incident_id", b.hashHosts,
		func(k hashHost) []any { return []any{k.tenant, k.sha256, k.host, k.incident} }); err != nil {
		return err
	}
	if err := upsertLatest(ctx, tx, "pattern_hosts", "tenant, pattern, host_key", b.patHosts,
		func(k patHost) []any { return []any{k.tenant, k.pattern, k.host} }); err != nil {
		return err
	}
	if err := upsertLatest(ctx, tx, "pattern_days", "tenant, pattern, day", b.patDays,
		func(k patDay) []any { return []any{k.tenant, k.pattern, k.day} }); err != nil {
		return err
	}
	b.keys, b.hashHosts, b.patHosts, b.patDays = nil, nil, nil, nil
	return nil
}

// upsertLatest writes one rollup's noted rows (key → latest receipt): the
// key's columns, as key lists them, then latest.
func upsertLatest[K comparable](ctx context.Context, tx *Tx, table, keyCols string, m map[K]int64, key func(K) []any) error {
	if len(m) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(m))
	for k, at := range m {
		rows = append(rows, append(key(k), at))
	}
	return tx.upsertMax(ctx, table, keyCols, "latest", rows)
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
