package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/triage"
)

// directory holds the running tenants and their sources.
type directory struct {
	mu      sync.RWMutex
	tenants map[string]*runtimeTenant
}

type runtimeTenant struct {
	triage  *triage.Tenant
	sources map[string]*runtimeSource
}

type runtimeSource struct {
	info      intake.SourceInfo
	cfg       tenant.Source
	api       connector.Source    // nil when the source is push-only
	responder connector.Responder // nil when the vendor cannot be reached
	interval  time.Duration
}

func newDirectory() *directory { return &directory{tenants: map[string]*runtimeTenant{}} }

// Source implements intake.Directory.
func (d *directory) Source(tenantID, source string) (intake.SourceInfo, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tenants[tenantID]
	if !ok {
		return intake.SourceInfo{}, fmt.Errorf("%w: tenant %q", intake.ErrUnknown, tenantID)
	}
	s, ok := t.sources[source]
	if !ok {
		return intake.SourceInfo{}, fmt.Errorf("%w: source %q of tenant %q", intake.ErrUnknown, source, tenantID)
	}
	return s.info, nil
}

func (d *directory) tenant(id string) (*runtimeTenant, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tenants[id]
	return t, ok
}

func (d *directory) responder(tenantID, source string) (connector.Responder, error) {
	t, ok := d.tenant(tenantID)
	if !ok {
		return nil, fmt.Errorf("%w: tenant %q", intake.ErrUnknown, tenantID)
	}
	s, ok := t.sources[source]
	if !ok || s.responder == nil {
		return nil, fmt.Errorf("source %q of tenant %q has no API access to act on endpoints", source, tenantID)
	}
	return s.responder, nil
}

// addTenant compiles a tenant's policy, connects its sources and records it
// in the store.
func (a *App) addTenant(ctx context.Context, t *tenant.Tenant) error {
	pol, err := policy.New(t)
	if err != nil {
		return err
	}
	rt := &runtimeTenant{triage: &triage.Tenant{Tenant: t, Policy: pol}, sources: map[string]*runtimeSource{}}
	for _, s := range t.Sources {
		rs, err := a.connect(t, s, rt.triage)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
		rt.sources[s.Name] = rs
	}
	if err := a.recordTenant(ctx, t); err != nil {
		return err
	}
	a.dir.mu.Lock()
	a.dir.tenants[t.ID] = rt
	a.dir.mu.Unlock()
	return nil
}

// LoadContract makes a tenant's contract (hours, clocks, routes) known to
// an App that does not run the tenant: the CLI reading a store, where the
// tenant file as stored is parsed without its secret files. It starts no
// source and records nothing; a tenant already running is left as it is.
func (a *App) LoadContract(t *tenant.Tenant) error {
	pol, err := policy.New(t)
	if err != nil {
		return err
	}
	a.dir.mu.Lock()
	defer a.dir.mu.Unlock()
	if _, ok := a.dir.tenants[t.ID]; !ok {
		a.dir.tenants[t.ID] = &runtimeTenant{triage: &triage.Tenant{Tenant: t, Policy: pol}, sources: map[string]*runtimeSource{}}
	}
	return nil
}

func (a *App) connect(t *tenant.Tenant, s tenant.Source, tt *triage.Tenant) (*runtimeSource, error) {
	v, err := connector.Lookup(s.Vendor)
	if err != nil {
		return nil, err
	}
	rs := &runtimeSource{cfg: s, interval: s.Poll,
		info: intake.SourceInfo{Tenant: tt, Vendor: v.Name, Decoder: v.Decoder, Secret: s.WebhookSecret}}
	if rs.interval <= 0 {
		rs.interval = 30 * time.Second
	}
	cc := connector.Config{URL: s.URL, ClientID: s.ClientID, ClientSecret: s.ClientSecret}
	if s.URL == "" {
		if !a.cfg.Simulate || v.NewSimulator == nil {
			return rs, nil // push-only: webhook and replay
		}
		sim := v.NewSimulator()
		ss, err := startSim(t.ID, s.Name, sim)
		if err != nil {
			return nil, err
		}
		a.sims = append(a.sims, ss)
		cc.URL = ss.url
		cc.ClientID, cc.ClientSecret = sim.Credentials()
		if s.Poll <= 0 {
			rs.interval = time.Second
		}
	}
	if v.NewResponder != nil {
		if rs.responder, err = v.NewResponder(cc); err != nil {
			return nil, err
		}
		if s.URL == "" {
			// Replay and webhooks bring alerts past the simulator: tell it
			// about each endpoint before acting on it, as a real console
			// knows its whole estate.
			rs.responder = estateResponder{rs.responder, a.sims[len(a.sims)-1].sim}
		}
	}
	if v.NewSource != nil && (s.URL != "" || a.cfg.PollSimulators) {
		if rs.api, err = v.NewSource(cc); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// pollers builds one poller per source with API access.
func (d *directory) pollers(a *App) []*intake.Poller {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*intake.Poller
	for id, t := range d.tenants {
		for name, s := range t.sources {
			if s.api == nil {
				continue
			}
			out = append(out, &intake.Poller{Tenant: id, Source: name, API: s.api, Cursors: a.DB, Committer: a.Committer,
				Leases: a.DB, Interval: s.interval, Clock: a.cfg.Clock, Log: a.log})
		}
	}
	return out
}

// estateResponder registers the endpoint with a simulator before each call.
type estateResponder struct {
	connector.Responder
	sim connector.Simulator
}

func (r estateResponder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	r.sim.AddDevice(t.HostID, t.HostName)
	return r.Responder.Isolate(ctx, t, key)
}

func (r estateResponder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	r.sim.AddDevice(t.HostID, t.HostName)
	return r.Responder.Release(ctx, t, key)
}
