package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// commit writes the alert into a new or existing incident and queues the
// effects the incident's new state calls for.
func commit(ctx context.Context, st Store, t *Tenant, row *sqlstore.AlertRow, inc *ticket.Incident,
	j judgement, level string, now time.Time) (Outcome, error) {
	a := &row.Alert
	before := incidentState{}
	if inc == nil {
		inc = &ticket.Incident{Tenant: a.Tenant, Status: ticket.StatusOpen, FirstSeen: a.Received, CreatedAt: now,
			Title: title(a), Priority: j.priority}
	} else {
		before = incidentState{level: inc.Severity, priority: inc.Priority, needsHuman: inc.NeedsHuman, hosts: inc.Hosts}
	}
	merge(t, inc, a, j, level, now)
	if inc.ID == 0 {
		if err := st.InsertIncident(ctx, inc); err != nil {
			return Outcome{}, err
		}
	} else if err := st.UpdateIncident(ctx, inc); err != nil {
		return Outcome{}, err
	}
	row.IncidentID = inc.ID
	row.Reason = reasonLine(inc, j, level)
	if err := st.InsertAlert(ctx, row); err != nil {
		return Outcome{}, err
	}
	if err := auditIncident(ctx, st, inc, a, before, row.Reason); err != nil {
		return Outcome{}, err
	}
	out := Outcome{Disposition: row.Disposition, Incident: inc, Reason: row.Reason}
	var err error
	rose := before.level == "" || t.SeverityScale.Index(inc.Severity) < t.SeverityScale.Index(before.level)
	if out.Contain, err = contain(ctx, st, t, inc, a, rose, now); err != nil {
		return out, err
	}
	out.Notify, err = notify(ctx, st, t, inc, before, now)
	return out, err
}

// incidentState is what an incident was before this alert, to tell which
// changes call for new effects.
type incidentState struct {
	level      string
	priority   alert.Priority
	needsHuman bool
	hosts      []string
}

func merge(t *Tenant, inc *ticket.Incident, a *alert.Alert, j judgement, level string, now time.Time) {
	host := alert.HostKey(a.Host)
	// The incident's evidence explains its rating: an alert adds its own
	// when it opens the incident, raises the score or brings a new host.
	// Every alert keeps its full reason line on its own row either way, so a
	// noisy host cannot grow the incident without bound.
	explains := inc.ID == 0 || j.score > inc.Score || !slices.Contains(inc.Hosts, host)
	inc.AlertCount++
	inc.LastSeen = maxTime(inc.LastSeen, a.Received)
	inc.UpdatedAt = now
	inc.Hosts = union(inc.Hosts, host)
	inc.Techniques = union(inc.Techniques, a.Techniques...)
	inc.Priority = inc.Priority.Higher(j.priority)
	if inc.Severity == "" || t.SeverityScale.Index(level) < t.SeverityScale.Index(inc.Severity) {
		inc.Severity, inc.Score = level, j.score
		inc.Title = title(a)
	} else if j.score > inc.Score {
		inc.Score = j.score
	}
	inc.NeedsHuman = inc.NeedsHuman || t.Policy.NeedsHuman(inc.Severity)
	if !explains {
		// How an address-only alert was tied to the host is always worth
		// showing: it is why the alert is in this incident at all.
		for _, e := range j.evidence {
			if e.Signal == "host_match" {
				inc.Evidence = append(inc.Evidence, e)
			}
		}
		return
	}
	prefix := fmt.Sprintf("[%s@%s] ", orDash(a.Process.Name), host)
	if len(inc.Evidence) == 0 {
		prefix = ""
	}
	for _, e := range j.evidence {
		if prefix != "" {
			e.Detail = prefix + e.Detail
			if e.DetailJA != "" {
				e.DetailJA = prefix + e.DetailJA
			}
		}
		inc.Evidence = append(inc.Evidence, e)
	}
}

func title(a *alert.Alert) string {
	name := a.Title
	if name == "" {
		name = a.Process.Name
	}
	return orDash(name)
}

func reasonLine(inc *ticket.Incident, j judgement, level string) string {
	var parts []string
	for _, e := range j.evidence {
		parts = append(parts, fmt.Sprintf("%s%+d", e.Signal, e.Contribution))
	}
	return fmt.Sprintf("%s: score %d → %s, %s (%s)", inc.Ref, j.score, level, j.priority, strings.Join(parts, ", "))
}

func auditIncident(ctx context.Context, st Store, inc *ticket.Incident, a *alert.Alert, before incidentState, reason string) error {
	action := "incident.opened"
	if before.level != "" {
		action = "incident.alert_added"
	}
	return st.Audit(ctx, sqlstore.AuditEntry{Tenant: inc.Tenant, At: inc.UpdatedAt, Actor: "bannin", Action: action,
		Object: inc.Ref, Detail: a.VendorID + ": " + reason})
}

