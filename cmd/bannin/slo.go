package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/app"
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
month, the PCR clock (receipt → applied or refused, slo.pcr business days)
of every PCR ticket received in it, and the clock of the monthly report
that falls due in it (the previous month's; see 'bannin report sent'). Attainment is met ÷ (met +
breached); running clocks and those in slo.exclude periods do not count.
The breached clocks follow, each with its object, due time and stop. Text
in the tenant's language (ja or en), or JSON with --json. See docs/slo.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withContract(cmd.Context(), &f, month, func(a *app.App, t *tenant.Tenant, m meter.Month) error {
				rep, err := a.SLO.Attainment(cmd.Context(), t, m)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONFile(cmd.OutOrStdout(), "", rep)
				}
				return rep.WriteText(cmd.OutOrStdout())
			})
		},
	}
	f.register(report)
	report.Flags().StringVar(&month, "month", "", "the month, YYYY-MM, in the tenant's time zone (required)")
	report.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = report.MarkFlagRequired("month")
	cmd.AddCommand(report)
	return cmd
}

// withContract parses --month, opens the store and runs fn with the
// tenant's contract.
func withContract(ctx context.Context, f *storeFlags, month string, fn func(*app.App, *tenant.Tenant, meter.Month) error) error {
	m, err := meter.ParseMonth(month)
	if err != nil {
		return fmt.Errorf("--month: %w", err)
	}
	a, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	t, err := contractTenant(ctx, a.DB, f.tenant)
	if err != nil {
		return err
	}
	return fn(a, t, m)
}

// contractTenant parses a tenant's file as stored, without the files it
// names: its contract (hours, clocks, routes) for reports.
func contractTenant(ctx context.Context, db *sqlstore.DB, id string) (*tenant.Tenant, error) {
	rec, err := db.Tenant(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		_, err = storedTenant(ctx, db, id) // names the tenants the store holds
	}
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

func newReport() *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Reports to the customer: record deliveries (the monthly-report clock's stop)"}
	var f storeFlags
	var month, at, note, by string
	sent := &cobra.Command{
		Use:   "sent --tenant ID --month YYYY-MM [--at TIME] [--note TEXT] [--by NAME]",
		Short: "Record that the monthly report for a month was delivered to the customer (stops its SLO clock)",
		Long: `Record that the monthly report for a month (its period runs from the
contract's start day, slo.start_day, to the day before the next month's) was
delivered. Its clock started on the next month's start day and is due
slo.monthly_report business days later (seed 000); 'bannin slo report'
counts it in the month it started. The first record wins; recording again
prints the first. --at is RFC 3339 or a date (midnight in the tenant's
zone), default now; a report cannot be sent before its period ends.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withContract(cmd.Context(), &f, month, func(a *app.App, t *tenant.Tenant, m meter.Month) error {
				when, err := parseAt(at, t.Location)
				if err != nil {
					return err
				}
				r, fresh, err := a.SLO.RecordMonthlyReport(cmd.Context(), t, m, when, by, note)
				if err != nil {
					return err
				}
				if !fresh {
					fmt.Fprintf(cmd.OutOrStdout(), "the %s report for %s was already recorded as sent by %s at %s\n", r.Kind, r.Period, r.By, r.At.Format(time.RFC3339))
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "the %s report for %s recorded as sent at %s\n", r.Kind, r.Period, r.At.In(t.Location).Format(time.RFC3339))
				return nil
			})
		},
	}
	f.register(sent)
	sent.Flags().StringVar(&month, "month", "", "the report's month, YYYY-MM (required)")
	sent.Flags().StringVar(&at, "at", "", "when it was sent (default now)")
	sent.Flags().StringVar(&note, "note", "", "how it was sent, to whom")
	sent.Flags().StringVar(&by, "by", env("USER", "analyst"), "who sent it (recorded in the audit log)")
	_ = sent.MarkFlagRequired("month")
	cmd.AddCommand(sent)
	return cmd
}
