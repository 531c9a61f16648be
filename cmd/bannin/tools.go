package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/ocsf"
	"github.com/bannin-soc/bannin/internal/tenant"
)

func newReplay() *cobra.Command {
	var tenants []string
	var in, out, cpuprofile string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "replay --tenant FILE --in alerts.ndjson [--out result.json]",
		Short: "Run a recorded alert stream through the whole pipeline on virtual time (what-if tool)",
		Long: `Each input line: {"tenant","source","received_at" (RFC 3339),"payload" (the vendor's raw
alert JSON)}. The pipeline runs on a fresh embedded store (a scratch file in the
temporary directory, never synced to disk, removed at the end) with each source's
vendor simulator answering API calls; bad lines are quarantined and counted. The
result JSON (stable: fields are added, never renamed) goes to --out or stdout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := loadTenants(tenants)
			if err != nil {
				return err
			}
			r, closeIn, err := openInput(in)
			if err != nil {
				return err
			}
			defer closeIn()
			dir, err := os.MkdirTemp("", "bannin-replay-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			stop, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stop()
			if os.Getenv("GOGC") == "" {
				// A batch job: fewer collections for some more memory
				// (300,000 lines: about 5 % faster, 50 MB more; BENCHMARKS.md).
				debug.SetGCPercent(200)
			}
			cfg := app.Config{DB: filepath.Join(dir, "replay.db"), Scratch: true, Tenants: ts, Simulate: true, VirtualTime: true, DryRunNotify: true,
				RetryBase: 10 * time.Millisecond, SecretKey: make([]byte, 32), Log: logger(verbose)}
			return runReplay(cmd, cfg, r, out)
		},
	}
	cmd.Flags().StringArrayVar(&tenants, "tenant", nil, "tenant file (repeatable)")
	cmd.Flags().StringVar(&in, "in", "-", "input NDJSON file (- for stdin)")
	cmd.Flags().StringVar(&out, "out", "", "write the result JSON here (default stdout)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log at info level")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return cmd
}

func runReplay(cmd *cobra.Command, cfg app.Config, r io.Reader, out string) error {
	ctx := cmd.Context()
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	if err := a.Start(ctx); err != nil {
		return err
	}
	start := time.Now()
	progress := func(n int) { fmt.Fprintf(cmd.ErrOrStderr(), "replay: %d lines stored\n", n) }
	res, err := a.Replay(ctx, r, progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "replay: %d lines, %d incidents (%d need a human) in %.1fs\n",
		res.Alerts.Received, len(res.Incidents), needHuman(res), time.Since(start).Seconds())
	return writeJSONFile(cmd.OutOrStdout(), out, res)
}

func needHuman(res *app.Result) int {
	n := 0
	for _, in := range res.Incidents {
		if in.NeedsHuman {
			n++
		}
	}
	return n
}

func openInput(path string) (io.Reader, func(), error) {
	if path == "" || path == "-" {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func writeJSONFile(stdout io.Writer, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" || path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func newNormalize() *cobra.Command {
	var vendor, in, format string
	cmd := &cobra.Command{
		Use:   "normalize --vendor NAME --in FILE [--format alert|ocsf]",
		Short: "Print a vendor's payloads as normalised alerts (NDJSON), with the pipeline's decoder",
		Long: `Reads one JSON object, a JSON array, NDJSON or concatenated objects (for syslog:
one message per line; for mail: one RFC 5322 message) and prints one
normalised alert per line. A payload that does not decode is reported on
stderr with its number and reason, and the command exits 1 after the rest.

--format ocsf prints OCSF 1.3 Detection Finding objects (class_uid 2004)
instead of bannin's own alert shape; see docs/ocsf.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := connector.Lookup(vendor)
			if err != nil {
				return err
			}
			r, closeIn, err := openInput(in)
			if err != nil {
				return err
			}
			defer closeIn()
			body, err := io.ReadAll(io.LimitReader(r, 256<<20))
			if err != nil {
				return err
			}
			if format != "alert" && format != "ocsf" {
				return fmt.Errorf("--format %q: want alert or ocsf", format)
			}
			split := connector.Split
			if f, ok := v.Decoder.(connector.Framer); ok {
				split = f.Frame
			}
			payloads, err := split(body)
			if err != nil {
				return err
			}
			return normalize(cmd, v.Decoder, payloads, format == "ocsf")
		},
	}
	cmd.Flags().StringVar(&format, "format", "alert", "output shape: alert (bannin's) or ocsf (OCSF Detection Finding)")
	cmd.Flags().StringVar(&vendor, "vendor", "", "vendor registry name ("+strings.Join(connector.Names(), ", ")+")")
	cmd.Flags().StringVar(&in, "in", "-", "input file (- for stdin)")
	cmd.MarkFlagRequired("vendor")
	return cmd
}

func normalize(cmd *cobra.Command, d connector.Decoder, payloads [][]byte, asOCSF bool) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetEscapeHTML(false)
	failed := 0
	for i, p := range payloads {
		alerts, err := d.Decode(p)
		if err != nil {
			failed++
			fmt.Fprintf(cmd.ErrOrStderr(), "payload %d: %v\n", i+1, err)
			continue
		}
		for _, a := range alerts {
			var v any = a
			if asOCSF {
				v = ocsf.FromAlert(&a)
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d payloads did not decode", failed, len(payloads))
	}
	return nil
}

func newTenantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Check tenant files, or print an example"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Validate tenant files strictly (unknown keys and bad values are errors with line numbers)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := loadTenants(args)
			if err != nil {
				return err
			}
			for i, t := range ts {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (tenant %s, %d sources, %d rules)\n", args[i], t.ID, len(t.Sources), len(t.Rules))
			}
			return nil
		},
	}, newTenantExample())
	return cmd
}

func newTenantExample() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "example [--dir DIR]",
		Short: "Print the demo tenant file, or write it with its webhook secret file into DIR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				_, err := cmd.OutOrStdout().Write(tenant.Demo())
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			path, err := tenant.WriteDemo(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and its webhook secret %s\n", path, filepath.Join(dir, tenant.DemoWebhookSecretFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "write tenant.yaml and falcon.hook here")
	return cmd
}
