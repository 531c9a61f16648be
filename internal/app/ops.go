package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/secret"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// recordTenant stores the tenant file as applied, with its secrets sealed.
func (a *App) recordTenant(ctx context.Context, t *tenant.Tenant) error {
	cfg, err := yaml.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode tenant: %w", err)
	}
	secrets := map[string]string{}
	for _, s := range t.Sources {
		if len(s.WebhookSecret) > 0 {
			secrets[s.Name+".webhook_secret"] = string(s.WebhookSecret)
		}
		if s.ClientSecret != "" {
			secrets[s.Name+".client_secret"] = s.ClientSecret
		}
	}
	sealed := ""
	if len(secrets) > 0 {
		box, err := secret.NewBox(a.cfg.SecretKey)
		if err != nil {
			return fmt.Errorf("secret key: %w", err)
		}
		plain, _ := json.Marshal(secrets)
		if sealed, err = box.Seal(plain); err != nil {
			return err
		}
	}
	return a.DB.PutTenant(ctx, sqlstore.TenantRecord{ID: t.ID, Name: t.Name, Config: cfg, Secrets: sealed,
		UpdatedAt: a.cfg.Clock().UTC()}, "bannin")
}

// Approve runs an incident's isolations that wait for a human — and runs
// again those that failed (e.g. the vendor's API was down past the last
// retry) — recording who approved them. It returns the actions it queued.
func (a *App) Approve(ctx context.Context, tenantID, ref, approver string) ([]*response.Action, error) {
	id, err := ticket.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var approved []*response.Action
	err = a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		inc, err := tx.Incident(ctx, tenantID, id)
		if err != nil {
			return err
		}
		acts, err := tx.IncidentActions(ctx, tenantID, inc.ID)
		if err != nil {
			return err
		}
		var args []river.JobArgs
		now := a.cfg.Clock().UTC()
		for _, act := range acts {
			if act.State != response.StateAwaitingApproval && !(act.State == response.StateFailed && act.Kind == response.KindIsolate) {
				continue
			}
			if act.Kind == response.KindIsolate && inc.Verdict == ticket.VerdictFalsePositive {
				continue // a false positive is never isolated
			}
			if act.Kind == response.KindRelease && requestedBy(act.Detail, approver) {
				return fmt.Errorf("%w: %s asked for (or entered) the release of %s and cannot also approve it", sqlstore.ErrConflict, approver, act.HostKey)
			}
			if act.State == response.StateFailed {
				act.Detail = "retry approved by " + approver + " after: " + act.Detail
				act.Attempts = 0
			} else {
				act.Detail = "approved by " + approver
			}
			act.State, act.Approver, act.UpdatedAt = response.StateRequested, approver, now
			if err := tx.UpdateAction(ctx, act); err != nil {
				return err
			}
			if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: approver, Action: "action.approved",
				Object: inc.Ref, Detail: fmt.Sprintf("%s %s (%s)", act.Kind, act.HostKey, act.HostID)}); err != nil {
				return err
			}
			args = append(args, jobs.ContainArgs{Tenant: tenantID, ActionID: act.ID})
			approved = append(approved, act)
		}
		if len(approved) == 0 {
			return fmt.Errorf("%s has no isolation or release waiting for approval, nor a failed isolation: %w", inc.Ref, sqlstore.ErrConflict)
		}
		return a.Jobs.Insert(ctx, tx.SQL(), args...)
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
func (a *App) Release(ctx context.Context, tenantID, ref string, req ReleaseRequest) (*response.Action, error) {
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
	var rel *response.Action
	err = a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		rel, err = a.queueRelease(ctx, tx, tenantID, id, req, a.ticketNow())
		return err
	})
	return rel, err
}

