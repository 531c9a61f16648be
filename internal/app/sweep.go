package app

import (
	"context"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// sweepEvery is how often a node looks for incidents whose customer has
// not answered for sqlstore.CustomerWait.
const sweepEvery = time.Minute

// sweepUnanswered turns Suspicious the incidents whose ticket has waited on
// the customer for 72 hours (seed 003). Of several nodes, the one holding
// the sweep's lease runs it.
func (a *App) sweepUnanswered(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.SweepUnanswered(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("unanswered-customer sweep", "err", err)
		}
	}
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
