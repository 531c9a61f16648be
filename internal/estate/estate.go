// Package estate is the registry of running tenants: each tenant's file
// with its compiled policy, and each source with its decoder, its API
// client (a poller's source), its responder, and — where the source has no
// URL and simulation is on — the vendor simulator standing in for the
// vendor's cloud. Intake, triage, response and escalation look tenants up
// here; the wiring fills it and the store keeps the files as applied.
package estate

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/triage"
)

// Options says how sources without a URL are reached.
type Options struct {
	// Simulate makes every source without a URL use its vendor's built-in
	// simulator (demo, replay, tests).
	Simulate bool
	// PollSimulators makes simulated sources be polled like real ones (the
	// demo); replay feeds payloads straight into the inbox instead.
	PollSimulators bool
}

// Estate holds the running tenants and their sources.
type Estate struct {
	opts    Options
	mu      sync.RWMutex
	tenants map[string]*Tenant
	sims    []*simServer
}

// Tenant is one running tenant.
type Tenant struct {
	// Triage is the tenant file with its compiled policy.
	Triage  *triage.Tenant
	sources map[string]*Source
}

// File is the tenant file as parsed.
func (t *Tenant) File() *tenant.Tenant { return t.Triage.Tenant }

// Policy is the tenant's compiled policy.
func (t *Tenant) Policy() *policy.Policy { return t.Triage.Policy }

// Source is one connected source of a tenant.
type Source struct {
	Tenant, Name string
	Info         intake.SourceInfo
	Config       tenant.Source
	// API pulls the vendor's alerts; nil when the source is push-only.
	API connector.Source
	// Responder acts on endpoints; nil when the vendor cannot be reached.
	Responder connector.Responder
	// Interval is how often API is polled.
	Interval time.Duration
}

// New returns an empty estate.
func New(opts Options) *Estate { return &Estate{opts: opts, tenants: map[string]*Tenant{}} }

// Add compiles a tenant's policy and connects its sources, replacing a
// tenant of the same id.
func (e *Estate) Add(t *tenant.Tenant) error {
	pol, err := policy.New(t)
	if err != nil {
		return err
	}
	rt := &Tenant{Triage: &triage.Tenant{Tenant: t, Policy: pol}, sources: map[string]*Source{}}
	for _, s := range t.Sources {
		rs, err := e.connect(t, s, rt.Triage)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
		rt.sources[s.Name] = rs
	}
	e.mu.Lock()
	e.tenants[t.ID] = rt
	e.mu.Unlock()
	return nil
}

// LoadContract makes a tenant's contract (hours, clocks, routes) known
// without running the tenant: the CLI reading a store, where the tenant
// file as stored is parsed without its secret files. It connects no
// source; a tenant already running is left as it is.
func (e *Estate) LoadContract(t *tenant.Tenant) error {
	pol, err := policy.New(t)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.tenants[t.ID]; !ok {
		e.tenants[t.ID] = &Tenant{Triage: &triage.Tenant{Tenant: t, Policy: pol}, sources: map[string]*Source{}}
	}
	return nil
}

// Source implements intake.Directory.
func (e *Estate) Source(tenantID, source string) (intake.SourceInfo, error) {
	s, err := e.source(tenantID, source)
	if err != nil {
		return intake.SourceInfo{}, err
	}
	return s.Info, nil
}

func (e *Estate) source(tenantID, source string) (*Source, error) {
	t, ok := e.Tenant(tenantID)
	if !ok {
		return nil, fmt.Errorf("%w: tenant %q", intake.ErrUnknown, tenantID)
	}
	s, ok := t.sources[source]
	if !ok {
		return nil, fmt.Errorf("%w: source %q of tenant %q", intake.ErrUnknown, source, tenantID)
	}
	return s, nil
}

// Tenant returns a running tenant.
func (e *Estate) Tenant(id string) (*Tenant, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, ok := e.tenants[id]
	return t, ok
}

// File returns a running tenant's file.
func (e *Estate) File(id string) (*tenant.Tenant, bool) {
	t, ok := e.Tenant(id)
	if !ok {
		return nil, false
	}
	return t.File(), true
}

// All returns the running tenants, in the order of their ids.
func (e *Estate) All() []*Tenant {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ids := make([]string, 0, len(e.tenants))
	for id := range e.tenants {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*Tenant, len(ids))
	for i, id := range ids {
		out[i] = e.tenants[id]
	}
	return out
}

