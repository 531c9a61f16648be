package intake

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// CursorStore reads a poller's checkpoint.
type CursorStore interface {
	GetCursor(ctx context.Context, tenant, source string) (string, error)
}

// Leaser grants the right to poll a source alone among the nodes sharing a
// store.
type Leaser interface {
	TryLease(ctx context.Context, key string) (*sqlstore.Lease, bool, error)
}

// Poller pulls one source of one tenant, storing each page's payloads and
// the cursor after it in one commit, so a restart resumes exactly.
type Poller struct {
	Tenant, Source string
	API            connector.Source
	Cursors        CursorStore
	Committer      *Committer
	Leases         Leaser // nil: poll without a lease (one node)
	Interval       time.Duration
	Clock          func() time.Time
	Log            *slog.Logger
}

// Run polls until ctx ends. With Leases set, it first takes the source's
// lease, so that of several nodes exactly one polls each source; when the
// holder dies its lease is free and another node takes over within one
// interval.
func (p *Poller) Run(ctx context.Context) {
	log := p.Log.With("tenant", p.Tenant, "source", p.Source)
	for ctx.Err() == nil {
		lease, err := p.lease(ctx)
		if err != nil || lease == nil {
			if err != nil {
				log.Warn("poll lease", "err", err)
			}
			sleep(ctx, p.Interval)
			continue
		}
		p.pollWhileLeased(ctx, lease, log)
		lease.Release()
	}
}

func (p *Poller) lease(ctx context.Context) (*sqlstore.Lease, error) {
	if p.Leases == nil {
		return &sqlstore.Lease{}, nil
	}
	l, ok, err := p.Leases.TryLease(ctx, "poll:"+p.Tenant+"/"+p.Source)
	if !ok {
		return nil, err
	}
	return l, nil
}

func (p *Poller) pollWhileLeased(ctx context.Context, lease *sqlstore.Lease, log *slog.Logger) {
	failures := 0
	for ctx.Err() == nil {
		if err := lease.Alive(ctx); err != nil {
			log.Warn("poll lease lost; taking it again", "err", err)
			return
		}
		more, err := p.Once(ctx)
		wait := p.Interval
		switch {
		case err == nil && more:
			failures = 0
			continue
		case err == nil:
			failures = 0
		default:
			failures++
			wait = backoffDelay(failures, time.Second, 5*time.Minute)
			var re *connector.RetryableError
			if errors.As(err, &re) && re.After > 0 {
				wait = re.After
			}
			log.Warn("poll failed", "err", err, "retry_in", wait)
		}
		sleep(ctx, wait)
	}
}

// Once pulls one page and commits it with its cursor. It reports whether
// another page is ready.
func (p *Poller) Once(ctx context.Context) (bool, error) {
	cur, err := p.Cursors.GetCursor(ctx, p.Tenant, p.Source)
	if err != nil {
		return false, err
	}
	page, err := p.API.Pull(ctx, cur)
	if err != nil {
		return false, err
	}
	now := p.Clock().UTC()
	items := make([]sqlstore.InboxItem, len(page.Payloads))
	for i, pl := range page.Payloads {
		items[i] = sqlstore.InboxItem{Tenant: p.Tenant, Source: p.Source, ReceivedAt: now, Payload: pl}
	}
	c := sqlstore.Cursor{Tenant: p.Tenant, Source: p.Source, Value: page.Cursor, UpdatedAt: now}
	if err := p.Committer.Submit(ctx, items, c); err != nil {
		return false, err
	}
	return page.More, nil
}
