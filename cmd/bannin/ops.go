package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// storeFlags are the flags of commands that work on a store offline or next
// to a running server.
type storeFlags struct{ db, tenant string }

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", env("BANNIN_DB", "bannin.db"), "SQLite file, or postgres://… URL [BANNIN_DB]")
	cmd.Flags().StringVar(&f.tenant, "tenant", env("BANNIN_TENANT", ""), "tenant id [BANNIN_TENANT]; may be left out when the store holds one tenant")
}

// open opens an existing store with an insert-only job client (jobs queued
// here are run by the serving bannin). Without --tenant, a store that holds
// exactly one tenant means that one.
// openContract opens the store and loads the tenant's contract from its
// stored tenant file, so that clocks can be shown.
func (f *storeFlags) openContract(ctx context.Context) (*app.App, error) {
	a, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	t, err := contractTenant(ctx, a.DB, f.tenant)
	if err == nil {
		err = a.LoadContract(t)
	}
	if err != nil {
		a.Close(ctx)
		return nil, err
	}
	return a, nil
}

func (f *storeFlags) open(ctx context.Context) (*app.App, error) {
	if !strings.Contains(f.db, "://") {
		if _, err := os.Stat(strings.TrimPrefix(f.db, "sqlite:")); err != nil {
			return nil, fmt.Errorf("no store at %s (give --db or BANNIN_DB): %w", f.db, err)
		}
	}
	a, err := app.Open(ctx, app.Config{DB: f.db})
	if err != nil || f.tenant != "" {
		return a, err
	}
	ids, err := a.DB.TenantIDs(ctx)
	if err == nil && len(ids) != 1 {
		err = fmt.Errorf("the store holds %d tenants %v: choose one with --tenant", len(ids), ids)
	}
	if err != nil {
		a.Close(ctx)
		return nil, err
	}
	f.tenant = ids[0]
	return a, nil
}

func newMigrate() *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   "migrate [--db URL]",
		Short: "Create or upgrade the store's tables (serve does this too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := app.Open(cmd.Context(), app.Config{DB: f.db})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "store %s is up to date\n", redact(f.db))
			return a.Close(cmd.Context())
		},
	}
	f.register(cmd)
	return cmd
}

func newQuarantine() *cobra.Command {
	cmd := &cobra.Command{Use: "quarantine", Short: "List or re-run payloads that could not be decoded"}
	var lf storeFlags
	var limit int
	list := &cobra.Command{
		Use:   "list --tenant ID",
		Short: "List quarantined payloads with their reasons, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := lf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			items, err := a.DB.Quarantined(cmd.Context(), lf.tenant, limit)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSOURCE\tRECEIVED\tBYTES\tREASON")
			for _, it := range items {
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\n", it.ID, it.Source, it.ReceivedAt.Format("2006-01-02 15:04:05Z07:00"), len(it.Payload), it.Error)
			}
			return w.Flush()
		},
	}
	lf.register(list)
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")
	var rf storeFlags
	retry := &cobra.Command{
		Use:   "retry --tenant ID [PAYLOAD-ID...]",
		Short: "Send quarantined payloads (all, or the given ids) through the pipeline again",
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []int64
			for _, s := range args {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("payload id %q: want a number from `quarantine list`", s)
				}
				ids = append(ids, id)
			}
			a, err := rf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			n, err := a.DB.Requeue(cmd.Context(), rf.tenant, ids)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d payload(s) queued again; the running bannin will triage them\n", n)
			return nil
		},
	}
	rf.register(retry)
	var sf storeFlags
	show := &cobra.Command{
		Use:   "show --tenant ID PAYLOAD-ID",
		Short: "Print a quarantined payload's reason (stderr) and its raw bytes (stdout), to fix it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("payload id %q: want a number from `quarantine list`", args[0])
			}
			a, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			it, err := a.DB.InboxItem(cmd.Context(), sf.tenant, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "payload %d (%s, source %s, received %s): %s\n", it.ID, it.State, it.Source,
				it.ReceivedAt.Format("2006-01-02 15:04:05Z07:00"), it.Error)
			_, err = cmd.OutOrStdout().Write(it.Payload)
			return err
		},
	}
	sf.register(show)
	cmd.AddCommand(list, show, retry)
	return cmd
}

