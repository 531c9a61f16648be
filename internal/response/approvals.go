package response

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/bannin-soc/bannin/internal/audit"
	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Service runs what people decide about containment: approvals of held
// isolations, releases, and what a verdict means for the isolations an
// incident holds. Every change is one transaction with its audit entries
// and the jobs it queues.
type Service struct {
	Store TxStore
	Jobs  JobInserter
	Clock func() time.Time
}

// TxStore begins the transactions the Service works in.
type TxStore interface {
	InTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is what the Service reads and writes in one transaction.
type Tx interface {
	Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error)
	IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*Action, error)
	InsertAction(ctx context.Context, a *Action) error
	UpdateAction(ctx context.Context, a *Action) error
	IsolatedElsewhere(ctx context.Context, tenant, hostKey string, incidentID int64) (string, error)
	SetVerdict(ctx context.Context, tenant string, incidentID int64, v ticket.Verdict, actor, why string, at time.Time) (*ticket.Incident, error)
	AnswerVendor(ctx context.Context, tenant string, id int64, v ticket.VendorVerdict, answer, by string, at time.Time) (*ticket.VendorEscalation, error)
	Ticket(ctx context.Context, tenant string, id int64) (*ticket.Ticket, error)
	Audit(ctx context.Context, e audit.Entry) error
	// SQL is the transaction jobs are inserted in.
	SQL() *sql.Tx
}

// JobInserter queues jobs in a transaction.
type JobInserter interface {
	Insert(ctx context.Context, tx *sql.Tx, args ...river.JobArgs) error
}

// now is the time changes are stamped with, whole microseconds as the
// store keeps them.
func (s *Service) now() time.Time { return s.Clock().UTC().Truncate(time.Microsecond) }

// Approve runs an incident's isolations that wait for a human — and runs
// again those that failed (e.g. the vendor's API was down past the last
// retry) — recording who approved them. It returns the actions it queued.
func (s *Service) Approve(ctx context.Context, tenantID, ref, approver string) ([]*Action, error) {
	id, err := ticket.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var approved []*Action
	err = s.Store.InTx(ctx, func(tx Tx) error {
		inc, err := tx.Incident(ctx, tenantID, id)
		if err != nil {
			return err
		}
		acts, err := tx.IncidentActions(ctx, tenantID, inc.ID)
		if err != nil {
			return err
		}
		var args []river.JobArgs
		now := s.Clock().UTC()
		for _, act := range acts {
			if act.State != StateAwaitingApproval && !(act.State == StateFailed && act.Kind == KindIsolate) {
				continue
			}
			if act.Kind == KindIsolate && inc.Verdict == ticket.VerdictFalsePositive {
				continue // a false positive is never isolated
			}
			if act.Kind == KindRelease && requestedBy(act.Detail, approver) {
				return fmt.Errorf("%w: %s asked for (or entered) the release of %s and cannot also approve it", fault.ErrConflict, approver, act.HostKey)
			}
			if act.State == StateFailed {
				act.Detail = "retry approved by " + approver + " after: " + act.Detail
				act.Attempts = 0
			} else {
				act.Detail = "approved by " + approver
			}
			act.State, act.Approver, act.UpdatedAt = StateRequested, approver, now
			if err := tx.UpdateAction(ctx, act); err != nil {
				return err
			}
			if err := tx.Audit(ctx, audit.Entry{Tenant: tenantID, At: now, Actor: approver, Action: "action.approved",
				Object: inc.Ref, Detail: fmt.Sprintf("%s %s (%s)", act.Kind, act.HostKey, act.HostID)}); err != nil {
				return err
			}
			args = append(args, jobs.ContainArgs{Tenant: tenantID, ActionID: act.ID})
			approved = append(approved, act)
		}
		if len(approved) == 0 {
			return fmt.Errorf("%s has no isolation or release waiting for approval, nor a failed isolation: %w", inc.Ref, fault.ErrConflict)
		}
		return s.Jobs.Insert(ctx, tx.SQL(), args...)
	})
	return approved, err
}

