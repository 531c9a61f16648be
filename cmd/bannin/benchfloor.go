package main

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/bannin-soc/bannin/internal/alert"
	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/parallel"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// floorBatch is the processor's live batch (intake's batchSize).
const floorBatch = 1024

// floor measures the writes that no pipeline on bannin's data path can
// skip, with no triage at all: the payloads are submitted through a
// committer from the same 8 clients as the pipeline's, and as they commit
// a loop claims them in batches, decodes them on every core (the next
// batch while this one is written), stores each alert's row and marks its
// inbox row done, one transaction per batch.
// Triage adds its read-ahead, rollups, incidents, notes, audit and jobs to
// this, so the floor over the baseline estimates the highest ratio the
// pipeline could reach, with this batch size, on this machine and store.
func floor(ctx context.Context, kind, pgURL, dir string, payloads [][]byte, bar *progressbar.ProgressBar) (float64, error) {
	db, done, err := openBenchStore(ctx, kind, pgURL, dir, "floor")
	if err != nil {
		return 0, err
	}
	defer done()
	wake := make(chan struct{}, 1)
	cctx, cancel := context.WithCancel(ctx)
	c := intake.NewCommitter(cctx, db, intake.CommitterOptions{OnCommit: func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}})
	defer func() { cancel(); c.Wait() }()
	start := time.Now()
	stored := make(chan error, 1)
	go func() { stored <- floorStore(cctx, db, len(payloads), wake, bar) }()
	if err := submitAll(ctx, c.Submit, "bench", payloads); err != nil {
		cancel()
		<-stored
		return 0, err
	}
	if err := <-stored; err != nil {
		return 0, err
	}
	return float64(len(payloads)) / time.Since(start).Seconds(), nil
}

// floorStore claims, decodes and stores until n inbox rows are done. Like
// the processor on SQLite, it decodes the next batch's pending rows in the
// background while the store writes this one, so the one connection is not
// held while decoding.
func floorStore(ctx context.Context, db *sqlstore.DB, n int, wake <-chan struct{}, bar *progressbar.ProgressBar) error {
	var ahead chan map[int64][]alert.Alert // the next batch, decoded, by inbox id
	for done := 0; done < n; {
		var claimed int
		err := db.InTx(ctx, func(tx *sqlstore.Tx) error {
			items, err := tx.ClaimPending(ctx, floorBatch)
			if err != nil || len(items) == 0 {
				return err
			}
			claimed = len(items)
			var ready map[int64][]alert.Alert
			if ahead != nil {
				ready, ahead = <-ahead, nil
			}
			rows, err := floorRows(items, ready)
			if err != nil {
				return err
			}
			next, err := tx.PeekPending(ctx, items[len(items)-1].ID, floorBatch)
			if err != nil {
				return err
			}
			if len(next) > 0 {
				ahead = make(chan map[int64][]alert.Alert, 1)
				go func(out chan<- map[int64][]alert.Alert) {
					m := map[int64][]alert.Alert{}
					if decoded, err := floorDecode(next); err == nil { // an error is met again when the rows are claimed
						for i, it := range next {
							m[it.ID] = decoded[i]
						}
					}
					out <- m
				}(ahead)
			}
			if err := tx.InsertAlertsBare(ctx, rows); err != nil {
				return err
			}
			for _, it := range items {
				if err := tx.FinishInbox(ctx, it.ID, sqlstore.InboxDone, "", it.ReceivedAt); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		if claimed == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wake:
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		done += claimed
		if bar != nil {
			bar.Add(claimed)
		}
	}
	if ahead != nil {
		<-ahead
	}
	return nil
}

// floorRows turns a claimed batch into alert rows stamped with their inbox
// row, taking the alerts decoded ahead and decoding the rest.
func floorRows(items []sqlstore.InboxItem, ready map[int64][]alert.Alert) ([]sqlstore.AlertRow, error) {
	var missing []sqlstore.InboxItem
	for _, it := range items {
		if _, ok := ready[it.ID]; !ok {
			missing = append(missing, it)
		}
	}
	if len(missing) > 0 {
		decoded, err := floorDecode(missing)
		if err != nil {
			return nil, err
		}
		if ready == nil {
			ready = map[int64][]alert.Alert{}
		}
		for i, it := range missing {
			ready[it.ID] = decoded[i]
		}
	}
	var rows []sqlstore.AlertRow
	for _, it := range items {
		for _, a := range ready[it.ID] {
			a.Tenant, a.Source, a.Received = it.Tenant, it.Source, it.ReceivedAt
			rows = append(rows, sqlstore.AlertRow{InboxID: it.ID, Disposition: sqlstore.DispositionLow, Alert: a})
		}
	}
	return rows, nil
}

// floorDecode decodes a batch on every core, as the processor does.
func floorDecode(items []sqlstore.InboxItem) ([][]alert.Alert, error) {
	decoded := make([][]alert.Alert, len(items))
	errs := make([]error, len(items))
	parallel.For(len(items), 16, func(i int) { decoded[i], errs[i] = cs.Decoder{}.Decode(items[i].Payload) })
	for i, it := range items {
		if errs[i] != nil {
			return nil, fmt.Errorf("decode inbox %d: %w", it.ID, errs[i])
		}
	}
	return decoded, nil
}
