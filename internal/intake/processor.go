package intake

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/parallel"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/triage"
)

// SourceInfo is what intake needs to know about one source of one tenant.
type SourceInfo struct {
	Tenant  *triage.Tenant
	Vendor  string
	Decoder connector.Decoder
	Secret  []byte // webhook secret; nil when the webhook is not enabled
}

// Directory resolves tenants and their sources.
type Directory interface {
	Source(tenant, source string) (SourceInfo, error)
}

// ErrUnknown is returned by a Directory for an unknown tenant or source.
var ErrUnknown = errors.New("unknown tenant or source")

// JobInserter queues jobs in a transaction.
type JobInserter interface {
	Insert(ctx context.Context, tx *sql.Tx, args ...river.JobArgs) error
}

// Stats counts what the processor did, for replay output and the demo:
// Received, Accepted and Quarantined count payloads; Duplicates (the same
// alert again, or the same event folded) and Suppressed count alerts.
type Stats struct {
	Received, Accepted, Duplicates, Quarantined, Suppressed int
}

// Processor decodes and triages inbox rows in batches, each batch in one
// transaction with the jobs it causes.
type Processor struct {
	db      *sqlstore.DB
	dir     Directory
	jobs    JobInserter
	log     *slog.Logger
	wake    chan struct{}
	batch   atomic.Int64 // inbox rows per batch, at most
	current int64        // the inbox row being triaged, for isolatePoison
	mu      sync.Mutex
	stats   Stats
	observe func(triage.Outcome)
	// stepping counts Steps under way: a batch's commit and the update of
	// stats that follows it are one step for those who wait for quiet.
	stepping atomic.Int32
	// ahead is the next batch being decoded while this one is triaged
	// (see decodeAhead); only Step touches it.
	ahead *ahead
}

// ahead is a batch of inbox rows decoded in the background. Decoding is
// pure CPU and a batch's statements wait for all of it, so decoding the
// next batch while the store works on this one takes it off the path that
// holds the transaction (on SQLite: the one connection that intake's group
// commits also wait for).
type ahead struct {
	done chan struct{}
	rows map[int64]decodedRow // by inbox id
}

// Stepping reports whether a batch is being processed, its stats not yet
// counted. Wait for it after seeing no pending rows, so that Stats include
// every row the store shows as done.
func (p *Processor) Stepping() bool { return p.stepping.Load() > 0 }

// NewProcessor builds a processor. observe, if set, sees every outcome
// (after its transaction committed is not guaranteed: use it for progress only).
func NewProcessor(db *sqlstore.DB, dir Directory, j JobInserter, log *slog.Logger, observe func(triage.Outcome)) *Processor {
	if log == nil {
		log = slog.Default()
	}
	p := &Processor{db: db, dir: dir, jobs: j, log: log, wake: make(chan struct{}, 1), observe: observe}
	p.batch.Store(batchSize)
	return p
}

// SetBatch changes how many inbox rows a batch takes at most. Replay,
// which no webhook waits on, takes larger batches than live intake.
func (p *Processor) SetBatch(n int) { p.batch.Store(int64(max(n, 1))) }

// batchSize is how many inbox rows one triage batch takes at most: a
// batch's fixed costs (read-ahead, round trips, the commit's WAL flush) are
// paid over more rows. On SQLite a batch holds the only connection, and
// intake's group commits (the webhooks' 202s) wait for it; since the next
// batch is decoded while this one is written, 1,024 rows hold it about as
// long as 256 did (bench latency at 1,000/s: p99 37 ms either way) and the
// pipeline is about a fifth faster (docs/BENCHMARKS.md, 4th session).
const batchSize = 1024

