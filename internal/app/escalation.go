package app

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/bannin-soc/bannin/internal/acklink"
	"github.com/bannin-soc/bannin/internal/estate"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// escalateEvery is how often a node looks for escalation steps and SLO
// warnings that have come due. Due times are computed exactly from the
// chain and the calendar; the sweep only decides how soon after them the
// message goes out.
const escalateEvery = 5 * time.Second

// dfirMaxWait caps every wait of an incident's chain while it is in DFIR
// mode, and its steps ignore their hours: a ransomware incident under
// forensics is escalated faster and at any hour.
const dfirMaxWait = 5 * time.Minute

// Step outcomes, as escalation_steps and `bannin incident show` record them.
const (
	StepNotified     = "notified"
	StepSkippedHours = "skipped_hours"
	StepPassed       = "passed" // overtaken by a later step due at the same sweep
)

// chainOf returns the escalation route of an incident: the first route
// for its severity, made stricter in DFIR mode.
func chainOf(t *tenant.Tenant, inc *ticket.Incident) (tenant.Route, bool) {
	for _, r := range t.Notify {
		for _, s := range r.Severities {
			if s != inc.Severity {
				continue
			}
			if inc.DFIR {
				r = dfirRoute(r)
			}
			return r, true
		}
	}
	return tenant.Route{}, false
}

func dfirRoute(r tenant.Route) tenant.Route {
	steps := make([]tenant.Step, len(r.Escalate))
	for i, s := range r.Escalate {
		steps[i] = tenant.Step{After: min(s.After, dfirMaxWait), To: s.To}
	}
	r.Escalate = steps
	if r.RepeatAfter > 0 {
		r.RepeatAfter = min(r.RepeatAfter, dfirMaxWait)
	}
	return r
}

// longestChain is how long after its start a chain of the tenant can
// still have a step due.
func longestChain(t *tenant.Tenant) time.Duration {
	var longest time.Duration
	for _, r := range t.Notify {
		if c := r.Chain(); len(c) > 1 {
			longest = max(longest, c[len(c)-1].Offset)
		}
	}
	return longest
}

// SweepEscalations takes every escalation step that has come due for an
// incident nobody has acknowledged: it notifies the step's contacts, or
// skips a step outside its hours, once per step whatever the number of
// sweeps and nodes. It reports whether it ran: false when another node
// holds the sweep's lease.
func (a *App) SweepEscalations(ctx context.Context) (ran bool, err error) {
	return a.sweepTenants(ctx, "sweep:escalation", a.escalateTenant)
}

