package app

import (
	"context"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/secret"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
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