// Wake tells the processor new rows are waiting.
func (p *Processor) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counts so far.
func (p *Processor) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Run processes until ctx ends. It polls every idle interval too, so rows
// inserted by other nodes are picked up.
func (p *Processor) Run(ctx context.Context, idle time.Duration) {
	failures := 0
	for ctx.Err() == nil {
		n, err := p.Step(ctx)
		if err != nil && failures >= 3 {
			err = p.isolatePoison(ctx, err)
		}
		if err != nil {
			failures++
			d := backoffDelay(failures, 50*time.Millisecond, 5*time.Second)
			p.log.Error("triage batch failed; will retry", "err", err, "retry_in", d)
			sleep(ctx, d)
			continue
		}
		failures = 0
		if n > 0 {
			continue
		}
		t := time.NewTimer(idle)
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// isolatePoison handles a batch that keeps failing while the store is
// healthy: it retries the oldest row alone and, if that fails with an error
// about the data itself (a value the database refuses), quarantines exactly
// that row with the error, so one payload that breaks triage cannot stop
// intake for everybody. `bannin quarantine retry` re-runs it after a fix.
// Any other failure (connection, lock, time-out) leaves every row pending.
func (p *Processor) isolatePoison(ctx context.Context, cause error) error {
	if !sqlstore.IsDataError(cause) {
		return cause
	}
	if err := p.db.SQL().PingContext(ctx); err != nil {
		return cause // the store is down: wait for it, quarantine nothing
	}
	saved := p.batch.Swap(1)
	p.current = 0
	_, err := p.Step(ctx)
	p.batch.Store(saved)
	if err == nil || !sqlstore.IsDataError(err) || p.current == 0 {
		return err
	}
	id := p.current
	return p.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		it, qerr := tx.PendingItem(ctx, id)
		if qerr != nil || it == nil {
			return qerr // another node took it meanwhile
		}
		var st Stats
		if qerr := p.quarantine(ctx, tx, *it, &st, "triage failed: "+err.Error()); qerr != nil {
			return qerr
		}
		p.mu.Lock()
		p.stats.Received++
		p.stats.Quarantined++
		p.mu.Unlock()
		return nil
	})
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Step processes one batch and returns how many inbox rows it finished.
func (p *Processor) Step(ctx context.Context) (int, error) {
	p.stepping.Add(1)
	defer p.stepping.Add(-1)
	var n int
	var delta Stats
	var outcomes []triage.Outcome
	err := p.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		delta, outcomes = Stats{}, nil
		items, err := tx.ClaimPending(ctx, int(p.batch.Load()))
		if err != nil || len(items) == 0 {
			return err
		}
		n = len(items)
		if err := lockTenants(ctx, tx, items); err != nil {
			return err
		}
		// Decode the whole batch first, so that what triage will ask of
		// the store is read ahead in a few statements (sqlstore.Prime).
		rows := p.decoded(items)
		if err := p.decodeAhead(ctx, tx, items[len(items)-1].ID); err != nil {
			return err
		}
		p.current = items[len(items)-1].ID // alone in a batch (isolatePoison), a read-ahead failure is this row's
		var all []alert.Alert
		for _, r := range rows {
			all = append(all, r.alerts...)
		}
		if err := tx.Prime(ctx, all, sqlstore.Windows{Prevalence: triage.PrevalenceWindow, Host: triage.HostWindow, Spread: triage.SpreadWindow}); err != nil {
			return err
		}
		var args []river.JobArgs
		for _, r := range rows {
			outs, err := p.one(ctx, tx, r, &delta)
			if err != nil {
				return err
			}
			for _, o := range outs {
				args = append(args, jobArgs(r.item.Tenant, o)...)
			}
			outcomes = append(outcomes, outs...)
		}
		return p.jobs.Insert(ctx, tx.SQL(), args...)
	})
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.stats.Received += delta.Received
	p.stats.Accepted += delta.Accepted
	p.stats.Duplicates += delta.Duplicates
	p.stats.Quarantined += delta.Quarantined
	p.stats.Suppressed += delta.Suppressed
	p.mu.Unlock()
	if p.observe != nil {
		for _, o := range outcomes {
			p.observe(o)
		}
	}
	return n, nil
}