// escalateTenant takes a tenant's due escalation steps.
func (a *App) escalateTenant(ctx context.Context, rt *estate.Tenant, now time.Time) error {
	t := rt.Triage.Tenant
	longest := longestChain(t)
	if longest == 0 {
		return nil // no route of this tenant escalates
	}
	list, err := a.DB.Unacknowledged(ctx, t.ID, now.Add(-longest-24*time.Hour))
	if err != nil {
		return err
	}
	for _, c := range list {
		route, ok := chainOf(t, c.Incident)
		if !ok {
			continue
		}
		// Every step due and not taken yet; only the latest is acted
		// on, the others are recorded as passed (after an outage, or
		// when DFIR mode shortened the waits, several fall due at once
		// and one call is enough).
		var due []tenant.ChainStep
		for _, st := range route.Chain() {
			if c.Start.Add(st.Offset).After(now) {
				break
			}
			if (st.Round == 0 && st.First) || c.Taken[sqlstore.StepKey(st.Round, st.Step)] {
				continue // the first notice itself, or done already
			}
			due = append(due, st)
		}
		outcomes, err := stepOutcomes(t, c.Start, due)
		if err != nil {
			return err
		}
		for i, st := range due {
			if err := a.takeStep(ctx, rt, c, st, c.Start.Add(st.Offset), now, outcomes[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// stepOutcomes decides the steps due at one sweep: those outside their
// hours are skipped; of the others only the latest notifies, the earlier
// ones are passed.
func stepOutcomes(t *tenant.Tenant, start time.Time, due []tenant.ChainStep) ([]string, error) {
	out := make([]string, len(due))
	last := -1
	for i, st := range due {
		out[i] = StepNotified
		if st.Hours != "" {
			cal, err := slo.NewCalendar(st.Window, t.Location, true)
			if err != nil {
				return nil, err
			}
			if !cal.IsServiceTime(start.Add(st.Offset)) {
				out[i] = StepSkippedHours
				continue
			}
		}
		if last >= 0 {
			out[last] = StepPassed
		}
		last = i
	}
	return out, nil
}

func (a *App) takeStep(ctx context.Context, rt *estate.Tenant, c *sqlstore.Chained, st tenant.ChainStep, due, now time.Time, outcome string) error {
	t, inc := rt.Triage.Tenant, c.Incident
	stamp := now
	if a.cfg.VirtualTime {
		stamp = due
	}
	return a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		// Acknowledged, closed or found a false positive since the sweep
		// listed it: the chain has stopped.
		if ack, err := tx.IncidentAck(ctx, t.ID, inc.ID); err != nil || ack != nil {
			return err
		}
		if cur, err := tx.Incident(ctx, t.ID, inc.ID); err != nil || cur.Status != ticket.StatusOpen || cur.Verdict == ticket.VerdictFalsePositive {
			return err
		}
		took, err := tx.TakeStep(ctx, t.ID, inc.ID, sqlstore.EscalationStep{Round: st.Round, Step: st.Step, Due: due, Fired: stamp, Outcome: outcome})
		if err != nil || !took {
			return err
		}
		where := fmt.Sprintf("round %d, step %d", st.Round+1, st.Step)
		if outcome == StepPassed {
			return tx.Audit(ctx, sqlstore.AuditEntry{Tenant: t.ID, At: stamp, Actor: "bannin", Action: "escalation.passed",
				Object: inc.Ref, Detail: fmt.Sprintf("%s: due %s, overtaken by a later step due at the same sweep", where, due.In(t.Location).Format(time.RFC3339))})
		}
		if outcome == StepSkippedHours {
			return tx.Audit(ctx, sqlstore.AuditEntry{Tenant: t.ID, At: stamp, Actor: "bannin", Action: "escalation.skipped",
				Object: inc.Ref, Detail: fmt.Sprintf("%s: due %s, outside its hours (%s)", where, due.In(t.Location).Format(time.RFC3339), st.Hours)})
		}
		why := fmt.Sprintf("%s: nobody acknowledged since %s", where, c.Start.In(t.Location).Format(time.RFC3339))
		if inc.DFIR {
			why += " (DFIR mode: waits capped at " + dfirMaxWait.String() + ")"
		}
		return a.queueNotices(ctx, tx, inc, rt.Triage.Policy.Resolve(st.To), notify.KindEscalation, "", stamp, why)
	})
}

// queueNotices stores one notification per recipient, audits each with
// why, and queues their delivery in the same transaction.
func (a *App) queueNotices(ctx context.Context, tx *sqlstore.Tx, inc *ticket.Incident, to []policy.Recipient,
	kind notify.Kind, about string, at time.Time, why string) error {
	var args []river.JobArgs
	for _, r := range to {
		n := &sqlstore.Notification{Tenant: inc.Tenant, IncidentID: inc.ID, Channel: string(r.Via), Contact: r.ContactName,
			Address: r.Address, Language: r.Language, Kind: string(kind), State: "pending", About: about, CreatedAt: at}
		if err := tx.InsertNotification(ctx, n); err != nil {
			return err
		}
		if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: inc.Tenant, At: at, Actor: "bannin", Action: "notification.queued",
			Object: inc.Ref, Detail: fmt.Sprintf("%s notice by %s to %s: %s", kind, r.Via, r.ContactName, why)}); err != nil {
			return err
		}
		args = append(args, jobs.NotifyArgs{Tenant: inc.Tenant, NotificationID: n.ID})
	}
	if len(args) == 0 {
		return nil
	}
	return a.Jobs.Insert(ctx, tx.SQL(), args...)
}

// Acknowledge records that by has taken an incident in hand (via: email,
// slack, console, api, cli): its escalation chain stops, and so does its
// first-response clock. A second acknowledgement changes nothing and
// returns the first, with fresh false.
func (a *App) Acknowledge(ctx context.Context, tenantID, ref, by, via string) (*sqlstore.Ack, bool, error) {
	id, err := ticket.ParseRef(ref)
	if err != nil {
		return nil, false, fmt.Errorf("%w: incident %q", sqlstore.ErrNotFound, ref)
	}
	return a.DB.Acknowledge(ctx, tenantID, id, by, via, a.cfg.Clock().UTC())
}

// ackKey is the key acknowledgement links are signed with; nil (no links)
// without a secret key.
func (a *App) ackKey() []byte {
	if len(a.cfg.SecretKey) == 0 {
		return nil
	}
	return acklink.DeriveKey(a.cfg.SecretKey)
}

// AckToken signs an acknowledgement token for one contact of an incident,
// valid for acklink.DefaultTTL (Slack buttons carry it; links wrap it).
func (a *App) AckToken(tenantID string, incidentID int64, contact string) (string, error) {
	key := a.ackKey()
	if key == nil {
		return "", fmt.Errorf("acknowledgement links need a secret key")
	}
	return acklink.Sign(key, acklink.Claim{Tenant: tenantID, Incident: incidentID, Contact: contact,
		Expires: a.cfg.Clock().Add(acklink.DefaultTTL)})
}

// ackURL returns the signed acknowledgement link of an incident for one
// contact, or "" when bannin has no public URL or key to make one.
func (a *App) ackURL(tenantID string, incidentID int64, contact, via string) string {
	if a.cfg.PublicURL == "" {
		return ""
	}
	tok, err := a.AckToken(tenantID, incidentID, contact)
	if err != nil {
		return ""
	}
	q := url.Values{"t": {tok}, "via": {via}}
	return strings.TrimRight(a.cfg.PublicURL, "/") + "/v1/ack?" + q.Encode()
}
