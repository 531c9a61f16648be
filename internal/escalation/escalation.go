package escalation

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/acklink"
	"github.com/bannin-soc/bannin/internal/audit"
	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/riverqueue/river"
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
func (s *Service) SweepEscalations(ctx context.Context) (ran bool, err error) {
	return s.sweepTenants(ctx, "sweep:escalation", s.escalateTenant)
}

// escalateTenant takes a tenant's due escalation steps.
func (s *Service) escalateTenant(ctx context.Context, p *policy.Policy, now time.Time) error {
	t := p.Tenant()
	longest := longestChain(t)
	if longest == 0 {
		return nil // no route of this tenant escalates
	}
	list, err := s.Store.Unacknowledged(ctx, t.ID, now.Add(-longest-24*time.Hour))
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
			if (st.Round == 0 && st.First) || c.Taken[StepKey(st.Round, st.Step)] {
				continue // the first notice itself, or done already
			}
			due = append(due, st)
		}
		outcomes, err := stepOutcomes(t, c.Start, due)
		if err != nil {
			return err
		}
		for i, st := range due {
			if err := s.takeStep(ctx, p, c, st, c.Start.Add(st.Offset), now, outcomes[i]); err != nil {
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

func (s *Service) takeStep(ctx context.Context, p *policy.Policy, c *Chained, st tenant.ChainStep, due, now time.Time, outcome string) error {
	t, inc := p.Tenant(), c.Incident
	stamp := now
	if s.VirtualTime {
		stamp = due
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		// Acknowledged, closed or found a false positive since the sweep
		// listed it: the chain has stopped.
		if ack, err := tx.IncidentAck(ctx, t.ID, inc.ID); err != nil || ack != nil {
			return err
		}
		if cur, err := tx.Incident(ctx, t.ID, inc.ID); err != nil || cur.Status != ticket.StatusOpen || cur.Verdict == ticket.VerdictFalsePositive {
			return err
		}
		took, err := tx.TakeStep(ctx, t.ID, inc.ID, EscalationStep{Round: st.Round, Step: st.Step, Due: due, Fired: stamp, Outcome: outcome})
		if err != nil || !took {
			return err
		}
		where := fmt.Sprintf("round %d, step %d", st.Round+1, st.Step)
		if outcome == StepPassed {
			return tx.Audit(ctx, audit.Entry{Tenant: t.ID, At: stamp, Actor: "bannin", Action: "escalation.passed",
				Object: inc.Ref, Detail: fmt.Sprintf("%s: due %s, overtaken by a later step due at the same sweep", where, due.In(t.Location).Format(time.RFC3339))})
		}
		if outcome == StepSkippedHours {
			return tx.Audit(ctx, audit.Entry{Tenant: t.ID, At: stamp, Actor: "bannin", Action: "escalation.skipped",
				Object: inc.Ref, Detail: fmt.Sprintf("%s: due %s, outside its hours (%s)", where, due.In(t.Location).Format(time.RFC3339), st.Hours)})
		}
		why := fmt.Sprintf("%s: nobody acknowledged since %s", where, c.Start.In(t.Location).Format(time.RFC3339))
		if inc.DFIR {
			why += " (DFIR mode: waits capped at " + dfirMaxWait.String() + ")"
		}
		return s.queueNotices(ctx, tx, inc, p.Resolve(st.To), notify.KindEscalation, "", stamp, why)
	})
}

// queueNotices stores one notification per recipient, audits each with
// why, and queues their delivery in the same transaction.
func (s *Service) queueNotices(ctx context.Context, tx Tx, inc *ticket.Incident, to []policy.Recipient,
	kind notify.Kind, about string, at time.Time, why string) error {
	var args []river.JobArgs
	for _, r := range to {
		n := &notify.Notification{Tenant: inc.Tenant, IncidentID: inc.ID, Channel: string(r.Via), Contact: r.ContactName,
			Address: r.Address, Language: r.Language, Kind: string(kind), State: "pending", About: about, CreatedAt: at}
		if err := tx.InsertNotification(ctx, n); err != nil {
			return err
		}
		if err := tx.Audit(ctx, audit.Entry{Tenant: inc.Tenant, At: at, Actor: "bannin", Action: "notification.queued",
			Object: inc.Ref, Detail: fmt.Sprintf("%s notice by %s to %s: %s", kind, r.Via, r.ContactName, why)}); err != nil {
			return err
		}
		args = append(args, jobs.NotifyArgs{Tenant: inc.Tenant, NotificationID: n.ID})
	}
	if len(args) == 0 {
		return nil
	}
	return s.Jobs.Insert(ctx, tx.SQL(), args...)
}

// Acknowledge records that by has taken an incident in hand (via: email,
// slack, console, api, cli): its escalation chain stops, and so does its
// first-response clock. A second acknowledgement changes nothing and
// returns the first, with fresh false.
func (s *Service) Acknowledge(ctx context.Context, tenantID, ref, by, via string) (*Ack, bool, error) {
	id, err := ticket.ParseRef(ref)
	if err != nil {
		return nil, false, fmt.Errorf("%w: incident %q", fault.ErrNotFound, ref)
	}
	return s.Store.Acknowledge(ctx, tenantID, id, by, via, s.Clock().UTC())
}

// AckKey is the key acknowledgement links are signed with; nil (no links)
// without a secret key.
func (s *Service) AckKey() []byte {
	if len(s.SecretKey) == 0 {
		return nil
	}
	return acklink.DeriveKey(s.SecretKey)
}

// AckToken signs an acknowledgement token for one contact of an incident,
// valid for acklink.DefaultTTL (Slack buttons carry it; links wrap it).
func (s *Service) AckToken(tenantID string, incidentID int64, contact string) (string, error) {
	key := s.AckKey()
	if key == nil {
		return "", fmt.Errorf("acknowledgement links need a secret key")
	}
	return acklink.Sign(key, acklink.Claim{Tenant: tenantID, Incident: incidentID, Contact: contact,
		Expires: s.Clock().Add(acklink.DefaultTTL)})
}

// AckURL returns the signed acknowledgement link of an incident for one
// contact, or "" when bannin has no public URL or key to make one.
func (s *Service) AckURL(tenantID string, incidentID int64, contact, via string) string {
	if s.PublicURL == "" {
		return ""
	}
	tok, err := s.AckToken(tenantID, incidentID, contact)
	if err != nil {
		return ""
	}
	q := url.Values{"t": {tok}, "via": {via}}
	return strings.TrimRight(s.PublicURL, "/") + "/v1/ack?" + q.Encode()
}

// sloLookback bounds how old an open incident's clocks the SLO sweep
// still watches: a budget of a few hours of service time never spans more
// than a long holiday.
const sloLookback = 45 * 24 * time.Hour

// BreachLevel is the level of an SLO breach signal (warnings are the
// percentages of slo.warn_at).
const BreachLevel = 100

// SweepSLO raises the warnings (slo.warn_at percent of a budget used) and
// breaches (due time passed) of the running clocks of open incidents, each
// once, notifying slo.warn_to (default: the incident's route). When the
// sweep finds several levels reached at once (a node was down), only the
// highest is notified; the others are recorded as passed. It reports
// whether it ran: false when another node holds the sweep's lease.
func (s *Service) SweepSLO(ctx context.Context) (ran bool, err error) {
	return s.sweepTenants(ctx, "sweep:slo", s.signalTenant)
}

// signalTenant raises a tenant's SLO warnings and breaches.
func (s *Service) signalTenant(ctx context.Context, p *policy.Policy, now time.Time) error {
	t := p.Tenant()
	incs, err := s.Store.OpenNeedingHuman(ctx, t.ID, now.Add(-sloLookback))
	if err != nil || len(incs) == 0 {
		return err
	}
	cv, err := s.SLO.View(ctx, t.ID, incs)
	if err != nil {
		return err
	}
	ids := make([]int64, len(incs))
	for i, inc := range incs {
		ids[i] = inc.ID
	}
	stops, err := s.Store.ClockStops(ctx, t.ID, ids)
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
			if err := s.signal(ctx, p, cv.Calendar(), inc, c, budget, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// signal raises what a running clock has reached by now.
func (s *Service) signal(ctx context.Context, p *policy.Policy, cal *slo.Calendar, inc *ticket.Incident, c slo.Clock, budget time.Duration, now time.Time) error {
	t := p.Tenant()
	var reached []Signal
	for _, p := range t.SLO.WarnAt {
		if at := slo.WarnAt(cal, c.Started, budget, p); !now.Before(at) {
			reached = append(reached, Signal{Object: inc.Ref, Clock: c.Name, Level: p, Due: at, Fired: now})
		}
	}
	if now.After(c.Due) {
		reached = append(reached, Signal{Object: inc.Ref, Clock: c.Name, Level: BreachLevel, Due: c.Due, Fired: now})
	}
	if len(reached) == 0 {
		return nil
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
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
		if err := tx.Audit(ctx, audit.Entry{Tenant: t.ID, At: now, Actor: "bannin", Action: action, Object: inc.Ref, Detail: detail}); err != nil {
			return err
		}
		about, _ := json.Marshal(notify.SLOAbout{Clock: c.Name, Percent: top.Level, Due: c.Due})
		return s.queueNotices(ctx, tx, inc, s.warnRecipients(p, inc), kind, string(about), now, detail)
	})
}

// warnRecipients are slo.warn_to, or else the incident's route.
func (s *Service) warnRecipients(p *policy.Policy, inc *ticket.Incident) []policy.Recipient {
	if to := p.Tenant().SLO.WarnTo; len(to) > 0 {
		return p.Resolve(to)
	}
	return p.Routes(inc.Severity)
}

// sweepEvery is how often a node looks for incidents whose customer has
// not answered for CustomerWait.
const sweepEvery = time.Minute

// every runs the named sweeps each period until ctx ends, logging their
// errors. Each sweep takes its own lease, so of several nodes one runs it.
func (s *Service) every(ctx context.Context, period time.Duration, sweeps map[string]func(context.Context) error) {
	names := slices.Sorted(maps.Keys(sweeps))
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range names {
			if err := sweeps[name](ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn(name+" sweep", "err", err)
			}
		}
	}
}

// sweepTenants runs a sweep once under its lease, tenant by tenant, all at
// one "now". ran is false when another node holds the lease.
func (s *Service) sweepTenants(ctx context.Context, lease string, each func(context.Context, *policy.Policy, time.Time) error) (ran bool, err error) {
	l, ok, err := s.Store.TryLease(ctx, lease)
	if err != nil || !ok {
		return false, err
	}
	defer l.Release()
	now := s.Clock().UTC()
	for _, p := range s.Tenants.Policies() {
		if err := each(ctx, p, now); err != nil {
			return true, err
		}
	}
	return true, nil
}

// SweepUnanswered runs the 72-hour sweep once, now.
func (s *Service) SweepUnanswered(ctx context.Context) error {
	lease, ok, err := s.Store.TryLease(ctx, "sweep:unanswered")
	if err != nil || !ok {
		return err
	}
	defer lease.Release()
	changed, err := s.Store.SuspectUnanswered(ctx, s.Clock().UTC(), CustomerWait)
	for _, c := range changed {
		s.Log.Info("no answer from the customer for 72 h: incident set to Suspicious", "tenant", c.Tenant,
			"incident", c.Incident, "ticket", c.Ticket)
	}
	return err
}

// Service runs escalation chains, SLO warnings and the 72-hour rule, and
// records acknowledgements. The sweeps run on Clock: wall time when
// serving, the replayed stream's time in replay.
type Service struct {
	Store   Store
	Tenants Tenants
	SLO     *slo.Tracker
	Jobs    JobInserter
	Clock   func() time.Time
	Log     *slog.Logger
	// VirtualTime stamps what a sweep does with the time it was due
	// instead of the time the sweep ran (replay).
	VirtualTime bool
	// SecretKey signs acknowledgement links (nil: no links); PublicURL is
	// where people reach this bannin ("" : no links).
	SecretKey []byte
	PublicURL string
}

// Tenants lists the running tenants' policies (each knows its tenant).
type Tenants interface {
	Policies() []*policy.Policy
}

// Lease is a sweep's hold: of several nodes, one sweeps at a time.
type Lease interface{ Release() }

// Store is what the Service reads and the transactions it begins.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	TryLease(ctx context.Context, key string) (Lease, bool, error)
	Unacknowledged(ctx context.Context, tenant string, since time.Time) ([]*Chained, error)
	OpenNeedingHuman(ctx context.Context, tenant string, since time.Time) ([]*ticket.Incident, error)
	ClockStops(ctx context.Context, tenant string, ids []int64) (map[int64]ClockStop, error)
	SuspectUnanswered(ctx context.Context, now time.Time, wait time.Duration) ([]Unanswered, error)
	Acknowledge(ctx context.Context, tenant string, incidentID int64, by, via string, at time.Time) (*Ack, bool, error)
}

