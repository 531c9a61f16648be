package app

import (
	"context"

	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// addTenant runs a tenant (its policy compiled, its sources connected) and
// records it in the store.
func (a *App) addTenant(ctx context.Context, t *tenant.Tenant) error {
	if err := a.Estate.Add(t); err != nil {
		return err
	}
	return a.recordTenant(ctx, t)
}

// LoadContract makes a tenant's contract (hours, clocks, routes) known to
// an App that does not run the tenant (see estate.Estate.LoadContract).
func (a *App) LoadContract(t *tenant.Tenant) error { return a.Estate.LoadContract(t) }

// pollers builds one poller per source with API access.
func (a *App) pollers() []*intake.Poller {
	var out []*intake.Poller
	for _, s := range a.Estate.Pulled() {
		out = append(out, &intake.Poller{Tenant: s.Tenant, Source: s.Name, API: s.API, Cursors: a.DB, Committer: a.Committer,
			Leases: a.DB, Interval: s.Interval, Clock: a.cfg.Clock, Log: a.log})
	}
	return out
}