// lockTenants takes the per-tenant locks of a batch in a fixed order, so two
// nodes never deadlock and never triage one tenant at once.
func lockTenants(ctx context.Context, tx *sqlstore.Tx, items []sqlstore.InboxItem) error {
	var ts []string
	for _, it := range items {
		ts = append(ts, it.Tenant)
	}
	slices.Sort(ts)
	for _, t := range slices.Compact(ts) {
		if err := tx.LockTenant(ctx, t); err != nil {
			return fmt.Errorf("lock tenant %s: %w", t, err)
		}
	}
	return nil
}

// decodedRow is an inbox row decoded, or the reason it cannot be.
type decodedRow struct {
	item   sqlstore.InboxItem
	src    SourceInfo
	alerts []alert.Alert
	bad    string // quarantine reason
}

// decoded returns the batch's rows decoded, taking those the background
// decode of the previous step has ready. A row counts as ready only when
// it is the same payload and its source resolves as it did then (a tenant
// file applied meanwhile decodes it again).
func (p *Processor) decoded(items []sqlstore.InboxItem) []decodedRow {
	a := p.ahead
	p.ahead = nil
	if a == nil {
		return p.decodeRows(items)
	}
	<-a.done
	rows := make([]decodedRow, len(items))
	var missing []int
	for i, it := range items {
		r, ok := a.rows[it.ID]
		if ok && r.item.Tenant == it.Tenant && r.item.Source == it.Source && r.item.ReceivedAt.Equal(it.ReceivedAt) &&
			bytes.Equal(r.item.Payload, it.Payload) && p.sameSource(r) {
			r.item = it
			rows[i] = r
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		rest := make([]sqlstore.InboxItem, len(missing))
		for j, i := range missing {
			rest[j] = items[i]
		}
		for j, r := range p.decodeRows(rest) {
			rows[missing[j]] = r
		}
	}
	return rows
}

// sameSource reports whether a row decoded ahead resolved its source as
// the directory resolves it now. A row whose source did not resolve then
// is decoded again, to say why in today's words.
func (p *Processor) sameSource(r decodedRow) bool {
	if r.src.Tenant == nil {
		return false
	}
	src, err := p.dir.Source(r.item.Tenant, r.item.Source)
	return err == nil && src.Tenant == r.src.Tenant && src.Vendor == r.src.Vendor
}

// decodeAhead starts decoding the pending rows after lastID (those the
// next step will most likely claim) in the background. Only on SQLite:
// there the processor is the only one, and its transaction holds the
// connection the group commits wait for. On PostgreSQL the rows after
// this batch may be another node's next batch, decoding waits for no one
// but this node, and bench ingest measured no gain (docs/BENCHMARKS.md).
func (p *Processor) decodeAhead(ctx context.Context, tx *sqlstore.Tx, lastID int64) error {
	if p.db.Dialect().Name != sqlstore.SQLite.Name {
		return nil
	}
	next, err := tx.PeekPending(ctx, lastID, int(p.batch.Load()))
	if err != nil || len(next) == 0 {
		return err
	}
	a := &ahead{done: make(chan struct{}), rows: make(map[int64]decodedRow, len(next))}
	p.ahead = a
	go func() {
		defer close(a.done)
		for i, r := range p.decodeRows(next) {
			a.rows[next[i].ID] = r
		}
	}()
	return nil
}

// decodeRows decodes a batch's rows on every core: decoding is pure CPU,
// and the batch's statements wait for all of it.
func (p *Processor) decodeRows(items []sqlstore.InboxItem) []decodedRow {
	rows := make([]decodedRow, len(items))
	parallel.For(len(items), 16, func(i int) { rows[i] = p.decodeRow(items[i]) })
	return rows
}

// decodeRow decodes one inbox row and stamps its alerts with where and
// when they came in.
func (p *Processor) decodeRow(it sqlstore.InboxItem) decodedRow {
	r := decodedRow{item: it}
	src, err := p.dir.Source(it.Tenant, it.Source)
	if err != nil {
		r.bad = err.Error()
		return r
	}
	r.src = src
	alerts, err := decodeAll(src.Decoder, it.Payload)
	if err != nil {
		r.bad = err.Error()
		return r
	}
	for i := range alerts {
		a := &alerts[i]
		a.Tenant, a.Source, a.Received = it.Tenant, it.Source, it.ReceivedAt
		if a.EventTime.IsZero() {
			a.EventTime = it.ReceivedAt // no readable time in the payload: take its receipt
		}
	}
	r.alerts = alerts
	return r
}

// one triages one decoded inbox row. Bad input is quarantined (an outcome,
// not an error); only store failures are errors.
func (p *Processor) one(ctx context.Context, tx *sqlstore.Tx, r decodedRow, st *Stats) ([]triage.Outcome, error) {
	it := r.item
	st.Received++
	p.current = it.ID
	if r.bad != "" {
		return nil, p.quarantine(ctx, tx, it, st, r.bad)
	}
	var outs []triage.Outcome
	for i := range r.alerts {
		a := &r.alerts[i]
		o, err := triage.Process(ctx, tx, r.src.Tenant, a, it.ID)
		if err != nil {
			return nil, fmt.Errorf("triage %s/%s %s: %w", it.Tenant, it.Source, a.VendorID, err)
		}
		switch o.Disposition {
		case triage.Duplicate, sqlstore.DispositionFolded:
			st.Duplicates++
		case sqlstore.DispositionSuppressed:
			st.Suppressed++
		}
		outs = append(outs, o)
	}
	st.Accepted++
	return outs, tx.FinishInbox(ctx, it.ID, sqlstore.InboxDone, "", it.ReceivedAt)
}

// decodeAll decodes an inbox row. A row normally holds one payload; a body
// that was quarantined whole (and then fixed and retried) may hold several,
// so it is split again first.
func decodeAll(d connector.Decoder, payload []byte) ([]alert.Alert, error) {
	parts, err := connector.Split(payload)
	if err != nil {
		return nil, err
	}
	var out []alert.Alert
	for i, p := range parts {
		as, err := decode(d, p)
		if err != nil {
			if len(parts) > 1 {
				err = fmt.Errorf("payload %d of %d: %w", i+1, len(parts), err)
			}
			return nil, err
		}
		out = append(out, as...)
	}
	for _, a := range out {
		if a.VendorID == "" {
			return nil, fmt.Errorf("%w: decoded alert has no vendor id", connector.ErrBadPayload)
		}
	}
	return out, nil
}

// decode runs a vendor decoder, turning a panic into a quarantine reason.
func decode(d connector.Decoder, payload []byte) (alerts []alert.Alert, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return d.Decode(payload)
}

func (p *Processor) quarantine(ctx context.Context, tx *sqlstore.Tx, it sqlstore.InboxItem, st *Stats, reason string) error {
	st.Quarantined++
	p.log.Warn("payload quarantined", "tenant", it.Tenant, "source", it.Source, "inbox", it.ID, "reason", reason)
	if err := tx.FinishInbox(ctx, it.ID, sqlstore.InboxQuarantined, reason, it.ReceivedAt); err != nil {
		return err
	}
	return tx.Audit(ctx, sqlstore.AuditEntry{Tenant: it.Tenant, At: it.ReceivedAt, Actor: "bannin", Action: "payload.quarantined",
		Object: fmt.Sprintf("inbox/%d", it.ID), Detail: reason})
}

func jobArgs(tenant string, o triage.Outcome) []river.JobArgs {
	var out []river.JobArgs
	for _, id := range o.Contain {
		out = append(out, jobs.ContainArgs{Tenant: tenant, ActionID: id})
	}
	for _, id := range o.Notify {
		out = append(out, jobs.NotifyArgs{Tenant: tenant, NotificationID: id})
	}
	return out
}