// contain decides isolation for every host of the incident that has no
// containment action yet, and returns the actions to run now. The decision is
// per host: a critical server in a spreading incident still waits for a human.
func contain(ctx context.Context, st Store, t *Tenant, inc *ticket.Incident, a *alert.Alert, rose bool, now time.Time) ([]int64, error) {
	if t.Policy.Containment(inc.Severity, "").Action == "none" {
		return nil, nil // below min_severity: nothing to isolate anywhere
	}
	existing, err := st.IncidentActions(ctx, inc.Tenant, inc.ID)
	if err != nil {
		return nil, err
	}
	// Only a rise in severity can bring the incident's other hosts over the
	// line; otherwise only this alert's host is new to decide on.
	targets := []target{targetOf(a)}
	if rose {
		if targets, err = isolationTargets(ctx, st, inc, a); err != nil {
			return nil, err
		}
	}
	var run []int64
	for _, tg := range targets {
		if tg.HostKey == "" || tg.HostID == "" {
			continue // nothing the vendor could act on
		}
		if slices.ContainsFunc(existing, func(x *response.Action) bool { return x.HostKey == tg.HostKey && x.Kind == response.KindIsolate }) {
			continue
		}
		id, err := decideIsolation(ctx, st, t, inc, tg, now)
		if err != nil {
			return nil, err
		}
		if id != 0 {
			run = append(run, id)
		}
	}
	return run, nil
}

// target is a host of an incident with the source and vendor id to act on it.
type target struct {
	HostKey, HostName, HostID, Source string
}

func isolationTargets(ctx context.Context, st Store, inc *ticket.Incident, a *alert.Alert) ([]target, error) {
	rows, err := st.IncidentAlerts(ctx, inc.Tenant, inc.ID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []target
	for _, x := range append(rows, sqlstore.AlertRow{Alert: *a}) {
		tg := targetOf(&x.Alert)
		if seen[tg.HostKey] {
			continue
		}
		seen[tg.HostKey] = true
		out = append(out, tg)
	}
	return out, nil
}

func targetOf(a *alert.Alert) target {
	return target{HostKey: alert.HostKey(a.Host), HostName: a.Host.Name, HostID: a.Host.ID, Source: a.Source}
}

func decideIsolation(ctx context.Context, st Store, t *Tenant, inc *ticket.Incident, tg target, now time.Time) (int64, error) {
	d := t.Policy.Containment(inc.Severity, tg.HostName)
	var state response.State
	switch d.Action {
	case "isolate":
		state = response.StateRequested
	case "approve":
		state = response.StateAwaitingApproval
	default:
		return 0, nil
	}
	act := &response.Action{Tenant: inc.Tenant, IncidentID: inc.ID, Kind: response.KindIsolate, Source: tg.Source,
		HostKey: tg.HostKey, HostID: tg.HostID, State: state, Reason: d.Reason,
		Key: fmt.Sprintf("%s/%s/isolate/%s", inc.Tenant, inc.Ref, tg.HostKey), CreatedAt: now, UpdatedAt: now}
	if err := st.InsertAction(ctx, act); err != nil {
		return 0, err
	}
	if err := st.Audit(ctx, sqlstore.AuditEntry{Tenant: inc.Tenant, At: now, Actor: "bannin", Action: "action." + string(state),
		Object: inc.Ref, Detail: fmt.Sprintf("isolate %s (%s): %s", tg.HostKey, tg.HostID, d.Reason)}); err != nil {
		return 0, err
	}
	if state == response.StateRequested {
		return act.ID, nil
	}
	return 0, nil
}

// notify queues notifications when an incident first needs a human, and again
// when its severity rises.
func notify(ctx context.Context, st Store, t *Tenant, inc *ticket.Incident, before incidentState, now time.Time) ([]int64, error) {
	if !inc.NeedsHuman {
		return nil, nil
	}
	kind := "first"
	if before.needsHuman {
		if t.SeverityScale.Index(inc.Severity) >= t.SeverityScale.Index(before.level) {
			return nil, nil // already told, and it got no worse
		}
		kind = "update"
	}
	var ids []int64
	for _, r := range t.Policy.Routes(inc.Severity) {
		n := &sqlstore.Notification{Tenant: inc.Tenant, IncidentID: inc.ID, Channel: string(r.Via), Contact: r.ContactName,
			Address: r.Address, Language: r.Language, Kind: kind, State: "pending", CreatedAt: now}
		if err := st.InsertNotification(ctx, n); err != nil {
			return nil, err
		}
		ids = append(ids, n.ID)
		if err := st.Audit(ctx, sqlstore.AuditEntry{Tenant: inc.Tenant, At: now, Actor: "bannin", Action: "notification.queued",
			Object: inc.Ref, Detail: fmt.Sprintf("%s notice by %s to %s (%s)", kind, r.Via, r.ContactName, inc.Severity)}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
