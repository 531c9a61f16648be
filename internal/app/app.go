// Package app wires bannin's parts into a running service: store, job
// runner, intake (committer, processor, webhook, pollers), vendor simulators
// and the HTTP API. cmd/bannin builds an App from flags; tests and the demo
// build one from a Config.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/estate"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/store/postgres"
	"github.com/bannin-soc/bannin/internal/store/sqlite"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/view"
	"github.com/bannin-soc/bannin/internal/web"
)

// Config is everything an App needs; cmd/bannin fills it from flags.
type Config struct {
	// DB is a SQLite file path, or a postgres:// URL.
	DB      string
	Tenants []*tenant.Tenant
	// Simulate makes every source without a URL use its vendor's built-in
	// simulator (demo, replay, tests).
	Simulate bool
	// PollSimulators makes simulated sources be polled like real ones (the
	// demo); replay feeds payloads straight into the inbox instead.
	PollSimulators bool
	// SecretKey (32 bytes) seals vendor and webhook secrets at rest.
	SecretKey []byte
	// APIToken guards the REST API (Authorization: Bearer); empty disables it.
	APIToken string
	Email    notify.EmailConfig
	// PhoneWebhook is the telephony service's URL; PhoneSecret signs calls.
	PhoneWebhook string
	PhoneSecret  []byte
	// WebhookSecret signs notifications to contacts' own webhooks.
	WebhookSecret []byte
	// DryRunNotify renders notifications and records them as sent without
	// delivering them (replay).
	DryRunNotify bool
	// VirtualTime stamps effects with the decision's time (replay).
	VirtualTime bool
	// Scratch opens the SQLite file DB as a throwaway store, never synced
	// to disk (replay's temporary file; see sqlite.OpenScratch).
	Scratch   bool
	RetryBase time.Duration
	// RescueAfter: see jobs.Options.
	RescueAfter time.Duration
	// MaxInflightBytes caps intake memory (see intake.CommitterOptions).
	MaxInflightBytes int64
	// SMTP is the inbound alert-mail listener for mail sources.
	SMTP SMTPConfig
	// PublicURL is how people reach this bannin (e.g.
	// https://soc.example.com): notifications carry signed acknowledgement
	// links under it. Empty: no links.
	PublicURL string
	// SlackSigningSecret verifies Slack's interaction requests (the
	// acknowledge button) on /v1/slack/actions; empty disables it.
	SlackSigningSecret []byte
	Clock              func() time.Time
	Log                *slog.Logger
}

// App is a running bannin.
type App struct {
	cfg       Config
	DB        *sqlstore.DB
	Jobs      *jobs.Runner
	Committer *intake.Committer
	Processor *intake.Processor
	// Estate holds the running tenants and their sources.
	Estate *estate.Estate
	// Response runs approvals, releases and verdicts' consequences.
	Response *response.Service
	// SLO computes clocks and attainment; View reads incidents in their
	// output forms.
	SLO  *slo.Tracker
	View *view.Reader
	// Escalation runs chains, SLO warnings and the 72-hour rule.
	Escalation *escalation.Service
	listeners  Listeners
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	log        *slog.Logger
}

// Open opens the store, applies the tenants, starts simulators where asked,
// and builds the job runner. Start begins the work.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	open := OpenStore
	if cfg.Scratch {
		open = openScratch
	}
	db, err := open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, DB: db, log: cfg.Log}
	if err := a.setup(ctx); err != nil {
		a.Estate.Close()
		db.Close()
		return nil, err
	}
	return a, nil
}

