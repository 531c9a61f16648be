package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// ticketCmd builds one `bannin ticket …` subcommand: it opens the store
// (defaulting the tenant like the incident commands) and runs fn.
func ticketCmd(use, short string, args cobra.PositionalArgs, fn func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error) (*cobra.Command, *string) {
	var f storeFlags
	by := new(string)
	c := &cobra.Command{Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			return fn(cmd.Context(), cmd, a, f.tenant, args)
		}}
	f.register(c)
	c.Flags().StringVar(by, "by", env("USER", "analyst"), "who acts (recorded in the audit log)")
	return c, by
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func parseTicket(s string) (int64, error) {
	id, err := ticket.ParseTicketRef(s)
	if err != nil {
		return 0, fmt.Errorf("ticket id %q: want TKT-000123", s)
	}
	return id, nil
}

func newTicket() *cobra.Command {
	cmd := &cobra.Command{Use: "ticket", Short: "Tickets: incidents' work, PCRs (allowlist requests), inquiries, policy changes, agent updates, emergency calls"}
	cmd.AddCommand(newTicketCreate(), newTicketList(), newTicketShow(), newTicketMove(), newTicketNote(), newTicketLink(),
		newTicketApply(), newTicketRefuse(), newTicketVendorEscalate(), newTicketVendorAnswer())
	return cmd
}

func newTicketCreate() *cobra.Command {
	var tk ticket.Ticket
	var kind string
	var incidents, alerts []string
	var req ticket.AllowRequest
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("create --kind KIND --title TEXT [--sha256 H | --path GLOB] [--host GLOB] [--reason TEXT]",
		"Open a ticket (a PCR names the allowlist entry it asks for)", cobra.NoArgs,
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, _ []string) error {
			tk.Tenant, tk.Kind = tenant, ticket.Kind(kind)
			if req != (ticket.AllowRequest{}) {
				r := req
				tk.PCR = &r
			}
			for _, in := range incidents {
				tk.Links = append(tk.Links, ticket.Link{Kind: ticket.LinkIncident, Ref: in})
			}
			for _, al := range alerts {
				tk.Links = append(tk.Links, ticket.Link{Kind: ticket.LinkAlert, Ref: al})
			}
			if tk.Requester == "" {
				tk.Requester = *by
			}
			if err := a.DB.CreateTicket(ctx, &tk, *by, now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s): %s\n", tk.Ref, tk.Kind, tk.State, tk.Title)
			return nil
		})
	fl := c.Flags()
	fl.StringVar(&kind, "kind", "", "incident, pcr, inquiry, policy_change, agent_update or emergency_call")
	fl.StringVar(&tk.Title, "title", "", "what the ticket is about")
	fl.StringVar(&tk.Body, "body", "", "details")
	fl.StringVar(&tk.Assignee, "assignee", "", "the analyst working on it")
	fl.StringVar(&tk.Requester, "requester", "", "who asked (default: --by)")
	fl.StringArrayVar(&incidents, "incident", nil, "link an incident (INC-000123); repeatable")
	fl.StringArrayVar(&alerts, "alert", nil, "link an alert by its vendor id; repeatable")
	fl.StringVar(&req.SHA256, "sha256", "", "PCR: the file's SHA-256")
	fl.StringVar(&req.PathGlob, "path", "", `PCR: the process image's path glob, e.g. 'C:\Program Files\Backup\*.exe'`)
	fl.StringVar(&req.HostGlob, "host", "", "PCR: restrict the entry to hosts matching this glob")
	fl.StringVar(&req.Reason, "reason", "", "PCR: why the customer asks for it")
	c.MarkFlagRequired("kind")
	c.MarkFlagRequired("title")
	return c
}

