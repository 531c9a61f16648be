package app

import (
	"context"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/intake"
)

// SMTPConfig is the inbound alert-mail listener: one per node, routing by
// recipient address to the tenants' mail sources.
type SMTPConfig = connector.SMTPConfig

// Listeners are the push listeners an App runs (see intake.Listeners).
type Listeners = intake.Listeners

// startListeners starts the push listeners of every vendor with a listener
// role for the tenants' sources.
func (a *App) startListeners(ctx context.Context) error {
	return a.listeners.Start(ctx, intake.ListenerConfig{Tenants: a.cfg.Tenants, Committer: a.Committer,
		SMTP: a.cfg.SMTP, Clock: a.cfg.Clock, Log: a.log})
}

// closeListeners stops the listeners; they hand on what they hold.
func (a *App) closeListeners() { a.listeners.Close() }

// Listeners returns the running push listeners (their bound addresses and
// counters).
func (a *App) Listeners() *Listeners { return &a.listeners }
