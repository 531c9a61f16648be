package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/demo"
)

func newDemo() *cobra.Command {
	var once bool
	var listen, dir string
	cmd := &cobra.Command{
		Use:   "demo [--once]",
		Short: "Play an attack story on the embedded store with the CrowdStrike simulator, an SMTP sink and a demo tenant",
		Long: `Starts bannin on a SQLite store with the built-in CrowdStrike simulator (polled
over HTTP), a local SMTP sink and a phone-webhook sink, then plays: noise, an
allowlisted tool, a ransomware chain on a critical server, credential theft
spreading to three hosts, and duplicates. It prints what bannin decided and
did. Without --once it keeps serving (API and webhook on --listen) until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			d, err := demo.Start(ctx, demo.Options{Dir: dir, Listen: listen, Out: out})
			if err != nil {
				return err
			}
			defer d.Close()
			fmt.Fprintf(out, "bannin demo: store %s, API and webhook on http://%s, tenant hokuto (北斗精機株式会社)\n\n", d.DBPath(), d.Addr())
			o, err := d.Play(ctx)
			if err != nil {
				return err
			}
			fmt.Fprint(out, o.Summary())
			if once {
				return nil
			}
			fmt.Fprintf(out, "\nstill serving on http://%s — try: bannin incident list --db %s --tenant hokuto   (Ctrl-C to stop)\n", d.Addr(), d.DBPath())
			<-ctx.Done()
			return nil
		},
	}
	cmd.AddCommand(newDemoMonth())
	cmd.Flags().BoolVar(&once, "once", false, "play the story, print the summary and exit")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "HTTP address for the API and webhook")
	cmd.Flags().StringVar(&dir, "dir", "", "keep the store and tenant file here (default: a temporary directory)")
	return cmd
}

func newDemoMonth() *cobra.Command {
	var n int
	var seed uint64
	var start string
	cmd := &cobra.Command{
		Use:   "month [--alerts N] [--start YYYY-MM-DD] [--seed S] > month.ndjson",
		Short: "Write a month of replay input for the demo tenant: ~N alerts, two of them real incidents",
		Long: `Writes bannin replay input (NDJSON envelopes) for the demo tenant (bannin tenant
example --dir DIR): estate-wide noise, allowlisted backups and re-deliveries, with
two real attacks inside — ransomware on fs01 on the 12th and credential theft
spreading from pc-201 on the 20th. The same seed gives the same file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := time.Parse("2006-01-02", start)
			if err != nil {
				return fmt.Errorf("--start %q: want YYYY-MM-DD", start)
			}
			lines, err := demo.Month(cmd.OutOrStdout(), from, n, seed)
			if err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d lines\n", lines)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&n, "alerts", 2000, "about this many alerts")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&start, "start", "2026-10-01", "first day (UTC)")
	return cmd
}
