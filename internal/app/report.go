package app

import (
	"context"
	"time"

	"github.com/bannin-soc/bannin/internal/slo"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Result is `bannin replay`'s output, as DESIGN.md fixes it: add fields,
// never rename.
type Result struct {
	Alerts    AlertCounts   `json:"alerts"`
	Incidents []IncidentOut `json:"incidents"`
}

// AlertCounts summarises intake. Received, accepted and quarantined count
// payloads; duplicates and suppressed count alerts.
type AlertCounts struct {
	Received    int `json:"received"`
	Accepted    int `json:"accepted"`
	Duplicates  int `json:"duplicates"`
	Quarantined int `json:"quarantined"`
	Suppressed  int `json:"suppressed"`
}

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
	Alerts []AlertOut            `json:"alerts"`
	Notes  []ticket.Note         `json:"notes"`
	Audit  []sqlstore.AuditEntry `json:"-"`
	// Acknowledged is who took the incident in hand (null: nobody yet);
	// Escalation the chain's steps taken; SLOSignals the clock warnings
	// and breaches raised.
	Acknowledged *sqlstore.Ack             `json:"acknowledged"`
	Escalation   []sqlstore.EscalationStep `json:"escalation"`
	SLOSignals   []sqlstore.Signal         `json:"slo_signals"`
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
func (a *App) Incidents(ctx context.Context, tenants ...string) ([]IncidentOut, error) {
	out := []IncidentOut{}
	for _, t := range tenants {
		incs, err := a.DB.Incidents(ctx, t)
		if err != nil {
			return nil, err
		}
		cv, err := a.newClockView(ctx, t, incs)
		if err != nil {
			return nil, err
		}
		vendors, err := a.DB.IncidentVendors(ctx, t)
		if err != nil {
			return nil, err
		}
		if cv == nil {
			cv = &clockView{} // a tenant no longer configured: no clocks
		}
		cv.vendors = vendors
		for _, inc := range incs {
			o, err := a.incidentOut(ctx, inc, cv)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

func (a *App) incidentOut(ctx context.Context, inc *ticket.Incident, cv *clockView) (IncidentOut, error) {
	o := IncidentOut{ID: inc.Ref, Tenant: inc.Tenant, Title: inc.Title, Priority: inc.Priority, Severity: inc.Severity,
		Score: inc.Score, Status: string(inc.Status), Verdict: string(inc.Verdict), NeedsHuman: inc.NeedsHuman,
		AlertCount: inc.AlertCount, Hosts: inc.Hosts, Techniques: inc.Techniques, Evidence: inc.Evidence,
		Actions: []ActionOut{}, Notifications: []NotificationOut{}, Vendors: []string{}}
	if cv != nil && cv.vendors != nil {
		o.Vendors = append(o.Vendors, cv.vendors[inc.ID]...)
	} else {
		vs, err := a.DB.IncidentVendors(ctx, inc.Tenant)
		if err != nil {
			return o, err
		}
		o.Vendors = append(o.Vendors, vs[inc.ID]...)
	}
	acts, err := a.DB.IncidentActions(ctx, inc.Tenant, inc.ID)
	if err != nil {
		return o, err
	}
	for _, act := range acts {
		o.Actions = append(o.Actions, actionOut(act))
	}
	ns, err := a.DB.IncidentNotifications(ctx, inc.Tenant, inc.ID)
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
	o.Clocks = cv.clocks(inc, acts, ns)
	return o, nil
}

func actionOut(act *response.Action) ActionOut {
	return ActionOut{Kind: string(act.Kind), Host: act.HostKey, State: string(act.State), At: act.UpdatedAt, Reason: act.Reason,
		Detail: act.Detail}
}

// IncidentView loads one incident with its alerts, actions, notifications
// and notes.
func (a *App) IncidentView(ctx context.Context, tenantID string, id int64) (*IncidentView, error) {
	inc, err := a.DB.Incident(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	cv, err := a.newClockView(ctx, tenantID, []*ticket.Incident{inc})
	if err != nil {
		return nil, err
	}
	o, err := a.incidentOut(ctx, inc, cv)
	if err != nil {
		return nil, err
	}
	v := &IncidentView{IncidentOut: o}
	rows, err := a.DB.IncidentAlerts(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		v.Alerts = append(v.Alerts, AlertOut{VendorID: r.Alert.VendorID, Vendor: r.Alert.Vendor, Host: alert.HostKey(r.Alert.Host),
			Title: r.Alert.Title, Disposition: r.Disposition, Score: r.Score, Reason: r.Reason, Received: r.Alert.Received})
	}
	if v.Notes, err = a.DB.Notes(ctx, tenantID, id); err != nil {
		return nil, err
	}
	if v.Acknowledged, err = a.DB.IncidentAck(ctx, tenantID, id); err != nil {
		return nil, err
	}
	if v.Escalation, err = a.DB.EscalationSteps(ctx, tenantID, id); err != nil {
		return nil, err
	}
	v.Escalation = append([]sqlstore.EscalationStep{}, v.Escalation...)
	v.SLOSignals, err = a.DB.Signals(ctx, tenantID, inc.Ref)
	v.SLOSignals = append([]sqlstore.Signal{}, v.SLOSignals...)
	return v, err
}
