// Command bannin is the MDR/SOC operations platform: it takes in EDR alerts,
// triages them, isolates endpoints under each customer's rules, and notifies
// people. Run `bannin demo` to see it work, `bannin --help` for the rest.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/connector"
	_ "github.com/bannin-soc/bannin/internal/connector/all" // registers every vendor
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bannin:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "bannin",
		Short:         "bannin (番人) — MDR/SOC operations: intake, triage, containment, notification",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(), newDemo(), newReplay(), newNormalize(), newSim(), newQuarantine(), newIncident(),
		newIsolations(), newMigrate(), newTenantCmd(), newBench(), newCalendar(), newVersion())
	root.AddCommand(newTicket())
	root.AddCommand(newMeter())
	root.AddCommand(newSLO())
	root.AddCommand(newReport())
	return root
}

func newVersion() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "bannin", version) }}
}

// loadTenants reads and validates tenant files strictly.
func loadTenants(paths []string) ([]*tenant.Tenant, error) {
	if len(paths) == 0 {
		return nil, errors.New("no tenant file: pass --tenant FILE (see `bannin tenant example`)")
	}
	var out []*tenant.Tenant
	seen := map[string]string{}
	for _, p := range paths {
		t, err := tenant.Load(p, tenant.WithVendors(knownVendor), tenant.WithRuleCheck(policy.RuleCheck))
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[t.ID]; dup {
			return nil, fmt.Errorf("%s: tenant id %q is also used by %s", p, t.ID, prev)
		}
		seen[t.ID] = p
		out = append(out, t)
	}
	return out, nil
}

func knownVendor(name string) bool {
	_, err := connector.Lookup(name)
	return err == nil
}

func logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