// Release reasons: why an isolation is lifted (M5).
const (
	ReleaseAnalyst         = "analyst"          // an analyst decides
	ReleaseFalsePositive   = "false_positive"   // the incident's verdict
	ReleaseCustomerRequest = "customer_request" // the customer asks; an analyst approves
	ReleaseVendorBenign    = "vendor_benign"    // the EDR maker's analysis says benign
)

// ReleaseRequest asks to lift the isolation of one host of an incident.
type ReleaseRequest struct {
	Host   string
	By     string // who decides, or for a customer request who asks
	Reason string
	// Kind is one of the Release* reasons; a customer request waits for an
	// analyst's approval (bannin incident approve) by someone else than
	// the requester and EnteredBy, the analyst who entered it.
	Kind      string
	EnteredBy string
}

// Release lifts the isolation of a host of an incident, as a durable job —
// at once, or for a customer's request once another person approves.
func (s *Service) Release(ctx context.Context, tenantID, ref string, req ReleaseRequest) (*Action, error) {
	id, err := ticket.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	switch req.Kind {
	case "":
		req.Kind = ReleaseAnalyst
	case ReleaseAnalyst, ReleaseCustomerRequest:
	default:
		return nil, fmt.Errorf("%w: release kind %q: want %s or %s (false positives and vendor verdicts release by themselves)",
			ticket.ErrInvalid, req.Kind, ReleaseAnalyst, ReleaseCustomerRequest)
	}
	if strings.TrimSpace(req.By) == "" {
		return nil, fmt.Errorf("%w: say who releases (or, for a customer request, who asks)", ticket.ErrInvalid)
	}
	var rel *Action
	err = s.Store.InTx(ctx, func(tx Tx) error {
		rel, err = s.queueRelease(ctx, tx, tenantID, id, req, s.now())
		return err
	})
	return rel, err
}