func newTicketList() *cobra.Command {
	var state, kind string
	c, _ := ticketCmd("list [--state S] [--kind K]", "List tickets", cobra.NoArgs,
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, _ []string) error {
			var f sqlstore.TicketFilter
			var err error
			if state != "" {
				if f.State, err = ticket.ParseState(state); err != nil {
					return err
				}
			}
			if kind != "" {
				if f.Kind, err = ticket.ParseKind(kind); err != nil {
					return err
				}
			}
			tks, err := a.DB.Tickets(ctx, tenant, f)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tKIND\tSTATE\tASSIGNEE\tUPDATED\tLINKS\tTITLE")
			for _, tk := range tks {
				var links []string
				for _, l := range tk.Links {
					links = append(links, l.Ref)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tk.Ref, tk.Kind, tk.State, dash(tk.Assignee),
					tk.UpdatedAt.Format("2006-01-02 15:04:05Z07:00"), dash(strings.Join(links, ",")), tk.Title)
			}
			return w.Flush()
		})
	c.Flags().StringVar(&state, "state", "", "only tickets in this state")
	c.Flags().StringVar(&kind, "kind", "", "only tickets of this kind")
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newTicketShow() *cobra.Command {
	c, _ := ticketCmd("show TKT-ID", "Show a ticket with its links, notes, PCR decision and clocks (JSON)", cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			t, err := contractTenant(ctx, a.DB, tenant)
			if err != nil {
				return err
			}
			v, err := a.SLO.TicketView(ctx, t, id)
			if err != nil {
				return err
			}
			return writeJSONFile(cmd.OutOrStdout(), "", v)
		})
	return c
}

func newTicketMove() *cobra.Command {
	var reason string
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("move TKT-ID STATE [--reason TEXT]",
		"Move a ticket: received → in_progress ⇄ waiting_customer → resolved/refused → closed", cobra.ExactArgs(2),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			to, err := ticket.ParseState(args[1])
			if err != nil {
				return err
			}
			tk, err := a.DB.MoveTicket(ctx, tenant, id, to, *by, reason, now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s\n", tk.Ref, tk.State)
			return nil
		})
	c.Flags().StringVar(&reason, "reason", "", "why (kept as a note; needed to refuse)")
	return c
}

func newTicketNote() *cobra.Command {
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("note TKT-ID TEXT", "Add a note to a ticket", cobra.ExactArgs(2),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			return a.DB.AddTicketNote(ctx, tenant, id, ticket.Note{At: now(), Author: *by, Text: args[1]})
		})
	return c
}

func newTicketLink() *cobra.Command {
	var incident, alertID string
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("link TKT-ID (--incident INC-ID | --alert VENDOR-ID)", "Link a ticket to an incident or an alert of the same tenant",
		cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			l := ticket.Link{Kind: ticket.LinkIncident, Ref: incident}
			switch {
			case (incident == "") == (alertID == ""):
				return fmt.Errorf("give exactly one of --incident and --alert")
			case alertID != "":
				l = ticket.Link{Kind: ticket.LinkAlert, Ref: alertID}
			}
			if err := a.DB.LinkTicket(ctx, tenant, id, l, *by, now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s linked to %s %s\n", ticket.TicketRef(id), l.Kind, l.Ref)
			return nil
		})
	c.Flags().StringVar(&incident, "incident", "", "the incident (INC-000123)")
	c.Flags().StringVar(&alertID, "alert", "", "the alert's vendor id")
	return c
}

func newTicketApply() *cobra.Command {
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("apply TKT-ID", "Apply a PCR: its entry joins the tenant's allowlist; matching open incidents get a note",
		cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			res, err := a.ApplyPCR(ctx, tenant, id, *by)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s applied: allowlist entry %d (%s); matching open incidents: %s\n",
				res.Ticket.Ref, res.Entry.ID, res.Ticket.PCR.Describe(), dash(strings.Join(res.Matched, ",")))
			return nil
		})
	return c
}

func newTicketRefuse() *cobra.Command {
	var reason string
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("refuse TKT-ID --reason TEXT", "Refuse a PCR, with the reason (e.g. it would weaken protection)",
		cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			tk, err := a.DB.RefusePCR(ctx, tenant, id, reason, *by, now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s refused: %s\n", tk.Ref, tk.PCR.RefusalReason)
			return nil
		})
	c.Flags().StringVar(&reason, "reason", "", "why the request is refused (required)")
	c.MarkFlagRequired("reason")
	return c
}

// newIncidentVerdict is `bannin incident verdict`.
func newIncidentVerdict() *cobra.Command {
	var reason string
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("verdict --tenant ID INC-ID VERDICT [--reason TEXT]",
		"Set an analyst's verdict: true_positive, suspicious, false_positive (lifts the incident's isolations) or in_progress", cobra.ExactArgs(2),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := ticket.ParseRef(args[0])
			if err != nil {
				return err
			}
			v, err := ticket.ParseVerdict(args[1])
			if err != nil {
				return err
			}
			in, rels, err := a.Response.SetVerdict(ctx, tenant, id, v, *by, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s verdict: %s\n", in.Ref, in.Verdict)
			for _, rel := range rels {
				fmt.Fprintf(cmd.OutOrStdout(), "release of %s queued (false positive); the running bannin calls the vendor\n", rel.HostKey)
			}
			return nil
		})
	c.Flags().StringVar(&reason, "reason", "", "why (kept in the note and the audit log)")
	return c
}

