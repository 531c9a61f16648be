package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/bannin-soc/bannin/internal/app"
	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// ingestResult is `bench ingest --json`'s last line.
type ingestResult struct {
	Store          string  `json:"store"`
	Alerts         int     `json:"alerts"`
	BaselinePerSec float64 `json:"baseline_per_sec"`
	PipelinePerSec float64 `json:"pipeline_per_sec"`
	Ratio          float64 `json:"ratio"`
	// FloorPerSec is the rate of the writes no pipeline on bannin's data
	// path can skip (see floor); FloorRatio is it over the baseline: about
	// the highest ratio a triage could reach with this batch size on this
	// machine and store.
	FloorPerSec     float64 `json:"floor_per_sec"`
	FloorRatio      float64 `json:"floor_ratio"`
	JobsDrainedSecs float64 `json:"jobs_drained_secs"`
	Incidents       int     `json:"incidents"`
}

func newBenchIngest() *cobra.Command {
	var store, pgURL string
	var n int
	var asJSON bool
	var cpuprofile string
	cmd := &cobra.Command{
		Use:   "ingest [--store sqlite|postgres] [--alerts N] [--json]",
		Short: "Alerts/s: raw decode+group-commit baseline vs. the whole intake→triage→store pipeline",
		Long: `Generates N distinct CrowdStrike alerts over 500 hosts and measures, each on a
fresh store: (a) the baseline — decode every payload and insert it with group
commits of 500; (b) the floor — submit them through a committer from 8
concurrent clients and, as they commit, claim them in batches of 1,024, decode
them, store each alert's row and mark its inbox row done, with no triage at
all: the writes no pipeline on bannin's data path can skip; (c) the pipeline —
submit them through the committer from 8 concurrent clients (as webhooks
would) and wait until every payload is triaged into incidents. Prints the
rates, the pipeline's ratio to the baseline and the floor's (the highest
ratio triage could reach here); with --json the last line is one JSON object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stop()
			r, err := benchIngest(cmd, store, pgURL, n, !asJSON)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "store %s, %d alerts: baseline %.0f/s, pipeline %.0f/s (ratio %.2f); floor without triage %.0f/s (ratio %.2f); jobs drained after %.1fs; %d incidents\n",
				r.Store, r.Alerts, r.BaselinePerSec, r.PipelinePerSec, r.Ratio, r.FloorPerSec, r.FloorRatio, r.JobsDrainedSecs, r.Incidents)
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", "sqlite", "sqlite or postgres")
	cmd.Flags().StringVar(&pgURL, "pg-url", env("BANNIN_TEST_PG", "postgres://root@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL URL for --store postgres")
	cmd.Flags().IntVar(&n, "alerts", 20000, "number of alerts")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return cmd
}

// startCPUProfile writes a CPU profile to path ("": none) until stop.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchHosts is the size of the generated estate.
const benchHosts = 500

func benchHost(i int) string { return fmt.Sprintf("pc-%04d", i) }
func benchAID(i int) string  { return fmt.Sprintf("%032x", i) }

func benchPayloads(n int) [][]byte {
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		sev := []int{30, 40, 50, 60, 75}[i%5]
		out[i] = cs.NewAlert(benchHost(i%benchHosts), benchAID(i%benchHosts), cs.AlertSeverity(sev),
			cs.AlertPattern(1000+i%37, "BenchDetection"), cs.AlertCompositeID(fmt.Sprintf("bench:ind:%d", i)),
			cs.AlertProcess("tool.exe", `\Device\HarddiskVolume2\tools\tool.exe`, fmt.Sprintf("tool.exe --run %d", i%97), fmt.Sprintf("%064x", i%211)),
			cs.AlertCreated(base.Add(time.Duration(i)*time.Second)))
	}
	return out
}

// benchStore opens a fresh store of the kind asked for, and a cleanup.
func benchStore(ctx context.Context, kind, pgURL, dir, name string) (string, func(), error) {
	if kind == "sqlite" {
		return filepath.Join(dir, name+".db"), func() {}, nil
	}
	if kind != "postgres" {
		return "", nil, fmt.Errorf("--store %q: want sqlite or postgres", kind)
	}
	schema := fmt.Sprintf("bench_%s_%d", name, time.Now().UnixNano())
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		return "", nil, err
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("postgres at %s: %w", redact(pgURL), err)
	}
	sep := "?"
	if strings.Contains(pgURL, "?") {
		sep = "&"
	}
	return pgURL + sep + "search_path=" + schema, func() {
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	}, nil
}

func benchIngest(cmd *cobra.Command, kind, pgURL string, n int, human bool) (*ingestResult, error) {
	ctx := cmd.Context()
	dir, err := os.MkdirTemp("", "bannin-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	payloads := benchPayloads(n)
	bar := newBar(cmd, human, n*3, "baseline, floor, then pipeline")
	base, err := baseline(ctx, kind, pgURL, dir, payloads, bar)
	if err != nil {
		return nil, err
	}
	fl, err := floor(ctx, kind, pgURL, dir, payloads, bar)
	if err != nil {
		return nil, err
	}
	pipe, drained, incidents, err := pipeline(ctx, kind, pgURL, dir, payloads, bar)
	if err != nil {
		return nil, err
	}
	if bar != nil {
		bar.Finish()
	}
	return &ingestResult{Store: kind, Alerts: n, BaselinePerSec: base, PipelinePerSec: pipe, Ratio: pipe / base,
		FloorPerSec: fl, FloorRatio: fl / base, JobsDrainedSecs: drained.Seconds(), Incidents: incidents}, nil
}

func newBar(cmd *cobra.Command, human bool, n int, desc string) *progressbar.ProgressBar {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !human || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
}

// openBenchStore opens a fresh, migrated store (benchStore) and returns it
// with what closes and removes it.
func openBenchStore(ctx context.Context, kind, pgURL, dir, name string) (*sqlstore.DB, func(), error) {
	dsn, cleanup, err := benchStore(ctx, kind, pgURL, dir, name)
	if err != nil {
		return nil, nil, err
	}
	db, err := app.OpenStore(ctx, dsn)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return db, func() { db.Close(); cleanup() }, nil
}

func baseline(ctx context.Context, kind, pgURL, dir string, payloads [][]byte, bar *progressbar.ProgressBar) (float64, error) {
	db, done, err := openBenchStore(ctx, kind, pgURL, dir, "baseline")
	if err != nil {
		return 0, err
	}
	defer done()
	dec := cs.Decoder{}
	start := time.Now()
	batch := make([]sqlstore.InboxItem, 0, 500)
	for i, p := range payloads {
		if _, err := dec.Decode(p); err != nil {
			return 0, err
		}
		batch = append(batch, sqlstore.InboxItem{Tenant: "bench", Source: "falcon", ReceivedAt: start, Payload: p})
		if len(batch) == cap(batch) || i == len(payloads)-1 {
			if err := db.Accept(ctx, batch, nil); err != nil {
				return 0, err
			}
			if bar != nil {
				bar.Add(len(batch))
			}
			batch = batch[:0]
		}
	}
	return float64(len(payloads)) / time.Since(start).Seconds(), nil
}

func pipeline(ctx context.Context, kind, pgURL, dir string, payloads [][]byte, bar *progressbar.ProgressBar) (float64, time.Duration, int, error) {
	dsn, cleanup, err := benchStore(ctx, kind, pgURL, dir, "pipeline")
	if err != nil {
		return 0, 0, 0, err
	}
	defer cleanup()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		return 0, 0, 0, err
	}
	t, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		return 0, 0, 0, err
	}
	a, err := app.Open(ctx, app.Config{DB: dsn, Tenants: []*tenant.Tenant{t}, Simulate: true, SecretKey: make([]byte, 32),
		RetryBase: 50 * time.Millisecond, Log: logger(false)})
	if err != nil {
		return 0, 0, 0, err
	}
	defer a.Close(context.Background())
	if err := a.Start(ctx); err != nil {
		return 0, 0, 0, err
	}
	if sim, ok := a.Simulator(t.ID, "falcon"); ok {
		for h := range benchHosts { // Falcon knows every sensor of the estate
			sim.(interface{ AddDevice(aid, host string) }).AddDevice(benchAID(h), benchHost(h))
		}
	}
	start := time.Now()
	if err := submitAll(ctx, a.Committer.Submit, t.ID, payloads); err != nil {
		return 0, 0, 0, err
	}
	for {
		pending, err := a.DB.PendingCount(ctx)
		if err != nil {
			return 0, 0, 0, err
		}
		if bar != nil {
			bar.Set(3*len(payloads) - pending)
		}
		if pending == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rate := float64(len(payloads)) / time.Since(start).Seconds()
	if err := a.Quiesce(ctx); err != nil {
		return 0, 0, 0, err
	}
	drained := time.Since(start)
	incs, err := a.DB.Incidents(ctx, t.ID)
	return rate, drained, len(incs), err
}

// submitAll sends payloads through the committer from 8 clients in requests
// of 50, retrying on backpressure as a webhook sender would.
func submitAll(ctx context.Context, submit func(context.Context, []sqlstore.InboxItem, ...sqlstore.Cursor) error, tenantID string, payloads [][]byte) error {
	const clients, per = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c * per; i < len(payloads); i += clients * per {
				items := make([]sqlstore.InboxItem, 0, per)
				for _, p := range payloads[i:min(i+per, len(payloads))] {
					items = append(items, sqlstore.InboxItem{Tenant: tenantID, Source: "falcon", ReceivedAt: time.Now().UTC(), Payload: p})
				}
				for {
					err := submit(ctx, items)
					if err == nil {
						break
					}
					if !errors.Is(err, intake.ErrBusy) {
						errs <- err
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
