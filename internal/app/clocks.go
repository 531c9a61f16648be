package app

import (
	"context"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Clock names, as in replay output and `bannin incident show`.
const (
	ClockNotification  = "notification"
	ClockFirstResponse = "first_response"
)

// clockView is what the clocks of one tenant's incidents are computed
// from: the tenant's calendar and targets, its audit log by object, and
// the moment they are looked at.
type clockView struct {
	cal    *slo.Calendar
	target func(name string, inc *ticket.Incident) (time.Duration, bool)
	human  map[string]time.Time // incident ref → first action by a person
	now    time.Time
	// vendors are the vendors of each incident's alerts (Incidents reads
	// them for all incidents in one query).
	vendors map[int64][]string
	// excluded tells whether an incident starting at a time is left out
	// of attainment (slo.exclude).
	excluded func(time.Time) (tenant.Exclusion, bool)
}

// newClockView prepares the clocks of a tenant's incidents. In replay
// (virtual time) they are looked at when the replayed stream ends — the
// latest change of any of the tenant's incidents — so output stays
// deterministic; otherwise now.
func (a *App) newClockView(ctx context.Context, tenantID string, incs []*ticket.Incident) (*clockView, error) {
	rt, ok := a.Estate.Tenant(tenantID)
	if !ok {
		return nil, nil // a tenant no longer configured: no contract to measure
	}
	return a.clockViewFor(ctx, rt.Triage.Tenant, incs)
}

// clockViewFor prepares the clocks of incidents under a tenant's contract.
func (a *App) clockViewFor(ctx context.Context, tn *tenant.Tenant, incs []*ticket.Incident) (*clockView, error) {
	tenantID := tn.ID
	cal, err := slo.NewCalendar(tn.Hours, tn.Location, true)
	if err != nil {
		return nil, err
	}
	v := &clockView{cal: cal, now: a.cfg.Clock().UTC()}
	if a.cfg.VirtualTime {
		v.now = time.Time{}
		for _, in := range incs {
			if in.UpdatedAt.After(v.now) {
				v.now = in.UpdatedAt
			}
		}
	}
	v.target = func(name string, inc *ticket.Incident) (time.Duration, bool) {
		switch name {
		case ClockNotification:
			return tn.SLO.Notification, tn.SLO.Notification > 0
		case ClockFirstResponse:
			d, ok := tn.SLO.FirstResponse[inc.Priority]
			return d, ok && d > 0
		}
		return 0, false
	}
	refs := make([]string, len(incs))
	for i, in := range incs {
		refs[i] = in.Ref
	}
	if v.human, err = a.DB.FirstHumanActs(ctx, tenantID, refs); err != nil {
		return nil, err
	}
	v.excluded = tn.SLO.Excluded
	return v, nil
}

// clocks evaluates an incident's clocks. Only incidents that need a human
// are under the contract's clocks; both start at the first alert's
// receipt.
//   - notification stops when the first notification is sent (seed 000:
//     アラート受信時間 → 通知連絡メール送信時間);
//   - first_response stops at the first response done: an isolation
//     carried out, or a person acting on the incident (approval, verdict,
//     note), whichever is first (seed 003: 1次レスポンス).
func (v *clockView) clocks(inc *ticket.Incident, acts []*response.Action, ns []*sqlstore.Notification) []slo.Clock {
	out := []slo.Clock{}
	if v == nil || v.cal == nil || !inc.NeedsHuman {
		return out
	}
	var sent, isolated time.Time
	for _, n := range ns {
		if strings.HasPrefix(n.Kind, "slo_") {
			continue // a warning about the clock does not stop it
		}
		if n.State == "sent" && !n.SentAt.IsZero() && (sent.IsZero() || n.SentAt.Before(sent)) {
			sent = n.SentAt
		}
	}
	for _, act := range acts {
		if act.Kind == response.KindIsolate && act.State == response.StateDone && (isolated.IsZero() || act.UpdatedAt.Before(isolated)) {
			isolated = act.UpdatedAt
		}
	}
	return v.clocksAt(inc, sent, isolated)
}

// clocksAt evaluates an incident's clocks from its stop events: its first
// notification sent and its first isolation done (zero: not yet).
func (v *clockView) clocksAt(inc *ticket.Incident, sent, isolated time.Time) []slo.Clock {
	out := []slo.Clock{}
	if v == nil || v.cal == nil || !inc.NeedsHuman {
		return out
	}
	started := inc.FirstSeen
	if d, ok := v.target(ClockNotification, inc); ok {
		out = append(out, slo.NewClock(v.cal, ClockNotification, started, d, sent, v.now))
	}
	if d, ok := v.target(ClockFirstResponse, inc); ok {
		stop := v.human[inc.Ref]
		if !isolated.IsZero() && (stop.IsZero() || isolated.Before(stop)) {
			stop = isolated
		}
		out = append(out, slo.NewClock(v.cal, ClockFirstResponse, started, d, stop, v.now))
	}
	if v.excluded != nil {
		if e, ok := v.excluded(started); ok {
			for i := range out {
				out[i].Excluded = e.Reason
			}
		}
	}
	return out
}