// queueRelease stores a release of one isolated host and, unless it waits
// for approval, queues its job, in the caller's transaction.
func (a *App) queueRelease(ctx context.Context, tx *sqlstore.Tx, tenantID string, id int64, req ReleaseRequest, now time.Time) (*response.Action, error) {
	acts, err := tx.IncidentActions(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	var iso *response.Action
	for _, act := range acts {
		if act.HostKey == req.Host && act.Kind == response.KindIsolate && act.State == response.StateDone {
			iso = act
		}
		if act.HostKey == req.Host && act.Kind == response.KindRelease && act.State != response.StateFailed && act.State != response.StateCancelled {
			return nil, fmt.Errorf("%s is already released or being released: %w", req.Host, sqlstore.ErrConflict)
		}
	}
	ref := ticket.RefFor(id)
	if iso == nil {
		return nil, fmt.Errorf("%s: host %s was not isolated by this incident: %w", ref, req.Host, sqlstore.ErrConflict)
	}
	reason := req.Kind
	if r := strings.TrimSpace(req.Reason); r != "" {
		reason += ": " + r
	}
	rel := &response.Action{Tenant: tenantID, IncidentID: id, Kind: response.KindRelease, Source: iso.Source,
		Incident: ref, HostKey: req.Host, HostID: iso.HostID, State: response.StateRequested, Reason: reason, Approver: req.By,
		Key: fmt.Sprintf("%s/%s/release/%s/%d", tenantID, ref, req.Host, len(acts)), CreatedAt: now, UpdatedAt: now}
	actor := req.By
	if req.Kind == ReleaseCustomerRequest {
		// The requester and whoever entered the request are kept in Detail
		// until approval: Approve refuses an approval by either. The audit
		// entry is the customer's, so it is not the SOC's first response.
		rel.State, rel.Approver, rel.Detail = response.StateAwaitingApproval, "", releaseRequestDetail(req.By, req.EnteredBy)
		actor = sqlstore.CustomerActor + req.By
	}
	if err := tx.InsertAction(ctx, rel); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("release %s: %s", req.Host, reason)
	if req.EnteredBy != "" {
		detail += " (entered by " + req.EnteredBy + ")"
	}
	if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: actor, Action: "action." + string(rel.State),
		Object: ref, Detail: detail}); err != nil {
		return nil, err
	}
	if rel.State != response.StateRequested {
		return rel, nil
	}
	return rel, a.Jobs.Insert(ctx, tx.SQL(), jobs.ContainArgs{Tenant: tenantID, ActionID: rel.ID})
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

// releaseAll lifts every isolation an incident holds (a false positive, a
// benign vendor verdict), in the caller's transaction:
//   - isolations not carried out yet (awaiting approval, requested — even
//     mid-call: the worker then lifts what it did — or failed) are
//     cancelled;
//   - a release awaiting a customer's approval is approved by this;
//   - a host another open incident still holds isolated is left isolated,
//     with an audit entry saying which incident holds it;
//   - hosts released or being released are left alone.
func (a *App) releaseAll(ctx context.Context, tx *sqlstore.Tx, tenantID string, id int64, kind, by, why string, now time.Time) ([]*response.Action, error) {
	acts, err := tx.IncidentActions(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	ref := ticket.RefFor(id)
	released := map[string]bool{}
	var out []*response.Action
	for _, act := range acts {
		if act.Kind != response.KindRelease {
			continue
		}
		switch act.State {
		case response.StateAwaitingApproval:
			act.State, act.Approver, act.Detail, act.UpdatedAt = response.StateRequested, by, kind+": "+why, now
			if err := tx.UpdateAction(ctx, act); err != nil {
				return nil, err
			}
			if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: by, Action: "action.approved",
				Object: ref, Detail: fmt.Sprintf("release %s (%s): %s", act.HostKey, act.HostID, kind)}); err != nil {
				return nil, err
			}
			if err := a.Jobs.Insert(ctx, tx.SQL(), jobs.ContainArgs{Tenant: tenantID, ActionID: act.ID}); err != nil {
				return nil, err
			}
			out = append(out, act)
			released[act.HostKey] = true
		case response.StateRequested, response.StateDone:
			released[act.HostKey] = true
		}
	}
	for _, act := range acts {
		if act.Kind != response.KindIsolate {
			continue
		}
		switch act.State {
		case response.StateAwaitingApproval, response.StateRequested, response.StateFailed:
			was := act.State
			act.State, act.Detail, act.UpdatedAt = response.StateCancelled, kind+": "+why, now
			if err := tx.UpdateAction(ctx, act); err != nil {
				return nil, err
			}
			if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: by, Action: "action.cancelled",
				Object: ref, Detail: fmt.Sprintf("isolate %s (%s), %s: %s", act.HostKey, act.HostID, was, kind)}); err != nil {
				return nil, err
			}
		case response.StateDone:
			if released[act.HostKey] {
				continue
			}
			if other, err := tx.IsolatedElsewhere(ctx, tenantID, act.HostKey, id); err != nil {
				return nil, err
			} else if other != "" {
				if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: by, Action: "action.release_skipped",
					Object: ref, Detail: fmt.Sprintf("%s stays isolated: %s still holds it (%s)", act.HostKey, other, kind)}); err != nil {
					return nil, err
				}
				continue
			}
			rel, err := a.queueRelease(ctx, tx, tenantID, id, ReleaseRequest{Host: act.HostKey, By: by, Reason: why, Kind: kind}, now)
			if err != nil {
				return nil, err
			}
			released[act.HostKey] = true
			out = append(out, rel)
		}
	}
	return out, nil
}

