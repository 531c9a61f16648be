package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
	"gopkg.in/yaml.v3"
)

// ApplyPCR applies a PCR ticket of the tenant (see sqlstore.DB.ApplyPCR),
// refusing it when the tenant file's own allowlist already covers it.
func (a *App) ApplyPCR(ctx context.Context, tenantID string, id int64, by string) (*sqlstore.PCRResult, error) {
	file, err := a.fileAllowlist(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return a.DB.ApplyPCR(ctx, tenantID, id, file, by, a.cfg.Clock().UTC().Truncate(time.Microsecond))
}

// fileAllowlist returns the tenant file's plain hash entries (a hash, at
// most one host glob, nothing else) as requests, for the "already
// allowlisted" check: from the running tenant, else from the file as
// applied to the store.
func (a *App) fileAllowlist(ctx context.Context, tenantID string) ([]ticket.AllowRequest, error) {
	var entries []tenant.AllowEntry
	if rt, ok := a.Estate.Tenant(tenantID); ok {
		entries = rt.Triage.Allowlist
	} else {
		rec, err := a.DB.Tenant(ctx, tenantID)
		if errors.Is(err, sqlstore.ErrNotFound) {
			return nil, nil // no tenant file applied: nothing in it to cover the request
		}
		if err != nil {
			return nil, err
		}
		var f struct {
			Allowlist []struct {
				SHA256      string   `yaml:"sha256"`
				ProcessName string   `yaml:"process_name"`
				CommandLine string   `yaml:"command_line"`
				Hosts       []string `yaml:"hosts"`
				Rule        string   `yaml:"rule"`
			} `yaml:"allowlist"`
		}
		if err := yaml.Unmarshal(rec.Config, &f); err != nil {
			return nil, fmt.Errorf("read tenant %s's allowlist: %w", tenantID, err)
		}
		for _, e := range f.Allowlist {
			entries = append(entries, tenant.AllowEntry{SHA256: e.SHA256, ProcessName: e.ProcessName,
				CommandLine: e.CommandLine, Hosts: e.Hosts, Rule: e.Rule})
		}
	}
	var out []ticket.AllowRequest
	for _, e := range entries {
		if e.SHA256 == "" || e.ProcessName != "" || e.CommandLine != "" || e.Rule != "" || len(e.Hosts) > 1 {
			continue // narrower than a hash: it cannot make a request redundant
		}
		r := ticket.AllowRequest{SHA256: e.SHA256, Reason: e.Reason}
		if len(e.Hosts) == 1 {
			r.HostGlob = e.Hosts[0]
		}
		out = append(out, r)
	}
	return out, nil
}