// Policies returns the running tenants' policies, in the order of their
// ids (each knows its tenant file).
func (e *Estate) Policies() []*policy.Policy {
	all := e.All()
	out := make([]*policy.Policy, len(all))
	for i, t := range all {
		out[i] = t.Policy()
	}
	return out
}

// Responder returns the responder of a tenant's source.
func (e *Estate) Responder(tenantID, source string) (connector.Responder, error) {
	t, ok := e.Tenant(tenantID)
	if !ok {
		return nil, fmt.Errorf("%w: tenant %q", intake.ErrUnknown, tenantID)
	}
	s, ok := t.sources[source]
	if !ok || s.Responder == nil {
		return nil, fmt.Errorf("source %q of tenant %q has no API access to act on endpoints", source, tenantID)
	}
	return s.Responder, nil
}

// Pulled lists the sources with API access (each gets a poller), tenant
// by tenant and source by source in order.
func (e *Estate) Pulled() []*Source {
	var out []*Source
	for _, t := range e.All() {
		for _, name := range slices.Sorted(maps.Keys(t.sources)) {
			if s := t.sources[name]; s.API != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// Simulator returns the simulator serving a tenant's source, if any.
func (e *Estate) Simulator(tenantID, source string) (connector.Simulator, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, s := range e.sims {
		if s.tenant == tenantID && s.source == source {
			return s.sim, true
		}
	}
	return nil, false
}

// Close stops the simulators.
func (e *Estate) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sims {
		s.srv.Close()
	}
	e.sims = nil
}

func (e *Estate) connect(t *tenant.Tenant, s tenant.Source, tt *triage.Tenant) (*Source, error) {
	v, err := connector.Lookup(s.Vendor)
	if err != nil {
		return nil, err
	}
	rs := &Source{Tenant: t.ID, Name: s.Name, Config: s, Interval: s.Poll,
		Info: intake.SourceInfo{Tenant: tt, Vendor: v.Name, Decoder: v.Decoder, Secret: s.WebhookSecret}}
	if rs.Interval <= 0 {
		rs.Interval = 30 * time.Second
	}
	cc := connector.Config{URL: s.URL, ClientID: s.ClientID, ClientSecret: s.ClientSecret}
	var sim connector.Simulator
	if s.URL == "" {
		if !e.opts.Simulate || v.NewSimulator == nil {
			return rs, nil // push-only: webhook and replay
		}
		sim = v.NewSimulator()
		ss, err := startSim(t.ID, s.Name, sim)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		e.sims = append(e.sims, ss)
		e.mu.Unlock()
		cc.URL = ss.url
		cc.ClientID, cc.ClientSecret = sim.Credentials()
		if s.Poll <= 0 {
			rs.Interval = time.Second
		}
	}
	if v.NewResponder != nil {
		if rs.Responder, err = v.NewResponder(cc); err != nil {
			return nil, err
		}
		if sim != nil {
			// Replay and webhooks bring alerts past the simulator: tell it
			// about each endpoint before acting on it, as a real console
			// knows its whole estate.
			rs.Responder = knownResponder{rs.Responder, sim}
		}
	}
	if v.NewSource != nil && (s.URL != "" || e.opts.PollSimulators) {
		if rs.API, err = v.NewSource(cc); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// knownResponder registers the endpoint with a simulator before each call.
type knownResponder struct {
	connector.Responder
	sim connector.Simulator
}

func (r knownResponder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	r.sim.AddDevice(t.HostID, t.HostName)
	return r.Responder.Isolate(ctx, t, key)
}

func (r knownResponder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	r.sim.AddDevice(t.HostID, t.HostName)
	return r.Responder.Release(ctx, t, key)
}

// simServer is a vendor simulator listening on loopback.
type simServer struct {
	tenant, source string
	sim            connector.Simulator
	srv            *http.Server
	url            string
}

func startSim(tenantID, source string, sim connector.Simulator) (*simServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator listen: %w", err)
	}
	s := &simServer{tenant: tenantID, source: source, sim: sim, srv: &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second},
		url: "http://" + ln.Addr().String()}
	go s.srv.Serve(ln)
	return s, nil
}
