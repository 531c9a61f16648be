// Package view reads one incident, or all of a tenant's, with everything
// that happened to it — alerts and what triage made of them, containment
// actions, notifications, SLO clocks, notes, acknowledgement, escalation
// steps — in the shapes that replay output, the REST API and the CLI share
// (DESIGN.md fixes replay's: add fields, never rename).
package view

import (
	"context"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/audit"
	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// IncidentOut is one incident in replay output.
type IncidentOut struct {
	ID            string            `json:"id"`
	Tenant        string            `json:"tenant"`
	Title         string            `json:"title"`
	Priority      alert.Priority    `json:"priority"`
	Severity      string            `json:"severity"`
	Score         int               `json:"score"`
	Status        string            `json:"status"`
	Verdict       string            `json:"verdict"`
	NeedsHuman    bool              `json:"needs_human"`
	AlertCount    int               `json:"alert_count"`
	Hosts         []string          `json:"hosts"`
	Vendors       []string          `json:"vendors"` // whose alerts the incident holds
	Techniques    []string          `json:"techniques"`
	Evidence      []ticket.Evidence `json:"evidence"`
	Actions       []ActionOut       `json:"actions"`
	Notifications []NotificationOut `json:"notifications"`
	// Clocks are the contract's SLO clocks of an incident that needs a
	// human (see docs/slo.md).
	Clocks []slo.Clock `json:"clocks"`
}

// ActionOut is one containment action in replay output.
type ActionOut struct {
	Kind   string    `json:"kind"`
	Host   string    `json:"host"`
	State  string    `json:"state"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// Detail is the latest outcome: the vendor's answer, or why it failed.
	Detail string `json:"detail,omitempty"`
}

// NotificationOut is one notification in replay output.
type NotificationOut struct {
	Channel string    `json:"channel"`
	Contact string    `json:"contact"`
	At      time.Time `json:"at"`
	State   string    `json:"state"`
}

// IncidentView is one incident with everything that happened to it.
type IncidentView struct {
	IncidentOut
	Alerts []AlertOut    `json:"alerts"`
	Notes  []ticket.Note `json:"notes"`
	Audit  []audit.Entry `json:"-"`
	// Acknowledged is who took the incident in hand (null: nobody yet);
	// Escalation the chain's steps taken; SLOSignals the clock warnings
	// and breaches raised.
	Acknowledged *escalation.Ack             `json:"acknowledged"`
	Escalation   []escalation.EscalationStep `json:"escalation"`
	SLOSignals   []escalation.Signal         `json:"slo_signals"`
}

// AlertOut is one alert of an incident, with what triage made of it.
type AlertOut struct {
	VendorID    string    `json:"vendor_id"`
	Vendor      string    `json:"vendor"`
	Host        string    `json:"host"`
	Title       string    `json:"title"`
	Disposition string    `json:"disposition"`
	Score       int       `json:"score"`
	Reason      string    `json:"reason"`
	Received    time.Time `json:"received"`
}

// Incidents returns the output form of every incident of the tenants.
func (r *Reader) Incidents(ctx context.Context, tenants ...string) ([]IncidentOut, error) {
	out := []IncidentOut{}
	for _, t := range tenants {
		incs, err := r.Store.Incidents(ctx, t)
		if err != nil {
			return nil, err
		}
		cv, err := r.SLO.View(ctx, t, incs)
		if err != nil {
			return nil, err
		}
		vendors, err := r.Store.IncidentVendors(ctx, t)
		if err != nil {
			return nil, err
		}
		if cv == nil {
			cv = &slo.View{} // a tenant no longer configured: no clocks
		}
		for _, inc := range incs {
			o, err := r.incidentOut(ctx, inc, cv, vendors)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// incidentOut is one incident's output form; vendors are the vendors of
// the tenant's incidents when the caller has read them, else nil.
func (r *Reader) incidentOut(ctx context.Context, inc *ticket.Incident, cv *slo.View, vendors map[int64][]string) (IncidentOut, error) {
	o := IncidentOut{ID: inc.Ref, Tenant: inc.Tenant, Title: inc.Title, Priority: inc.Priority, Severity: inc.Severity,
		Score: inc.Score, Status: string(inc.Status), Verdict: string(inc.Verdict), NeedsHuman: inc.NeedsHuman,
		AlertCount: inc.AlertCount, Hosts: inc.Hosts, Techniques: inc.Techniques, Evidence: inc.Evidence,
		Actions: []ActionOut{}, Notifications: []NotificationOut{}, Vendors: []string{}}
	if vendors != nil {
		o.Vendors = append(o.Vendors, vendors[inc.ID]...)
	} else {
		vs, err := r.Store.IncidentVendors(ctx, inc.Tenant)
		if err != nil {
			return o, err
		}
		o.Vendors = append(o.Vendors, vs[inc.ID]...)
	}
	acts, err := r.Store.IncidentActions(ctx, inc.Tenant, inc.ID)
	if err != nil {
		return o, err
	}
	for _, act := range acts {
		o.Actions = append(o.Actions, ActionOf(act))
	}
	ns, err := r.Store.IncidentNotifications(ctx, inc.Tenant, inc.ID)
	if err != nil {
		return o, err
	}
	for _, n := range ns {
		at := n.SentAt
		if at.IsZero() {
			at = n.CreatedAt
		}
		o.Notifications = append(o.Notifications, NotificationOut{Channel: n.Channel, Contact: n.Contact, At: at, State: n.State})
	}
	o.Clocks = cv.Clocks(inc, acts, ns)
	return o, nil
}

// ActionOf is an action in output form.
func ActionOf(act *response.Action) ActionOut {
	return ActionOut{Kind: string(act.Kind), Host: act.HostKey, State: string(act.State), At: act.UpdatedAt, Reason: act.Reason,
		Detail: act.Detail}
}

// IncidentView loads one incident with its alerts, actions, notifications
// and notes.
func (r *Reader) IncidentView(ctx context.Context, tenantID string, id int64) (*IncidentView, error) {
	inc, err := r.Store.Incident(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	cv, err := r.SLO.View(ctx, tenantID, []*ticket.Incident{inc})
	if err != nil {
		return nil, err
	}
	o, err := r.incidentOut(ctx, inc, cv, nil)
	if err != nil {
		return nil, err
	}
	v := &IncidentView{IncidentOut: o}
	if v.Alerts, err = r.Store.AlertsOf(ctx, tenantID, id); err != nil {
		return nil, err
	}
	if v.Notes, err = r.Store.Notes(ctx, tenantID, id); err != nil {
		return nil, err
	}
	if v.Acknowledged, err = r.Store.IncidentAck(ctx, tenantID, id); err != nil {
		return nil, err
	}
	if v.Escalation, err = r.Store.EscalationSteps(ctx, tenantID, id); err != nil {
		return nil, err
	}
	v.Escalation = append([]escalation.EscalationStep{}, v.Escalation...)
	v.SLOSignals, err = r.Store.Signals(ctx, tenantID, inc.Ref)
	v.SLOSignals = append([]escalation.Signal{}, v.SLOSignals...)
	return v, err
}

// Reader reads incidents in their output forms.
type Reader struct {
	Store Store
	SLO   *slo.Tracker
}

// Store is what the Reader reads.
type Store interface {
	Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error)
	Incidents(ctx context.Context, tenant string) ([]*ticket.Incident, error)
	IncidentVendors(ctx context.Context, tenant string) (map[int64][]string, error)
	IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*response.Action, error)
	IncidentNotifications(ctx context.Context, tenant string, incidentID int64) ([]*notify.Notification, error)
	// AlertsOf lists an incident's alerts with what triage made of them.
	AlertsOf(ctx context.Context, tenant string, incidentID int64) ([]AlertOut, error)
	Notes(ctx context.Context, tenant string, incidentID int64) ([]ticket.Note, error)
	IncidentAck(ctx context.Context, tenant string, incidentID int64) (*escalation.Ack, error)
	EscalationSteps(ctx context.Context, tenant string, incidentID int64) ([]escalation.EscalationStep, error)
	Signals(ctx context.Context, tenant, object string) ([]escalation.Signal, error)
}
