package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
)

func newSLO() *cobra.Command {
	cmd := &cobra.Command{Use: "slo", Short: "Service-level clocks: attainment per tenant and month"}
	var f storeFlags
	var month string
	var asJSON bool
	report := &cobra.Command{
		Use:   "report --tenant ID --month YYYY-MM [--json]",
		Short: "Print a tenant's SLO attainment for a month: each clock's met, breached, running and excluded counts",
		Long: `Print the SLO attainment of a tenant's month (in its time zone) under the
contract in its stored tenant file: the notification and first-response
clocks of every incident that needed a human and was first seen in the
month, and the PCR clock (receipt → applied or refused, slo.pcr business
days) of every PCR ticket received in it. Attainment is met ÷ (met +
breached); running clocks and those in slo.exclude periods do not count.
The breached clocks follow, each with its object, due time and stop. Text
in the tenant's language (ja or en), or JSON with --json. See docs/slo.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := meter.ParseMonth(month)
			if err != nil {
				return fmt.Errorf("--month: %w", err)
			}
			a, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			t, err := contractTenant(cmd.Context(), a.DB, f.tenant)
			if err != nil {
				return err
			}
			rep, err := a.Attainment(cmd.Context(), t, m)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONFile(cmd.OutOrStdout(), "", rep)
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	f.register(report)
	report.Flags().StringVar(&month, "month", "", "the month, YYYY-MM, in the tenant's time zone (required)")
	report.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = report.MarkFlagRequired("month")
	cmd.AddCommand(report)
	return cmd
}

// contractTenant parses a tenant's file as stored, without the files it
// names: its contract (hours, clocks, routes) for reports.
func contractTenant(ctx context.Context, db *sqlstore.DB, id string) (*tenant.Tenant, error) {
	if _, err := storedTenant(ctx, db, id); err != nil {
		return nil, err // names the tenants the store holds
	}
	rec, err := db.Tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := tenant.Parse(rec.Config, "", tenant.WithoutFiles(), tenant.WithFilename(id+" (stored)"),
		tenant.WithVendors(knownVendor), tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		return nil, fmt.Errorf("tenant %s as stored: %w", id, err)
	}
	return t, nil
}
