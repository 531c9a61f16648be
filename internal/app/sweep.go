package app

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/bannin-soc/bannin/internal/estate"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// sweepEvery is how often a node looks for incidents whose customer has
// not answered for sqlstore.CustomerWait.
const sweepEvery = time.Minute

// every runs the named sweeps each period until ctx ends, logging their
// errors. Each sweep takes its own lease, so of several nodes one runs it.
func (a *App) every(ctx context.Context, period time.Duration, sweeps map[string]func(context.Context) error) {
	names := slices.Sorted(maps.Keys(sweeps))
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range names {
			if err := sweeps[name](ctx); err != nil && ctx.Err() == nil {
				a.log.Warn(name+" sweep", "err", err)
			}
		}
	}
}

// sweepTenants runs a sweep once under its lease, tenant by tenant, all at
// one "now". ran is false when another node holds the lease.
func (a *App) sweepTenants(ctx context.Context, lease string, each func(context.Context, *estate.Tenant, time.Time) error) (ran bool, err error) {
	l, ok, err := a.DB.TryLease(ctx, lease)
	if err != nil || !ok {
		return false, err
	}
	defer l.Release()
	now := a.cfg.Clock().UTC()
	for _, rt := range a.Estate.All() {
		if err := each(ctx, rt, now); err != nil {
			return true, err
		}
	}
	return true, nil
}

// SweepUnanswered runs the 72-hour sweep once, now.
func (a *App) SweepUnanswered(ctx context.Context) error {
	lease, ok, err := a.DB.TryLease(ctx, "sweep:unanswered")
	if err != nil || !ok {
		return err
	}
	defer lease.Release()
	changed, err := a.DB.SuspectUnanswered(ctx, a.cfg.Clock().UTC(), sqlstore.CustomerWait)
	for _, c := range changed {
		a.log.Info("no answer from the customer for 72 h: incident set to Suspicious", "tenant", c.Tenant,
			"incident", c.Incident, "ticket", c.Ticket)
	}
	return err
}
