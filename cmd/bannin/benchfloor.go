package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/app"
	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// floorBatch is the processor's live batch (intake's batchSize).
const floorBatch = 1024

// floor measures the writes that no pipeline on bannin's data path can
// skip, with no triage at all: the payloads are submitted through a
// committer from the same 8 clients as the pipeline's, and as they commit
// a loop claims them in batches, decodes them on every core, stores each
// alert's row and marks its inbox row done, one transaction per batch.
// Triage adds its read-ahead, rollups, incidents, notes, audit and jobs to
// this, so the floor over the baseline is the highest ratio the pipeline
// could reach on this machine and store.
func floor(ctx context.Context, kind, pgURL, dir string, payloads [][]byte, bar *progressbar.ProgressBar) (float64, error) {
	dsn, cleanup, err := benchStore(ctx, kind, pgURL, dir, "floor")
	if err != nil {
		return 0, err
	}
	defer cleanup()
	db, err := app.OpenStore(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
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

// floorStore claims, decodes and stores until n inbox rows are done.
func floorStore(ctx context.Context, db *sqlstore.DB, n int, wake <-chan struct{}, bar *progressbar.ProgressBar) error {
	for done := 0; done < n; {
		var claimed int
		err := db.InTx(ctx, func(tx *sqlstore.Tx) error {
			items, err := tx.ClaimPending(ctx, floorBatch)
			if err != nil || len(items) == 0 {
				return err
			}
			claimed = len(items)
			rows, err := floorDecode(items)
			if err != nil {
				return err
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
	return nil
}

// floorDecode decodes a batch on every core, as the processor does, into
// alert rows stamped with their inbox row.
func floorDecode(items []sqlstore.InboxItem) ([]sqlstore.AlertRow, error) {
	decoded := make([][]alert.Alert, len(items))
	errs := make([]error, len(items))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(items); i += workers {
				decoded[i], errs[i] = cs.Decoder{}.Decode(items[i].Payload)
			}
		})
	}
	wg.Wait()
	var rows []sqlstore.AlertRow
	for i, it := range items {
		if errs[i] != nil {
			return nil, fmt.Errorf("decode inbox %d: %w", it.ID, errs[i])
		}
		for _, a := range decoded[i] {
			a.Tenant, a.Source, a.Received = it.Tenant, it.Source, it.ReceivedAt
			rows = append(rows, sqlstore.AlertRow{InboxID: it.ID, Disposition: sqlstore.DispositionLow, Alert: a})
		}
	}
	return rows, nil
}
