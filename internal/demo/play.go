package demo

import (
	"context"
	"fmt"
	"strings"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/view"
)

// Play runs the story, approves the held isolation as an analyst would, and
// prints what bannin decided and did.
func (d *Demo) Play(ctx context.Context) (*Outcome, error) {
	out := d.opts.Out
	steps := d.story()
	for i, s := range steps {
		fmt.Fprintf(out, "[%d/%d] %s\n", i+1, len(steps), s.title)
		if err := s.run(ctx, d); err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		if err := d.waitIdle(ctx); err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	fmt.Fprintf(out, "[%d/%d] 承認 / an analyst approves the isolation bannin held for fs01\n", len(steps)+1, len(steps)+1)
	if err := d.approveHeld(ctx); err != nil {
		return nil, err
	}
	if err := d.waitIdle(ctx); err != nil {
		return nil, err
	}
	return d.outcome(ctx)
}

func (d *Demo) approveHeld(ctx context.Context) error {
	incs, err := d.App.View.Incidents(ctx, "hokuto")
	if err != nil {
		return err
	}
	for _, in := range incs {
		for _, a := range in.Actions {
			if a.State == "awaiting_approval" {
				if _, err := d.App.Response.Approve(ctx, "hokuto", in.ID, "demo-analyst"); err != nil {
					return err
				}
				fmt.Fprintf(d.opts.Out, "      bannin incident approve --tenant hokuto %s   (isolate %s)\n", in.ID, a.Host)
				break
			}
		}
	}
	return nil
}

func (d *Demo) outcome(ctx context.Context) (*Outcome, error) {
	incs, err := d.App.View.Incidents(ctx, "hokuto")
	if err != nil {
		return nil, err
	}
	st := d.App.Processor.Stats()
	o := &Outcome{Addr: d.addr, Mails: d.Sink.Messages(), Calls: d.phone.Calls()}
	o.Result = resultFrom(st, incs)
	return o, nil
}

// Summary prints the outcome for people.
func (o *Outcome) Summary() string {
	var b strings.Builder
	r := o.Result
	fmt.Fprintf(&b, "\nalerts: %d payloads received, %d accepted, %d duplicates, %d suppressed, %d quarantined\n",
		r.Alerts.Received, r.Alerts.Accepted, r.Alerts.Duplicates, r.Alerts.Suppressed, r.Alerts.Quarantined)
	human := 0
	for _, in := range r.Incidents {
		if in.NeedsHuman {
			human++
		}
	}
	fmt.Fprintf(&b, "incidents: %d, of which %d need a human\n\n", len(r.Incidents), human)
	for _, in := range r.Incidents {
		if !in.NeedsHuman {
			continue
		}
		fmt.Fprintf(&b, "%s  %s %-9s score %3d  hosts %s\n    %s\n", in.ID, in.Priority, in.Severity, in.Score,
			strings.Join(in.Hosts, ","), in.Title)
		for _, e := range in.Evidence {
			fmt.Fprintf(&b, "      why: %-16s %+4d  %s\n", e.Signal, e.Contribution, e.Detail)
		}
		for _, a := range in.Actions {
			fmt.Fprintf(&b, "      %s %s: %s  (%s)\n", a.Kind, a.Host, a.State, a.Reason)
		}
		for _, n := range in.Notifications {
			fmt.Fprintf(&b, "      notified %s by %s: %s\n", n.Contact, n.Channel, n.State)
		}
	}
	quiet := len(r.Incidents) - human
	fmt.Fprintf(&b, "\n%d low-severity incidents were recorded for the monthly report without paging anyone.\n", quiet)
	fmt.Fprintf(&b, "mail received by the SMTP sink: %d\n", len(o.Mails))
	for _, m := range o.Mails {
		fmt.Fprintf(&b, "  → %s  %s (STARTTLS %v)\n", strings.Join(m.To, ","), m.Subject, m.TLS)
	}
	fmt.Fprintf(&b, "phone calls placed: %d\n", len(o.Calls))
	for _, c := range o.Calls {
		fmt.Fprintf(&b, "  → %s  %s\n", c.To, c.Incident)
	}
	return b.String()
}

func resultFrom(st intake.Stats, incs []view.IncidentOut) *app.Result {
	return &app.Result{Alerts: app.AlertCounts{Received: st.Received, Accepted: st.Accepted, Duplicates: st.Duplicates,
		Quarantined: st.Quarantined, Suppressed: st.Suppressed}, Incidents: incs}
}