// newIncidentAck is `bannin incident ack`.
func newIncidentAck() *cobra.Command {
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("ack --tenant ID INC-ID [--by NAME]",
		"Acknowledge an incident: its escalation chain stops (also by the mail's link, Slack's button, the console or the API)",
		cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			ack, fresh, err := a.Escalation.Acknowledge(ctx, tenant, args[0], *by, "cli")
			if err != nil {
				return err
			}
			if !fresh {
				fmt.Fprintf(cmd.OutOrStdout(), "%s was already acknowledged by %s (%s) at %s\n", args[0], ack.By, ack.Via, ack.At.Format(time.RFC3339))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s acknowledged by %s; escalation stopped\n", args[0], ack.By)
			return nil
		})
	return c
}

// newIncidentDFIR is `bannin incident dfir`.
func newIncidentDFIR() *cobra.Command {
	var reason string
	var off bool
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("dfir --tenant ID INC-ID --reason TEXT [--off]",
		"Put a ransomware or destructive (P0) incident in DFIR mode, or take it out with --off", cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := ticket.ParseRef(args[0])
			if err != nil {
				return err
			}
			in, err := a.DB.SetDFIR(ctx, tenant, id, !off, *by, reason, now())
			if err != nil {
				return err
			}
			state := "in DFIR mode: escalation waits capped at 5m, at any hour"
			if !in.DFIR {
				state = "not in DFIR mode"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", in.Ref, state)
			return nil
		})
	c.Flags().StringVar(&reason, "reason", "", "why (required to enter DFIR mode; kept in the note and the audit log)")
	c.Flags().BoolVar(&off, "off", false, "end DFIR mode")
	return c
}

// newTicketVendorEscalate is `bannin ticket vendor-escalate`.
func newTicketVendorEscalate() *cobra.Command {
	var vendor, request, ref string
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("vendor-escalate TKT-ID --vendor NAME --request TEXT [--vendor-ref CASE]",
		"Record that the EDR maker was asked for a detailed analysis (M17; e.g. WithSecure Elevate)", cobra.ExactArgs(1),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			v := &ticket.VendorEscalation{Vendor: vendor, Request: request, VendorRef: ref, RequestedBy: *by, RequestedAt: now()}
			if err := a.DB.EscalateToVendor(ctx, tenant, id, v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: escalated to %s; record the answer with 'bannin ticket vendor-answer %s VERDICT'\n", args[0], vendor, args[0])
			return nil
		})
	c.Flags().StringVar(&vendor, "vendor", "", "the EDR maker asked (e.g. withsecure)")
	c.Flags().StringVar(&request, "request", "", "what is asked")
	c.Flags().StringVar(&ref, "vendor-ref", "", "the vendor's case number")
	return c
}

// newTicketVendorAnswer is `bannin ticket vendor-answer`.
func newTicketVendorAnswer() *cobra.Command {
	var answer string
	var by *string
	var c *cobra.Command
	c, by = ticketCmd("vendor-answer TKT-ID benign|malicious|inconclusive [--answer TEXT]",
		"Record the EDR maker's answer; benign makes the linked incidents false positives and lifts their isolations", cobra.ExactArgs(2),
		func(ctx context.Context, cmd *cobra.Command, a *app.App, tenant string, args []string) error {
			id, err := parseTicket(args[0])
			if err != nil {
				return err
			}
			v, err := ticket.ParseVendorVerdict(args[1])
			if err != nil {
				return err
			}
			esc, rels, err := a.Response.AnswerVendor(ctx, tenant, id, v, answer, *by)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s answered %s\n", args[0], esc.Vendor, esc.Verdict)
			for _, r := range rels {
				fmt.Fprintf(cmd.OutOrStdout(), "release of %s (%s) queued\n", r.HostKey, r.Incident)
			}
			return nil
		})
	c.Flags().StringVar(&answer, "answer", "", "the vendor's analysis, in short")
	return c
}
