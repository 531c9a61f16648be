package app

import (
	"context"
	"encoding/json"
	"fmt"

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
				Object: inc.Ref, Detail: fmt.Sprintf("isolate %s (%s)", act.HostKey, act.HostID)}); err != nil {
				return err
			}
			args = append(args, jobs.ContainArgs{Tenant: tenantID, ActionID: act.ID})
			approved = append(approved, act)
		}
		if len(approved) == 0 {
			return fmt.Errorf("%s has no isolation waiting for approval or failed: %w", inc.Ref, sqlstore.ErrConflict)
		}
		return a.Jobs.Insert(ctx, tx.SQL(), args...)
	})
	return approved, err
}

// Release lifts the isolation of a host of an incident, as a durable job.
func (a *App) Release(ctx context.Context, tenantID, ref, host, who, reason string) (*response.Action, error) {
	id, err := ticket.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var rel *response.Action
	err = a.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
		acts, err := tx.IncidentActions(ctx, tenantID, id)
		if err != nil {
			return err
		}
		var iso *response.Action
		for _, act := range acts {
			if act.HostKey == host && act.Kind == response.KindIsolate && act.State == response.StateDone {
				iso = act
			}
			if act.HostKey == host && act.Kind == response.KindRelease && act.State != response.StateFailed {
				return fmt.Errorf("%s is already released or being released: %w", host, sqlstore.ErrConflict)
			}
		}
		if iso == nil {
			return fmt.Errorf("%s: host %s was not isolated by this incident: %w", ref, host, sqlstore.ErrConflict)
		}
		now := a.cfg.Clock().UTC()
		rel = &response.Action{Tenant: tenantID, IncidentID: id, Kind: response.KindRelease, Source: iso.Source,
			HostKey: host, HostID: iso.HostID, State: response.StateRequested, Reason: reason, Approver: who,
			Key: fmt.Sprintf("%s/%s/release/%s/%d", tenantID, ticket.RefFor(id), host, len(acts)), CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertAction(ctx, rel); err != nil {
			return err
		}
		if err := tx.Audit(ctx, sqlstore.AuditEntry{Tenant: tenantID, At: now, Actor: who, Action: "action.requested",
			Object: rel.Incident, Detail: fmt.Sprintf("release %s: %s", host, reason)}); err != nil {
			return err
		}
		return a.Jobs.Insert(ctx, tx.SQL(), jobs.ContainArgs{Tenant: tenantID, ActionID: rel.ID})
	})
	return rel, err
}
