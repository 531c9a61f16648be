package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/tenant"
)

func newCalendar() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "calendar",
		Short: "Service calendars: compute SLO deadlines by hand",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCalendarDue())
	return cmd
}

// maxBusinessDays bounds --business-days: contracts count days in single or
// double figures, and a typo of many digits should fail, not spin.
const maxBusinessDays = 10000

func newCalendarDue() *cobra.Command {
	var hours, from, tz, holidays string
	var dur time.Duration
	var days int
	cmd := &cobra.Command{
		Use:   `due --hours "weekdays 09:00-18:00" --from T (--duration 60m | --business-days N)`,
		Short: "Print the deadline an SLO clock would compute, as one RFC 3339 timestamp",
		Long: `--hours takes a tenant file's service_hours value: 24x7 or "weekdays HH:MM-HH:MM".
Japanese national holidays (substitute and citizens' holidays included) and
12/29-1/3 are days off unless --holidays none. Days and the printed time are in
--tz.

--duration D: D of service time counted from T; time outside service hours does
not count. A 24x7 service never closes, so there it is T + D.
--business-days N: the close of service hours on the Nth business day after the
day of T. Business days are weekdays that are not days off, also for 24x7
contracts, which close at 18:00 for this purpose.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			byDur, byDays := cmd.Flags().Changed("duration"), cmd.Flags().Changed("business-days")
			if byDur == byDays {
				return errors.New("give exactly one of --duration and --business-days")
			}
			if byDays && (days < 0 || days > maxBusinessDays) {
				return fmt.Errorf("--business-days %d: want 0 to %d", days, maxBusinessDays)
			}
			if byDur && dur < 0 {
				return fmt.Errorf("--duration %s: must not be negative", dur)
			}
			h, err := tenant.ParseServiceHours(hours)
			if err != nil {
				return fmt.Errorf("--hours: %w", err)
			}
			loc, err := time.LoadLocation(tz)
			if err != nil {
				return fmt.Errorf("--tz %q: %w", tz, err)
			}
			if holidays != "jp" && holidays != "none" {
				return fmt.Errorf("--holidays %q: want jp or none", holidays)
			}
			t, err := time.Parse(time.RFC3339, from)
			if err != nil {
				return fmt.Errorf("--from %q: want an RFC 3339 time such as 2026-05-01T17:00:00+09:00", from)
			}
			c, err := slo.NewCalendar(h, loc, holidays == "jp")
			if err != nil {
				return err
			}
			due := c.BusinessDaysAfter(t, days)
			if byDur {
				due = c.AddDuration(t, dur)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), due.In(loc).Format(time.RFC3339Nano))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&hours, "hours", "", `service hours: 24x7 or "weekdays HH:MM-HH:MM" (required)`)
	f.StringVar(&from, "from", "", "start of the clock, RFC 3339 (required)")
	f.DurationVar(&dur, "duration", 0, "service time to add, e.g. 60m or 2h")
	f.IntVar(&days, "business-days", 0, "business days after the day of --from")
	f.StringVar(&tz, "tz", "Asia/Tokyo", "IANA time zone of the contract")
	f.StringVar(&holidays, "holidays", "jp", "days off: jp (Japanese holidays and 12/29-1/3) or none")
	_ = cmd.MarkFlagRequired("hours")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
