// Package triage decides, for each decoded alert, whether it is a duplicate,
// allowlisted noise, or part of an incident — and, for incidents, how severe
// and urgent they are, whether to isolate, and whom to tell. Decisions are
// deterministic given the alert, the tenant's state and the alert's receipt
// time, and each carries its evidence.
package triage

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Store is what triage reads and writes, inside one transaction.
type Store interface {
	AlertSeen(ctx context.Context, tenant, source, vendorID string) (bool, error)
	OpenIncidentByFingerprint(ctx context.Context, tenant, fp string) (*ticket.Incident, error)
	OpenIncidentByHost(ctx context.Context, tenant, hostKey string, since time.Time) (*ticket.Incident, error)
	OpenIncidentByHash(ctx context.Context, tenant, sha256, hostKey string, since time.Time) (*ticket.Incident, error)
	PrevalenceWith(ctx context.Context, tenant, pattern string, since time.Time, host string, at time.Time) (hosts, days int, err error)
	InsertIncident(ctx context.Context, in *ticket.Incident) error
	UpdateIncident(ctx context.Context, in *ticket.Incident) error
	InsertAlert(ctx context.Context, r *sqlstore.AlertRow) error
	AddNote(ctx context.Context, tenant string, incidentID int64, n ticket.Note) error
	IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*response.Action, error)
	IncidentAlerts(ctx context.Context, tenant string, incidentID int64) ([]sqlstore.AlertRow, error)
	InsertAction(ctx context.Context, a *response.Action) error
	InsertNotification(ctx context.Context, n *sqlstore.Notification) error
	Audit(ctx context.Context, e sqlstore.AuditEntry) error
	HostByIP(ctx context.Context, tenant, ip string, since time.Time) (sqlstore.HostAt, bool, error)
	// StoredAllowed answers for the allowlist entries applied PCRs made,
	// which live in the store rather than in the tenant file.
	StoredAllowed(ctx context.Context, tenant string, a *alert.Alert) (reason string, ok bool, err error)
}

var _ Store = (*sqlstore.Tx)(nil)

// Windows of the default judgement.
const (
	HostWindow       = 24 * time.Hour     // alerts of one host within this join one incident
	SpreadWindow     = 7 * 24 * time.Hour // the same hash on another host within this is spread
	PrevalenceWindow = 14 * 24 * time.Hour
	// AddressWindow is how long an address stays with the host a vendor
	// last named at it (DHCP leases move addresses between hosts).
	AddressWindow = 7 * 24 * time.Hour
)

// Tenant is a tenant with its compiled policy, as triage needs it.
type Tenant struct {
	*tenant.Tenant
	Policy *policy.Policy
}

// Outcome says what triage did with one alert.
type Outcome struct {
	Disposition string // a sqlstore.Disposition* value, or "duplicate"
	Incident    *ticket.Incident
	Reason      string
	Contain     []int64 // action ids to run now
	Notify      []int64 // notification ids to deliver
}

// Duplicate is the disposition of an alert that was already stored.
const Duplicate = "duplicate"