// OpenStore opens a SQLite file or, for a postgres:// URL, PostgreSQL.
func OpenStore(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

// openScratch opens a throwaway SQLite file (Config.Scratch).
func openScratch(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	if strings.Contains(dsn, "://") {
		return nil, fmt.Errorf("a scratch store is a SQLite file, not %s", dsn)
	}
	return sqlite.OpenScratch(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

func (a *App) setup(ctx context.Context) error {
	a.Estate = estate.New(estate.Options{Simulate: a.cfg.Simulate, PollSimulators: a.cfg.PollSimulators})
	a.SLO = &slo.Tracker{Store: a.DB, Tenants: a.Estate, Clock: a.cfg.Clock, VirtualTime: a.cfg.VirtualTime}
	a.View = &view.Reader{Store: viewStore{a.DB}, SLO: a.SLO}
	a.Escalation = &escalation.Service{Store: escalationStore{a.DB}, Tenants: a.Estate, SLO: a.SLO, Clock: a.cfg.Clock,
		Log: a.log, VirtualTime: a.cfg.VirtualTime, SecretKey: a.cfg.SecretKey, PublicURL: a.cfg.PublicURL}
	for _, t := range a.cfg.Tenants {
		if err := a.addTenant(ctx, t); err != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, err)
		}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &response.Worker{Store: a.DB, Responders: a.Estate.Responder, Stamp: a.stampAction, Log: a.log})
	nw, err := a.notifyWorker()
	if err != nil {
		return err
	}
	river.AddWorker(workers, nw)
	a.Jobs, err = jobs.New(a.DB.SQL(), a.DB.Dialect().Name, workers, jobs.Options{RetryBase: a.cfg.RetryBase, RescueAfter: a.cfg.RescueAfter, Logger: a.log})
	if err != nil {
		return err
	}
	a.Response = &response.Service{Store: responseStore{a.DB}, Jobs: a.Jobs, Clock: a.cfg.Clock}
	a.Escalation.Jobs = a.Jobs
	return nil
}

// Start runs the committer, the processor, the job runner and the pollers
// until Close.
func (a *App) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(ctx)
	a.Processor = intake.NewProcessor(a.DB, a.Estate, a.Jobs, a.log, nil)
	a.Committer = intake.NewCommitter(ctx, a.DB, intake.CommitterOptions{
		MaxInflightBytes: a.cfg.MaxInflightBytes, OnCommit: a.Processor.Wake, Logger: a.log})
	if a.DB.Dialect().Name == "sqlite" {
		// One node: whatever was running belonged to a process that died.
		if n, err := a.Jobs.ReleaseOrphans(ctx); err != nil {
			return err
		} else if n > 0 {
			a.log.Warn("jobs of a previous run resumed", "jobs", n)
		}
	}
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.Processor.Run(ctx, 250*time.Millisecond) }()
	for _, p := range a.pollers() {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); p.Run(ctx) }()
	}
	if !a.cfg.VirtualTime {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.Escalation.Run(ctx) }()
	}
	if err := a.startListeners(ctx); err != nil {
		a.closeListeners()
		return err
	}
	return nil
}

// Close stops everything and waits for it: running jobs finish first (a
// vendor call is not cut off mid-way), then intake and triage stop.
func (a *App) Close(ctx context.Context) error {
	if a.cancel != nil {
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := a.Jobs.Stop(stop); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("stopping jobs", "err", err)
		}
		cancel()
		a.closeListeners() // before intake stops: they hand on what they hold
		a.cancel()
		a.wg.Wait()
		a.Committer.Wait()
	}
	a.Estate.Close()
	return a.DB.Close()
}

// Handler serves the HTTP API.
func (a *App) Handler() http.Handler {
	s := &web.Server{Store: a.DB, Tenants: a.Estate, Response: a.Response, SLO: a.SLO, View: a.View, Escalation: a.Escalation,
		PCR: a, Ingest: &intake.Webhook{Dir: a.Estate, Committer: a.Committer, Clock: a.cfg.Clock, Log: a.log},
		Ping: a.DB.SQL().PingContext, APIToken: a.cfg.APIToken, SlackSigningSecret: a.cfg.SlackSigningSecret,
		Clock: a.cfg.Clock, Log: a.log}
	return s.Handler()
}

// Quiesce waits until the inbox is empty and no job is outstanding, or ctx
// ends. Replay, the demo and tests use it.
func (a *App) Quiesce(ctx context.Context) error {
	for {
		pending, err := a.DB.PendingCount(ctx)
		if err != nil {
			return err
		}
		jobsLeft, err := a.Jobs.Outstanding(ctx)
		if err != nil {
			return err
		}
		// Stepping is read after the counts: a batch whose commit the
		// counts already show has then also counted its stats.
		if pending == 0 && jobsLeft == 0 && a.Committer.Inflight() == 0 && !a.Processor.Stepping() {
			return nil
		}
		a.Processor.Wake()
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("still busy (%d payloads, %d jobs): %w", pending, jobsLeft, ctx.Err())
		case <-t.C:
		}
	}
}

// Simulator returns the simulator serving a tenant's source, if any.
func (a *App) Simulator(tenantID, source string) (connector.Simulator, bool) {
	return a.Estate.Simulator(tenantID, source)
}

func (a *App) stampAction(act *response.Action) time.Time {
	if a.cfg.VirtualTime {
		return act.CreatedAt
	}
	return a.cfg.Clock().UTC()
}