// Tx is what one escalation step or signal reads and writes.
type Tx interface {
	Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error)
	IncidentAck(ctx context.Context, tenant string, incidentID int64) (*Ack, error)
	TakeStep(ctx context.Context, tenant string, incidentID int64, s EscalationStep) (bool, error)
	TakeSignal(ctx context.Context, tenant string, s Signal) (bool, error)
	InsertNotification(ctx context.Context, n *notify.Notification) error
	Audit(ctx context.Context, e audit.Entry) error
	// SQL is the transaction jobs are inserted in.
	SQL() *sql.Tx
}

// JobInserter queues jobs in a transaction.
type JobInserter interface {
	Insert(ctx context.Context, tx *sql.Tx, args ...river.JobArgs) error
}

// Run sweeps until ctx ends: the 72-hour rule every sweepEvery, escalation
// steps and SLO warnings every escalateEvery.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.every(ctx, sweepEvery, map[string]func(context.Context) error{"unanswered-customer": s.SweepUnanswered})
	}()
	go func() {
		defer wg.Done()
		s.every(ctx, escalateEvery, map[string]func(context.Context) error{
			"escalation": func(ctx context.Context) error { _, err := s.SweepEscalations(ctx); return err },
			"SLO":        func(ctx context.Context) error { _, err := s.SweepSLO(ctx); return err },
		})
	}()
	wg.Wait()
}
