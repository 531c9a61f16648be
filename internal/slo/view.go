package slo

import (
	"context"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Clock names, as in replay output and `bannin incident show`.
const (
	ClockNotification  = "notification"
	ClockFirstResponse = "first_response"
)

// View is what the clocks of one tenant's incidents are computed
// from: the tenant's calendar and targets, its audit log by object, and
// the moment they are looked at.
type View struct {
	cal    *Calendar
	target func(name string, inc *ticket.Incident) (time.Duration, bool)
	human  map[string]time.Time // incident ref → first action by a person
	now    time.Time
	// excluded tells whether an incident starting at a time is left out
	// of attainment (exclude).
	excluded func(time.Time) (tenant.Exclusion, bool)
}

// View prepares the clocks of a tenant's incidents. In replay (virtual
// time) they are looked at when the replayed stream ends — the latest
// change of any of the tenant's incidents — so output stays deterministic;
// otherwise now. It is nil for a tenant no longer configured: no contract
// to measure.
func (tr *Tracker) View(ctx context.Context, tenantID string, incs []*ticket.Incident) (*View, error) {
	tn, ok := tr.Tenants.File(tenantID)
	if !ok {
		return nil, nil
	}
	return tr.ViewFor(ctx, tn, incs)
}

// ViewFor prepares the clocks of incidents under a tenant's contract.
func (tr *Tracker) ViewFor(ctx context.Context, tn *tenant.Tenant, incs []*ticket.Incident) (*View, error) {
	tenantID := tn.ID
	cal, err := NewCalendar(tn.Hours, tn.Location, true)
	if err != nil {
		return nil, err
	}
	v := &View{cal: cal, now: tr.Clock().UTC()}
	if tr.VirtualTime {
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
	if v.human, err = tr.Store.FirstHumanActs(ctx, tenantID, refs); err != nil {
		return nil, err
	}
	v.excluded = tn.SLO.Excluded
	return v, nil
}

// Clocks evaluates an incident's clocks. Only incidents that need a human
// are under the contract's clocks; both start at the first alert's
// receipt.
//   - notification stops when the first notification is sent (seed 000:
//     アラート受信時間 → 通知連絡メール送信時間);
//   - first_response stops at the first response done: an isolation
//     carried out, or a person acting on the incident (approval, verdict,
//     note), whichever is first (seed 003: 1次レスポンス).
func (v *View) Clocks(inc *ticket.Incident, acts []*response.Action, ns []*notify.Notification) []Clock {
	out := []Clock{}
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
	return v.ClocksAt(inc, sent, isolated)
}

// ClocksAt evaluates an incident's clocks from its stop events: its first
// notification sent and its first isolation done (zero: not yet).
func (v *View) ClocksAt(inc *ticket.Incident, sent, isolated time.Time) []Clock {
	out := []Clock{}
	if v == nil || v.cal == nil || !inc.NeedsHuman {
		return out
	}
	started := inc.FirstSeen
	if d, ok := v.target(ClockNotification, inc); ok {
		out = append(out, NewClock(v.cal, ClockNotification, started, d, sent, v.now))
	}
	if d, ok := v.target(ClockFirstResponse, inc); ok {
		stop := v.human[inc.Ref]
		if !isolated.IsZero() && (stop.IsZero() || isolated.Before(stop)) {
			stop = isolated
		}
		out = append(out, NewClock(v.cal, ClockFirstResponse, started, d, stop, v.now))
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

// Calendar is the tenant's service calendar the clocks run on.
func (v *View) Calendar() *Calendar { return v.cal }

// Target is a clock's budget for an incident, and whether the contract
// sets one.
func (v *View) Target(name string, inc *ticket.Incident) (time.Duration, bool) {
	return v.target(name, inc)
}

// Tracker computes the contract's clocks and the tenants' attainment from
// what the store records.
type Tracker struct {
	Store   Store
	Tenants Tenants
	Clock   func() time.Time
	// VirtualTime: clocks are looked at when the replayed stream ends (see
	// View).
	VirtualTime bool
}

// Tenants finds a running tenant's contract.
type Tenants interface {
	File(id string) (*tenant.Tenant, bool)
}

// Store is what the Tracker reads.
type Store interface {
	FirstHumanActs(ctx context.Context, tenant string, objects []string) (map[string]time.Time, error)
	Incidents(ctx context.Context, tenant string) ([]*ticket.Incident, error)
	IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*response.Action, error)
	IncidentNotifications(ctx context.Context, tenant string, incidentID int64) ([]*notify.Notification, error)
	Tickets(ctx context.Context, tenant string, f ticket.Filter) ([]*ticket.Ticket, error)
	Ticket(ctx context.Context, tenant string, id int64) (*ticket.Ticket, error)
	VendorEscalations(ctx context.Context, tenant string, id int64) ([]ticket.VendorEscalation, error)
	ReportDelivery(ctx context.Context, tenant, kind, period string) (*ticket.ReportSent, error)
	RecordReportSent(ctx context.Context, tenant string, r ticket.ReportSent) (*ticket.ReportSent, bool, error)
}