// Process triages one alert received at a.Received and records the outcome.
func Process(ctx context.Context, st Store, t *Tenant, a *alert.Alert, inboxID int64) (Outcome, error) {
	seen, err := st.AlertSeen(ctx, a.Tenant, a.Source, a.VendorID)
	if err != nil || seen {
		return Outcome{Disposition: Duplicate, Reason: "alert " + a.VendorID + " was already received"}, err
	}
	now := a.Received
	via, err := matchHost(ctx, st, a, now)
	if err != nil {
		return Outcome{}, err
	}
	row := &sqlstore.AlertRow{InboxID: inboxID, Alert: *a, Score: a.Score, NoSpread: !suspicious(a)}
	if reason, ok := t.Policy.Allowed(a); ok {
		return suppress(ctx, st, row, "allowlist: "+reason)
	}
	if reason, ok, err := st.StoredAllowed(ctx, a.Tenant, a); err != nil || ok {
		if err != nil {
			return Outcome{}, err
		}
		return suppress(ctx, st, row, "allowlist: "+reason)
	}
	if o, ok, err := fold(ctx, st, row); ok || err != nil {
		return o, err
	}
	f, err := gather(ctx, st, t, a, now)
	if err != nil {
		return Outcome{}, err
	}
	f.hostVia = via
	j := score(a, f)
	inc, disposition, err := place(ctx, st, a, f, now)
	if err != nil {
		return Outcome{}, err
	}
	level := t.SeverityScale.Level(j.score)
	effects, err := t.Policy.Rules(ruleInput(t, a, inc, level, j, f))
	if err != nil {
		// A broken rule must not stop intake: record it and go on.
		j.evidence = append(j.evidence, ticket.Evidence{Signal: "rule_error", Detail: err.Error(),
			DetailJA: "テナントルールの評価に失敗: " + err.Error()})
	}
	for _, e := range effects {
		if e.Suppress {
			return suppress(ctx, st, row, "rule "+e.Rule)
		}
		level, j = applyEffect(t, e, level, j)
	}
	row.Score, row.Disposition = j.score, disposition
	return commit(ctx, st, t, row, inc, j, level, now)
}

// matchHost names the host of an alert that carries only addresses (a
// firewall's or proxy's log line) after the host another vendor last saw at
// one of them, so that the alert joins that host's incident. It returns
// how, for the evidence, or nil when nothing was matched.
func matchHost(ctx context.Context, st Store, a *alert.Alert, now time.Time) (*hostMatch, error) {
	if name := strings.TrimSpace(a.Host.Name); name != "" {
		if _, err := netip.ParseAddr(name); err != nil {
			return nil, nil // a real name
		}
	}
	for _, ip := range a.Host.IPs {
		h, ok, err := st.HostByIP(ctx, a.Tenant, ip, now.Add(-AddressWindow))
		if err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		a.Host.Name = h.HostKey
		return &hostMatch{ip: ip, host: h.HostKey, vendor: h.Vendor}, nil
	}
	return nil, nil
}

type hostMatch struct{ ip, host, vendor string }

// fold joins the same event, seen again while its incident is open.
func fold(ctx context.Context, st Store, row *sqlstore.AlertRow) (Outcome, bool, error) {
	a := &row.Alert
	inc, err := st.OpenIncidentByFingerprint(ctx, a.Tenant, a.Fingerprint())
	if err != nil || inc == nil {
		return Outcome{}, false, err
	}
	row.IncidentID, row.Disposition = inc.ID, sqlstore.DispositionFolded
	row.Reason = "same event as an alert of " + inc.Ref + " (fingerprint " + a.Fingerprint()[:12] + ")"
	if err := st.InsertAlert(ctx, row); err != nil {
		return Outcome{}, true, err
	}
	inc.AlertCount++
	inc.LastSeen = maxTime(inc.LastSeen, a.Received)
	inc.UpdatedAt = a.Received
	if err := st.UpdateIncident(ctx, inc); err != nil {
		return Outcome{}, true, err
	}
	note := fmt.Sprintf("同一の事象を再検知 / the same event was detected again: %s on %s (%s); folded into this incident",
		orDash(a.Title), alert.HostKey(a.Host), a.VendorID)
	if err := st.AddNote(ctx, a.Tenant, inc.ID, ticket.Note{At: a.Received, Author: "bannin", Text: note}); err != nil {
		return Outcome{}, true, err
	}
	return Outcome{Disposition: sqlstore.DispositionFolded, Incident: inc, Reason: row.Reason}, true, nil
}

func suppress(ctx context.Context, st Store, row *sqlstore.AlertRow, reason string) (Outcome, error) {
	row.Disposition, row.Reason = sqlstore.DispositionSuppressed, reason
	if err := st.InsertAlert(ctx, row); err != nil {
		return Outcome{}, err
	}
	a := &row.Alert
	err := st.Audit(ctx, sqlstore.AuditEntry{Tenant: a.Tenant, At: a.Received, Actor: "bannin", Action: "alert.suppressed",
		Object: a.VendorID, Detail: reason})
	return Outcome{Disposition: sqlstore.DispositionSuppressed, Reason: reason}, err
}

