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

// Poller pulls one source of one tenant, storing each page's payloads and
// the cursor after it in one commit, so a restart resumes exactly.
type Poller struct {
	Tenant, Source string
	API            connector.Source
	Cursors        CursorStore
	Committer      *Committer
	Interval       time.Duration
	Clock          func() time.Time
	Log            *slog.Logger
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	log := p.Log.With("tenant", p.Tenant, "source", p.Source)
	failures := 0
	for ctx.Err() == nil {
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
