package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
)

func newMeter() *cobra.Command {
	var f storeFlags
	var month string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "meter --tenant ID --month YYYY-MM [--json]",
		Short: "Print a tenant's month for billing: endpoints seen, incidents handled, prepaid option tickets",
		Long: `Print what a tenant's month adds up to for both billing models, counted in
the tenant's time zone: distinct endpoints alerts were received from (ID-based
billing), per source too; incidents created, by priority and by whether a
human was needed (per-handling billing); and the prepaid option tickets
bought, used, expired and left. Text in the tenant's language (ja or en), or
JSON with --json. See docs/metering.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := meter.ParseMonth(month)
			if err != nil {
				return fmt.Errorf("--month: %w", err)
			}
			return withTenant(cmd.Context(), &f, func(a *app.App, t *tenant.Tenant) error {
				rep, err := meter.Compute(cmd.Context(), a.DB, t, m, time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return rep.WriteJSON(cmd.OutOrStdout())
				}
				return rep.WriteText(cmd.OutOrStdout())
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&month, "month", "", "the month to count, YYYY-MM, in the tenant's time zone (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	_ = cmd.MarkFlagRequired("month")
	cmd.AddCommand(newPrepaid())
	return cmd
}

func newPrepaid() *cobra.Command {
	cmd := &cobra.Command{Use: "prepaid", Short: "Record and show prepaid option tickets (valid one year, used oldest first)"}

	var af storeFlags
	var addQty int
	var addAt, note, addBy string
	add := &cobra.Command{
		Use:   "add --tenant ID --quantity N [--at TIME] [--note TEXT]",
		Short: "Record a purchase of option tickets, usable for one year from --at",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addQty <= 0 {
				return fmt.Errorf("--quantity %d: want at least 1 ticket", addQty)
			}
			return withTenant(cmd.Context(), &af, func(a *app.App, t *tenant.Tenant) error {
				at, err := parseAt(addAt, t.Location)
				if err != nil {
					return err
				}
				p := &meter.Purchase{Tenant: t.ID, PurchasedAt: at, Quantity: addQty, Note: note}
				if err := a.DB.AddPurchase(cmd.Context(), p, addBy); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lot #%d: %d ticket(s) for %s bought %s, usable until %s\n", p.ID, p.Quantity, t.ID,
					p.PurchasedAt.In(t.Location).Format(time.RFC3339), p.ExpiresAt.In(t.Location).Format(time.RFC3339))
				return nil
			})
		},
	}
	af.register(add)
	add.Flags().IntVar(&addQty, "quantity", 0, "tickets bought (required)")
	add.Flags().StringVar(&addAt, "at", "", "when they were bought: RFC 3339, or a date (midnight in the tenant's zone); default now")
	add.Flags().StringVar(&note, "note", "", "e.g. the order number")
	add.Flags().StringVar(&addBy, "by", env("USER", "operator"), "who records it (audit log)")
	_ = add.MarkFlagRequired("quantity")

	var uf storeFlags
	var useQty int
	var useAt, reason, ref, useBy string
	use := &cobra.Command{
		Use:   "use --tenant ID --quantity N --reason TEXT [--ref INC-000123|TKT-000045] [--at TIME]",
		Short: "Pay option work with tickets, oldest valid lot first; refused beyond the balance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if useQty <= 0 {
				return fmt.Errorf("--quantity %d: want at least 1 ticket", useQty)
			}
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason: say what option work the tickets pay for")
			}
			return withTenant(cmd.Context(), &uf, func(a *app.App, t *tenant.Tenant) error {
				at, err := parseAt(useAt, t.Location)
				if err != nil {
					return err
				}
				c := &meter.Consumption{Tenant: t.ID, At: at, Quantity: useQty, Reason: reason, Ref: ref}
				u, err := a.DB.ConsumeTickets(cmd.Context(), c, useBy)
				if err != nil {
					return err
				}
				led, err := a.DB.PrepaidBalance(cmd.Context(), t.ID, at)
				if err != nil {
					return err
				}
				var from []string
				for _, d := range u.Draws {
					from = append(from, fmt.Sprintf("%d from lot #%d", d.Quantity, d.PurchaseID))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "use #%d: %d ticket(s) of %s at %s (%s); %d left then\n", u.ID, u.Quantity, t.ID,
					at.In(t.Location).Format(time.RFC3339), strings.Join(from, ", "), led.Available)
				return nil
			})
		},
	}
	uf.register(use)
	use.Flags().IntVar(&useQty, "quantity", 0, "tickets used (required)")
	use.Flags().StringVar(&reason, "reason", "", "the option work done (required)")
	use.Flags().StringVar(&ref, "ref", "", "the incident (INC-000123, checked) or ticket the work was for")
	use.Flags().StringVar(&useAt, "at", "", "when the work was done: RFC 3339, or a date (midnight in the tenant's zone); default now")
	use.Flags().StringVar(&useBy, "by", env("USER", "analyst"), "who records it (audit log)")
	_ = use.MarkFlagRequired("quantity")
	_ = use.MarkFlagRequired("reason")

	var bf storeFlags
	var balAt string
	var balJSON bool
	balance := &cobra.Command{
		Use:   "balance --tenant ID [--at TIME] [--json]",
		Short: "Show the tickets usable at a time (default now), by lot, soonest expiry first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTenant(cmd.Context(), &bf, func(a *app.App, t *tenant.Tenant) error {
				at, err := parseAt(balAt, t.Location)
				if err != nil {
					return err
				}
				led, err := a.DB.PrepaidBalance(cmd.Context(), t.ID, at)
				if err != nil {
					return fmt.Errorf("prepaid tickets of tenant %s do not balance: %w", t.ID, err)
				}
				led = led.In(t.Location)
				if balJSON {
					return writeJSONFile(cmd.OutOrStdout(), "", led)
				}
				return led.WriteText(cmd.OutOrStdout(), t.ID, t.Language)
			})
		},
	}
	bf.register(balance)
	balance.Flags().StringVar(&balAt, "at", "", "the time: RFC 3339, or a date (midnight in the tenant's zone); default now")
	balance.Flags().BoolVar(&balJSON, "json", false, "print JSON instead of text")

	cmd.AddCommand(add, use, balance)
	return cmd
}

// withTenant opens the store and runs fn with the tenant named by the flags
// (or the store's only tenant) as applied to the store.
func withTenant(ctx context.Context, f *storeFlags, fn func(*app.App, *tenant.Tenant) error) error {
	a, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	t, err := storedTenant(ctx, a.DB, f.tenant)
	if err != nil {
		return err
	}
	return fn(a, t)
}

// storedTenant is the part of a tenant's stored file that metering needs:
// its name, language and time zone. (The whole file is not parsed again:
// its secret files are relative to where it was applied from.)
func storedTenant(ctx context.Context, db *sqlstore.DB, id string) (*tenant.Tenant, error) {
	rec, err := db.Tenant(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		ids, lerr := db.TenantIDs(ctx)
		if lerr != nil {
			return nil, lerr
		}
		return nil, fmt.Errorf("unknown tenant %q: the store holds %v (tenants are added by serve or replay with --tenant FILE)", id, ids)
	}
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Name     string `yaml:"name"`
		Language string `yaml:"language"`
		Timezone string `yaml:"timezone"`
	}
	if err := yaml.Unmarshal(rec.Config, &cfg); err != nil {
		return nil, fmt.Errorf("tenant %s as stored: %w", id, err)
	}
	if cfg.Timezone == "" {
		return nil, fmt.Errorf("tenant %s as stored has no timezone", id)
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("tenant %s as stored: timezone %q: %w", id, cfg.Timezone, err)
	}
	return &tenant.Tenant{ID: rec.ID, Name: cfg.Name, Language: cfg.Language, Timezone: cfg.Timezone, Location: loc}, nil
}

// parseAt reads --at: RFC 3339, or a date meaning midnight in loc; empty
// means now.
func parseAt(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-10-05T14:00:00+09:00) or a date (2026-10-05, midnight in the tenant's zone)", s)
}