// queueRelease stores a release of one isolated host and, unless it waits
// for approval, queues its job, in the caller's transaction.
func (s *Service) queueRelease(ctx context.Context, tx Tx, tenantID string, id int64, req ReleaseRequest, now time.Time) (*Action, error) {
	acts, err := tx.IncidentActions(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	var iso *Action
	for _, act := range acts {
		if act.HostKey == req.Host && act.Kind == KindIsolate && act.State == StateDone {
			iso = act
		}
		if act.HostKey == req.Host && act.Kind == KindRelease && act.State != StateFailed && act.State != StateCancelled {
			return nil, fmt.Errorf("%s is already released or being released: %w", req.Host, fault.ErrConflict)
		}
	}
	ref := ticket.RefFor(id)
	if iso == nil {
		return nil, fmt.Errorf("%s: host %s was not isolated by this incident: %w", ref, req.Host, fault.ErrConflict)
	}
	reason := req.Kind
	if r := strings.TrimSpace(req.Reason); r != "" {
		reason += ": " + r
	}
	rel := &Action{Tenant: tenantID, IncidentID: id, Kind: KindRelease, Source: iso.Source,
		Incident: ref, HostKey: req.Host, HostID: iso.HostID, State: StateRequested, Reason: reason, Approver: req.By,
		Key: fmt.Sprintf("%s/%s/release/%s/%d", tenantID, ref, req.Host, len(acts)), CreatedAt: now, UpdatedAt: now}
	actor := req.By
	if req.Kind == ReleaseCustomerRequest {
		// The requester and whoever entered the request are kept in Detail
		// until approval: Approve refuses an approval by either. The audit
		// entry is the customer's, so it is not the SOC's first
		rel.State, rel.Approver, rel.Detail = StateAwaitingApproval, "", releaseRequestDetail(req.By, req.EnteredBy)
		actor = audit.CustomerActor + req.By
	}
	if err := tx.InsertAction(ctx, rel); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("release %s: %s", req.Host, reason)
	if req.EnteredBy != "" {
		detail += " (entered by " + req.EnteredBy + ")"
	}
	if err := tx.Audit(ctx, audit.Entry{Tenant: tenantID, At: now, Actor: actor, Action: "action." + string(rel.State),
		Object: ref, Detail: detail}); err != nil {
		return nil, err
	}
	if rel.State != StateRequested {
		return rel, nil
	}
	return rel, s.Jobs.Insert(ctx, tx.SQL(), jobs.ContainArgs{Tenant: tenantID, ActionID: rel.ID})
}

// releaseRequestDetail records who asked for a release and who entered it.
func releaseRequestDetail(requester, enteredBy string) string {
	d := "requested by " + strings.TrimSpace(requester)
	if e := strings.TrimSpace(enteredBy); e != "" {
		d += "; entered by " + e
	}
	return d
}

// requestedBy reports whether who asked for or entered the release whose
// Detail is d (names compared trimmed, case-insensitively).
func requestedBy(d, who string) bool {
	rest, ok := strings.CutPrefix(d, "requested by ")
	if !ok {
		return false
	}
	who = strings.TrimSpace(who)
	for _, part := range strings.Split(rest, "; entered by ") {
		if strings.EqualFold(strings.TrimSpace(part), who) {
			return true
		}
	}
	return false
}

// ReleaseAll lifts every isolation an incident holds (a false positive, a
// benign vendor verdict), in the caller's transaction:
//   - isolations not carried out yet (awaiting approval, requested — even
//     mid-call: the worker then lifts what it did — or failed) are
//     cancelled;
//   - a release awaiting a customer's approval is approved by this;
//   - a host another open incident still holds isolated is left isolated,
//     with an audit entry saying which incident holds it;
//   - hosts released or being released are left alone.
func (s *Service) ReleaseAll(ctx context.Context, tx Tx, tenantID string, id int64, kind, by, why string, now time.Time) ([]*Action, error) {
	acts, err := tx.IncidentActions(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	ref := ticket.RefFor(id)
	released := map[string]bool{}
	var out []*Action
	for _, act := range acts {
		if act.Kind != KindRelease {
			continue
		}
		switch act.State {
		case StateAwaitingApproval:
			act.State, act.Approver, act.Detail, act.UpdatedAt = StateRequested, by, kind+": "+why, now
			if err := tx.UpdateAction(ctx, act); err != nil {
				return nil, err
			}
			if err := tx.Audit(ctx, audit.Entry{Tenant: tenantID, At: now, Actor: by, Action: "action.approved",
				Object: ref, Detail: fmt.Sprintf("release %s (%s): %s", act.HostKey, act.HostID, kind)}); err != nil {
				return nil, err
			}
			if err := s.Jobs.Insert(ctx, tx.SQL(), jobs.ContainArgs{Tenant: tenantID, ActionID: act.ID}); err != nil {
				return nil, err
			}
			out = append(out, act)
			released[act.HostKey] = true
		case StateRequested, StateDone:
			released[act.HostKey] = true
		}
	}
	for _, act := range acts {
		if act.Kind != KindIsolate {
			continue
		}
		switch act.State {
		case StateAwaitingApproval, StateRequested, StateFailed:
			was := act.State
			act.State, act.Detail, act.UpdatedAt = StateCancelled, kind+": "+why, now
			if err := tx.UpdateAction(ctx, act); err != nil {
				return nil, err
			}
			if err := tx.Audit(ctx, audit.Entry{Tenant: tenantID, At: now, Actor: by, Action: "action.cancelled",
				Object: ref, Detail: fmt.Sprintf("isolate %s (%s), %s: %s", act.HostKey, act.HostID, was, kind)}); err != nil {
				return nil, err
			}
		case StateDone:
			if released[act.HostKey] {
				continue
			}
			if other, err := tx.IsolatedElsewhere(ctx, tenantID, act.HostKey, id); err != nil {
				return nil, err
			} else if other != "" {
				if err := tx.Audit(ctx, audit.Entry{Tenant: tenantID, At: now, Actor: by, Action: "action.release_skipped",
					Object: ref, Detail: fmt.Sprintf("%s stays isolated: %s still holds it (%s)", act.HostKey, other, kind)}); err != nil {
					return nil, err
				}
				continue
			}
			rel, err := s.queueRelease(ctx, tx, tenantID, id, ReleaseRequest{Host: act.HostKey, By: by, Reason: why, Kind: kind}, now)
			if err != nil {
				return nil, err
			}
			released[act.HostKey] = true
			out = append(out, rel)
		}
	}
	return out, nil
}
