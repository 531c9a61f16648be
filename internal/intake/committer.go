// Package intake takes alerts in — webhook pushes and vendor API pulls — and
// makes them durable in the inbox before acknowledging them (group commit);
// its processor then decodes and triages what the inbox holds.
package intake

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// ErrBusy is returned when intake holds as much as its memory ceiling allows;
// callers answer 503 with Retry-After and the sender tries again.
var ErrBusy = errors.New("intake is at capacity; retry later")

// Acceptor is the store's durable write.
type Acceptor interface {
	Accept(ctx context.Context, items []sqlstore.InboxItem, cursors []sqlstore.Cursor) error
}

// Committer gathers concurrent submissions into one transaction: while one
// commit runs, the next batch forms, so many requests share one fsync.
type Committer struct {
	store    Acceptor
	queue    chan *submission
	maxBytes int64
	inflight atomic.Int64
	notify   func() // called after each successful commit (wakes the processor)
	stopped  atomic.Bool
	log      *slog.Logger
	wg       sync.WaitGroup
}

type submission struct {
	items   []sqlstore.InboxItem
	cursors []sqlstore.Cursor
	size    int64
	done    chan error
}

// CommitterOptions tune the committer.
type CommitterOptions struct {
	// MaxInflightBytes caps payload bytes held in memory waiting for commit;
	// beyond it Submit fails fast with ErrBusy. Default 64 MiB.
	MaxInflightBytes int64
	// OnCommit is called after every commit.
	OnCommit func()
	Logger   *slog.Logger
}

// NewCommitter starts a committer; it runs until ctx ends and Wait returns.
func NewCommitter(ctx context.Context, store Acceptor, o CommitterOptions) *Committer {
	if o.MaxInflightBytes <= 0 {
		o.MaxInflightBytes = 64 << 20
	}
	if o.OnCommit == nil {
		o.OnCommit = func() {}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Committer{store: store, queue: make(chan *submission, 4096), maxBytes: o.MaxInflightBytes,
		notify: o.OnCommit, log: o.Logger}
	c.wg.Add(1)
	go c.run(ctx)
	return c
}

// Wait blocks until the committer has stopped.
func (c *Committer) Wait() { c.wg.Wait() }

// Inflight reports the payload bytes waiting for commit.
func (c *Committer) Inflight() int64 { return c.inflight.Load() }

// Submit stores items (and cursor advances) durably and returns once they are
// committed. Nothing is acknowledged before this returns nil.
func (c *Committer) Submit(ctx context.Context, items []sqlstore.InboxItem, cursors ...sqlstore.Cursor) error {
	if c.stopped.Load() {
		return ErrBusy // shutting down: the sender retries against a running node
	}
	var size int64
	for _, it := range items {
		size += int64(len(it.Payload)) + 128
	}
	// Over the cap only a submission that is alone in flight gets through:
	// one larger than the cap must not be refused for ever, but it must not
	// pass the cap on top of others either.
	if total := c.inflight.Add(size); total > c.maxBytes && total != size {
		c.inflight.Add(-size)
		return ErrBusy
	}
	s := &submission{items: items, cursors: cursors, size: size, done: make(chan error, 1)}
	select {
	case c.queue <- s:
	case <-ctx.Done():
		c.inflight.Add(-size)
		return ctx.Err()
	default:
		c.inflight.Add(-size)
		return ErrBusy
	}
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		// The commit may still land; the sender retries and dedup by vendor id
		// keeps the alert single.
		return ctx.Err()
	}
}

// maxBatch bounds one transaction's submissions.
const maxBatch = 512

func (c *Committer) run(ctx context.Context) {
	defer c.wg.Done()
	for {
		var first *submission
		select {
		case <-ctx.Done():
			c.stopped.Store(true)
			c.drainWith(ctx.Err())
			return
		case first = <-c.queue:
		}
		batch := []*submission{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case s := <-c.queue:
				batch = append(batch, s)
			default:
				break gather
			}
		}
		c.commit(ctx, batch)
	}
}

func (c *Committer) commit(ctx context.Context, batch []*submission) {
	var items []sqlstore.InboxItem
	var cursors []sqlstore.Cursor
	var size int64
	for _, s := range batch {
		items = append(items, s.items...)
		cursors = append(cursors, s.cursors...)
		size += s.size
	}
	err := c.store.Accept(context.WithoutCancel(ctx), items, cursors)
	if err != nil {
		c.log.Error("group commit failed", "payloads", len(items), "err", err)
	}
	c.inflight.Add(-size)
	for _, s := range batch {
		s.done <- err
	}
	if err == nil {
		c.notify()
	}
}

func (c *Committer) drainWith(err error) {
	for {
		select {
		case s := <-c.queue:
			c.inflight.Add(-s.size)
			s.done <- err
		default:
			return
		}
	}
}

// backoffDelay doubles from base up to limit.
func backoffDelay(attempt int, base, limit time.Duration) time.Duration {
	d := base << min(attempt, 16)
	if d > limit || d <= 0 {
		return limit
	}
	return d
}