// SetVerdict records an analyst's verdict; a false positive lifts every
// isolation of the incident in the same transaction (M5: release on false
// positive).
func (a *App) SetVerdict(ctx context.Context, tenantID string, id int64, v ticket.Verdict, by, why string) (*ticket.Incident, []*response.Action, error) {
	var in *ticket.Incident
	var rels []*response.Action
	now := a.ticketNow()
	err := a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		var err error
		if in, err = tx.SetVerdict(ctx, tenantID, id, v, by, why, now); err != nil {
			return err
		}
		if v == ticket.VerdictFalsePositive {
			rels, err = a.releaseAll(ctx, tx, tenantID, id, ReleaseFalsePositive, by, "verdict false positive by "+by, now)
		}
		return err
	})
	return in, rels, err
}

// AnswerVendor records the EDR maker's answer to a ticket's vendor
// escalation (M17). A benign answer is applied at once, in the same
// transaction: every incident linked to the ticket becomes a false
// positive and its isolations are lifted — except an incident an analyst
// has judged a true positive, which stands (audited).
func (a *App) AnswerVendor(ctx context.Context, tenantID string, ticketID int64, v ticket.VendorVerdict, answer, by string) (*ticket.VendorEscalation, []*response.Action, error) {
	var esc *ticket.VendorEscalation
	var rels []*response.Action
	now := a.ticketNow()
	err := a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		var err error
		if esc, err = tx.AnswerVendor(ctx, tenantID, ticketID, v, answer, by, now); err != nil || v != ticket.VendorBenign {
			return err
		}
		tk, err := tx.Ticket(ctx, tenantID, ticketID)
		if err != nil {
			return err
		}
		why := fmt.Sprintf("%s's analysis (%s): benign", esc.Vendor, tk.Ref)
		for _, l := range tk.Links {
			if l.Kind != ticket.LinkIncident {
				continue
			}
			id, err := ticket.ParseRef(l.Ref)
			if err != nil {
				return err
			}
			in, err := tx.Incident(ctx, tenantID, id)
			if err != nil {
				return err
			}
			if in.Verdict == ticket.VerdictTruePositive {
				// An analyst's true positive stands: the vendor's answer is
				// noted on the ticket, the incident and its isolations stay.
				if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: by, Action: "incident.vendor_benign_ignored",
					Object: in.Ref, Detail: why + "; the incident's verdict is true_positive and stands"}); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.SetVerdict(ctx, tenantID, id, ticket.VerdictFalsePositive, by, why, now); err != nil {
				return err
			}
			r, err := a.releaseAll(ctx, tx, tenantID, id, ReleaseVendorBenign, by, why, now)
			if err != nil {
				return err
			}
			rels = append(rels, r...)
		}
		return nil
	})
	return esc, rels, err
}
