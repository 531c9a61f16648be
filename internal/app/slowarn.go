package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/estate"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// sloLookback bounds how old an open incident's clocks the SLO sweep
// still watches: a budget of a few hours of service time never spans more
// than a long holiday.
const sloLookback = 45 * 24 * time.Hour

// BreachLevel is the level of an SLO breach signal (warnings are the
// percentages of slo.warn_at).
const BreachLevel = 100

// sloAbout is what an SLO notice is about, kept on its notification.
type sloAbout struct {
	Clock   string    `json:"clock"`
	Percent int       `json:"percent"`
	Due     time.Time `json:"due"`
}

// SweepSLO raises the warnings (slo.warn_at percent of a budget used) and
// breaches (due time passed) of the running clocks of open incidents, each
// once, notifying slo.warn_to (default: the incident's route). When the
// sweep finds several levels reached at once (a node was down), only the
// highest is notified; the others are recorded as passed. It reports
// whether it ran: false when another node holds the sweep's lease.
func (a *App) SweepSLO(ctx context.Context) (ran bool, err error) {
	return a.sweepTenants(ctx, "sweep:slo", a.signalTenant)
}

// signalTenant raises a tenant's SLO warnings and breaches.
func (a *App) signalTenant(ctx context.Context, rt *estate.Tenant, now time.Time) error {
	t := rt.Triage.Tenant
	incs, err := a.DB.OpenNeedingHuman(ctx, t.ID, now.Add(-sloLookback))
	if err != nil || len(incs) == 0 {
		return err
	}
	cv, err := a.SLO.View(ctx, t.ID, incs)
	if err != nil {
		return err
	}
	ids := make([]int64, len(incs))
	for i, inc := range incs {
		ids[i] = inc.ID
	}
	stops, err := a.DB.ClockStops(ctx, t.ID, ids)
	if err != nil {
		return err
	}
	for _, inc := range incs {
		st := stops[inc.ID]
		for _, c := range cv.ClocksAt(inc, st.Sent, st.Isolated) {
			if c.Stopped != nil || c.Excluded != "" {
				continue
			}
			budget, _ := cv.Target(c.Name, inc)
			if err := a.signal(ctx, rt, cv.Calendar(), inc, c, budget, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// signal raises what a running clock has reached by now.
func (a *App) signal(ctx context.Context, rt *estate.Tenant, cal *slo.Calendar, inc *ticket.Incident, c slo.Clock, budget time.Duration, now time.Time) error {
	t := rt.Triage.Tenant
	var reached []sqlstore.Signal
	for _, p := range t.SLO.WarnAt {
		if at := slo.WarnAt(cal, c.Started, budget, p); !now.Before(at) {
			reached = append(reached, sqlstore.Signal{Object: inc.Ref, Clock: c.Name, Level: p, Due: at, Fired: now})
		}
	}
	if now.After(c.Due) {
		reached = append(reached, sqlstore.Signal{Object: inc.Ref, Clock: c.Name, Level: BreachLevel, Due: c.Due, Fired: now})
	}
	if len(reached) == 0 {
		return nil
	}
	return a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		var fresh bool
		for i, s := range reached {
			took, err := tx.TakeSignal(ctx, t.ID, s)
			if err != nil {
				return err
			}
			fresh = took && i == len(reached)-1
		}
		if !fresh {
			return nil // the highest level reached was raised before
		}
		top := reached[len(reached)-1]
		kind, action := notify.KindSLOWarning, "slo.warning"
		detail := fmt.Sprintf("%s clock at %d%% of its %s budget; due %s", c.Name, top.Level, budget, c.Due.In(t.Location).Format(time.RFC3339))
		if top.Level == BreachLevel {
			kind, action = notify.KindSLOBreach, "slo.breach"
			detail = fmt.Sprintf("%s clock passed its due time %s (budget %s) still running", c.Name, c.Due.In(t.Location).Format(time.RFC3339), budget)
		}
		if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: t.ID, At: now, Actor: "bannin", Action: action, Object: inc.Ref, Detail: detail}); err != nil {
			return err
		}
		about, _ := json.Marshal(sloAbout{Clock: c.Name, Percent: top.Level, Due: c.Due})
		return a.queueNotices(ctx, tx, inc, a.warnRecipients(rt, inc), kind, string(about), now, detail)
	})
}

// warnRecipients are slo.warn_to, or else the incident's route.
func (a *App) warnRecipients(rt *estate.Tenant, inc *ticket.Incident) []policy.Recipient {
	if to := rt.Triage.Tenant.SLO.WarnTo; len(to) > 0 {
		return rt.Triage.Policy.Resolve(to)
	}
	return rt.Triage.Policy.Routes(inc.Severity)
}