func newIncident() *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "List, show and act on incidents"}
	var lf, sf, af, rf storeFlags
	list := &cobra.Command{
		Use: "list --tenant ID", Short: "List incidents", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := lf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			incs, err := a.View.Incidents(cmd.Context(), lf.tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPRIO\tSEVERITY\tHUMAN\tALERTS\tHOSTS\tACTIONS\tTITLE")
			for _, in := range incs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\t%v\t%s\t%s\n", in.ID, in.Priority, in.Severity, in.NeedsHuman, in.AlertCount,
					in.Hosts, actionSummary(in.Actions), in.Title)
			}
			return w.Flush()
		},
	}
	show := &cobra.Command{
		Use: "show --tenant ID INC-ID", Short: "Show an incident with its evidence, alerts, actions and notes (JSON)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := ticket.ParseRef(args[0])
			if err != nil {
				return err
			}
			a, err := sf.openContract(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			v, err := a.View.IncidentView(cmd.Context(), sf.tenant, id)
			if err != nil {
				return err
			}
			return writeJSONFile(cmd.OutOrStdout(), "", v)
		},
	}
	var who string
	approve := &cobra.Command{
		Use: "approve --tenant ID INC-ID", Short: "Approve the isolations an incident holds for a human", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := af.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			acts, err := a.Response.Approve(cmd.Context(), af.tenant, args[0], who)
			if err != nil {
				return err
			}
			for _, act := range acts {
				fmt.Fprintf(cmd.OutOrStdout(), "approved: isolate %s (%s); the running bannin calls the vendor now\n", act.HostKey, act.HostID)
			}
			return nil
		},
	}
	var host, reason, requester string
	release := &cobra.Command{
		Use:   "release --tenant ID --host NAME INC-ID [--requested-by CUSTOMER]",
		Short: "Lift an isolation the incident made (a customer's request waits for another person's approval)",
		Long: `Lift an isolation the incident made, through the vendor's API, as a durable
job. With --requested-by (the customer asks for the release) it waits for
an analyst other than the requester to run 'bannin incident approve'. A
false-positive verdict ('bannin incident verdict … false_positive') and a
benign answer from the EDR maker ('bannin ticket vendor-answer') release
by themselves.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := rf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			req := response.ReleaseRequest{Host: host, By: who, Reason: reason}
			if requester != "" {
				req.Kind, req.By, req.EnteredBy = response.ReleaseCustomerRequest, requester, who
			}
			act, err := a.Response.Release(cmd.Context(), rf.tenant, args[0], req)
			if err != nil {
				return err
			}
			if act.State == "awaiting_approval" {
				fmt.Fprintf(cmd.OutOrStdout(), "release of %s requested by %s: waiting for approval (bannin incident approve %s)\n", act.HostKey, requester, args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "release of %s queued (%s)\n", act.HostKey, act.Key)
			return nil
		},
	}
	for _, c := range []struct {
		cmd *cobra.Command
		f   *storeFlags
	}{{list, &lf}, {show, &sf}, {approve, &af}, {release, &rf}} {
		c.f.register(c.cmd)
	}
	for _, c := range []*cobra.Command{approve, release} {
		c.Flags().StringVar(&who, "by", env("USER", "analyst"), "who approves (recorded in the audit log)")
	}
	release.Flags().StringVar(&host, "host", "", "host name")
	release.Flags().StringVar(&reason, "reason", "released by an analyst", "why (recorded in the audit log)")
	release.Flags().StringVar(&requester, "requested-by", "", "the customer who asks for the release: it then waits for approval")
	release.MarkFlagRequired("host")
	cmd.AddCommand(list, show, approve, release)
	cmd.AddCommand(newIncidentVerdict())
	cmd.AddCommand(newIncidentDFIR())
	cmd.AddCommand(newIncidentAck())
	return cmd
}

func actionSummary(acts []view.ActionOut) string {
	s := ""
	for i, a := range acts {
		if i > 0 {
			s += ","
		}
		s += a.Kind + ":" + a.Host + ":" + a.State
	}
	if s == "" {
		return "-"
	}
	return s
}

func newIsolations() *cobra.Command {
	var f storeFlags
	var host string
	cmd := &cobra.Command{
		Use:   "isolations --tenant ID [--host NAME]",
		Short: "The isolation registry: hosts bannin isolated, and one host's isolation log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if host != "" {
				acts, err := a.DB.HostActions(cmd.Context(), f.tenant, host)
				if err != nil {
					return err
				}
				fmt.Fprintln(w, "AT\tINCIDENT\tACTION\tSTATE\tBY\tDETAIL")
				for _, x := range acts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", x.UpdatedAt.Format("2006-01-02 15:04:05Z07:00"), x.Incident, x.Kind, x.State, orBannin(x.Approver), x.Detail)
				}
				return w.Flush()
			}
			iso, err := a.DB.Isolations(cmd.Context(), f.tenant)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "HOST\tISOLATED\tSINCE\tINCIDENT\tSOURCE\tHOST-ID")
			for _, i := range iso {
				fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\n", i.HostKey, i.Isolated, i.Since.Format("2006-01-02 15:04:05Z07:00"), i.Incident, i.Source, i.HostID)
			}
			return w.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&host, "host", "", "show this host's isolation log")
	return cmd
}

func orBannin(s string) string {
	if s == "" {
		return "bannin"
	}
	return s
}