// gather reads what the tenant's state says about the alert.
func gather(ctx context.Context, st Store, t *Tenant, a *alert.Alert, now time.Time) (facts, error) {
	f := facts{critical: t.IsCritical(a.Host.Name)}
	hosts, days, err := st.PrevalenceWith(ctx, a.Tenant, a.Pattern(), now.Add(-PrevalenceWindow), alert.HostKey(a.Host), now)
	if err != nil {
		return f, err
	}
	f.prevHosts, f.prevDays, f.prevalenceOK = hosts, days, true
	if h := a.SuspiciousHash(); h != "" && suspicious(a) && !f.isNoise(a.Score) {
		inc, err := st.OpenIncidentByHash(ctx, a.Tenant, h, alert.HostKey(a.Host), now.Add(-SpreadWindow))
		if err != nil {
			return f, err
		}
		if inc != nil {
			f.spreadHosts = len(without(inc.Hosts, alert.HostKey(a.Host)))
		}
	}
	return f, nil
}

// suspicious reports whether an alert's hash is worth following to other
// hosts: the product let it run and rates it high (70: CrowdStrike's
// "High"). It is the same line as the prevalence rule's: a medium rating
// (≤ 69) may be estate-wide noise and is never spread; a high one is never
// noise.
func suspicious(a *alert.Alert) bool {
	return a.Score > noiseMaxScore && !a.Action.Mitigated()
}

// place finds the open incident the alert belongs to (same host within 24 h,
// else the same suspicious hash elsewhere), or returns nil for a new one.
func place(ctx context.Context, st Store, a *alert.Alert, f facts, now time.Time) (*ticket.Incident, string, error) {
	host := alert.HostKey(a.Host)
	inc, err := st.OpenIncidentByHost(ctx, a.Tenant, host, now.Add(-HostWindow))
	if err != nil || inc != nil {
		return inc, sqlstore.DispositionGrouped, err
	}
	if f.spreadHosts > 0 {
		inc, err = st.OpenIncidentByHash(ctx, a.Tenant, a.SuspiciousHash(), host, now.Add(-SpreadWindow))
		return inc, sqlstore.DispositionGrouped, err
	}
	return nil, sqlstore.DispositionNew, nil
}

func ruleInput(t *Tenant, a *alert.Alert, inc *ticket.Incident, level string, j judgement, f facts) policy.RuleInput {
	in := policy.RuleInput{Alert: a, Time: a.Received.In(t.Location)}
	in.Incident = policy.IncidentFacts{Priority: j.priority, Severity: level, Hosts: []string{alert.HostKey(a.Host)}, AlertCount: 1}
	if inc != nil {
		in.Incident.Hosts = union(inc.Hosts, alert.HostKey(a.Host))
		in.Incident.AlertCount = inc.AlertCount + 1
	}
	in.Asset = policy.AssetFacts{Critical: f.critical, Role: a.Host.Role}
	return in
}

func applyEffect(t *Tenant, e policy.Effect, level string, j judgement) (string, judgement) {
	if e.Severity != "" && e.Severity != level {
		floor := t.SeverityScale.Floor(e.Severity)
		j.evidence = append(j.evidence, ticket.Evidence{Signal: "rule", Contribution: floor - j.score,
			Detail:   fmt.Sprintf("rule %q sets severity %s", e.Rule, e.Severity),
			DetailJA: fmt.Sprintf("ルール「%s」により深刻度を %s に設定", e.Rule, e.Severity)})
		level, j.score = e.Severity, floor
	}
	if e.Priority != "" && e.Priority != j.priority {
		j.evidence = append(j.evidence, ticket.Evidence{Signal: "rule", Detail: fmt.Sprintf("rule %q sets priority %s", e.Rule, e.Priority),
			DetailJA: fmt.Sprintf("ルール「%s」により優先度を %s に設定", e.Rule, e.Priority)})
		j.priority = e.Priority
	}
	return level, j
}

func union(list []string, more ...string) []string {
	out := slices.Clone(list)
	for _, m := range more {
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func without(list []string, x string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == x })
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
