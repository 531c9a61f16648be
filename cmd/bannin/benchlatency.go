package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/app"
	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/notify/smtpsink"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// latencyResult is `bench latency --json`'s last line.
type latencyResult struct {
	Store       string  `json:"store"`
	Rate        int     `json:"rate"`
	DurationS   float64 `json:"duration_s"`
	Sent        int     `json:"sent"`
	Probes      int     `json:"probes"`
	Isolated    int     `json:"isolated"`
	Mailed      int     `json:"mailed"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	Maxms       float64 `json:"max_ms"`
	NotifyP50ms float64 `json:"notify_p50_ms"`
	NotifyP99ms float64 `json:"notify_p99_ms"`
	RSSMB       float64 `json:"rss_mb"`
}

func newBenchLatency() *cobra.Command {
	var rate int
	var dur time.Duration
	var store, pgURL string
	var asJSON bool
	var cpuprofile string
	cmd := &cobra.Command{
		Use:   "latency [--rate R] [--duration D] [--store sqlite|postgres] [--json]",
		Short: "Webhook accept → isolation call at the simulator, and → SMTP 250 of the first mail, under load",
		Long: `Runs bannin with the CrowdStrike simulator and an SMTP sink, sends a background
load of R noise alerts/s through the signed webhook, and every 100 ms one
critical alert on a new host. For each of those it measures the time from the
webhook's 202 to the simulator receiving the contain call, and to the SMTP sink
accepting the first notification. Prints p50/p95/p99/max and the peak RSS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stop()
			r, err := benchLatency(cmd.Context(), store, pgURL, rate, dur)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "store %s, %d alerts/s for %s: accept→isolation p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms (%d/%d probes); accept→mail p50 %.0f ms, p99 %.0f ms; peak RSS %.0f MB\n",
				r.Store, r.Rate, dur, r.P50ms, r.P95ms, r.P99ms, r.Maxms, r.Isolated, r.Probes, r.NotifyP50ms, r.NotifyP99ms, r.RSSMB)
			return nil
		},
	}
	cmd.Flags().IntVar(&rate, "rate", 200, "background alerts per second")
	cmd.Flags().DurationVar(&dur, "duration", 20*time.Second, "how long to send")
	cmd.Flags().StringVar(&store, "store", "sqlite", "sqlite or postgres")
	cmd.Flags().StringVar(&pgURL, "pg-url", env("BANNIN_TEST_PG", "postgres://root@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL URL for --store postgres")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return cmd
}

// latencyRig is bannin, its simulator and its SMTP sink, on loopback.
type latencyRig struct {
	app    *app.App
	sim    *cs.Sim
	sink   *smtpsink.Sink
	url    string
	secret []byte
	srv    *http.Server
}

func newLatencyRig(ctx context.Context, dir, dsn string) (*latencyRig, error) {
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		return nil, err
	}
	t, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		return nil, err
	}
	sink, err := smtpsink.Start("127.0.0.1:0", smtpsink.Options{TLS: true})
	if err != nil {
		return nil, err
	}
	rig := &latencyRig{sink: sink, secret: t.Sources[0].WebhookSecret}
	cfg := app.Config{DB: dsn, Tenants: []*tenant.Tenant{t}, Simulate: true, SecretKey: make([]byte, 32), Log: logger(false),
		Email: notify.EmailConfig{Host: sink.Host(), Port: sink.Port(), From: "soc@bannin.example",
			TLSConfig: &tls.Config{RootCAs: sink.RootCAs(), ServerName: sink.Host()}, Timeout: 10 * time.Second}}
	if rig.app, err = app.Open(ctx, cfg); err != nil {
		sink.Close()
		return nil, err
	}
	sim, _ := rig.app.Simulator(t.ID, "falcon")
	rig.sim = sim.(*cs.Sim)
	if err := rig.app.Start(ctx); err != nil {
		rig.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rig.close()
		return nil, err
	}
	rig.url = "http://" + ln.Addr().String() + "/v1/ingest/hokuto/falcon"
	rig.srv = &http.Server{Handler: rig.app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go rig.srv.Serve(ln)
	return rig, nil
}

func (r *latencyRig) close() {
	if r.srv != nil {
		r.srv.Close()
	}
	r.app.Close(context.Background())
	r.sink.Close()
}

func (r *latencyRig) post(ctx context.Context, payloads ...[]byte) error {
	body := bytes.Join(payloads, []byte("\n"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(intake.SignatureHeader, intake.Sign(r.secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func benchLatency(ctx context.Context, kind, pgURL string, rate int, dur time.Duration) (*latencyResult, error) {
	dir, err := os.MkdirTemp("", "bannin-latency-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dsn, cleanup, err := benchStore(ctx, kind, pgURL, dir, "latency")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	rig, err := newLatencyRig(ctx, dir, dsn)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	for h := range benchHosts {
		rig.sim.AddDevice(benchAID(h), benchHost(h))
	}
	accepted, sent, err := rig.drive(ctx, rate, dur)
	if err != nil {
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := rig.app.Quiesce(wait); err != nil {
		return nil, err
	}
	res := rig.measure(accepted)
	res.Store, res.Rate, res.DurationS, res.Sent = kind, rate, dur.Seconds(), sent
	res.RSSMB = peakRSSMB()
	return res, nil
}

// drive sends the background load and the probes; it returns each probe's
// accept time by host.
func (r *latencyRig) drive(ctx context.Context, rate int, dur time.Duration) (map[string]time.Time, int, error) {
	var mu sync.Mutex
	accepted := map[string]time.Time{}
	sent := 0
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	probe := 0
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for n := 0; time.Since(start) < dur; n++ {
		<-tick.C
		due := int(float64(rate)*time.Since(start).Seconds()) - sent
		batch := make([][]byte, 0, max(due, 0))
		for range max(due, 0) {
			h := sent % benchHosts
			batch = append(batch, cs.NewAlert(benchHost(h), benchAID(h), cs.AlertSeverity(30), cs.AlertCompositeID(fmt.Sprintf("lat:noise:%d", sent)),
				cs.AlertDisposition(alert.ActionBlocked)))
			sent++
		}
		// A sender that fell behind posts its backlog in requests of at
		// most 500 alerts, well inside the webhook's 8 MiB limit.
		for len(batch) > 0 {
			part := batch[:min(500, len(batch))]
			batch = batch[len(part):]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.post(ctx, part...); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}()
		}
		if n%10 == 0 {
			probe++
			host, aid := fmt.Sprintf("probe-%04d", probe), fmt.Sprintf("%032x", 0xfeed0000+probe)
			r.sim.AddDevice(aid, host)
			p := cs.NewAlert(host, aid, cs.AlertSeverity(90), cs.AlertCompositeID("lat:probe:"+host),
				cs.AlertProcess("probe.exe", `C:\probe.exe`, "probe.exe "+host, fmt.Sprintf("%064x", 0xbad0000+probe)),
				cs.AlertTechnique("TA0006", "Credential Access", "T1003.001", "LSASS Memory"))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.post(ctx, p); err == nil {
					mu.Lock()
					accepted[host] = time.Now()
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, 0, err
	default:
	}
	return accepted, sent, nil
}

func (r *latencyRig) measure(accepted map[string]time.Time) *latencyResult {
	aidHost := map[string]string{}
	for host := range accepted {
		var probe int
		fmt.Sscanf(host, "probe-%d", &probe)
		aidHost[fmt.Sprintf("%032x", 0xfeed0000+probe)] = host
	}
	var iso, mail []float64
	for _, e := range r.sim.Ledger() {
		if host, ok := aidHost[e.AID]; ok && e.Action == "contain" {
			iso = append(iso, ms(e.At.Sub(accepted[host])))
		}
	}
	seen := map[string]bool{}
	for _, m := range r.sink.Messages() {
		for host, at := range accepted {
			if !seen[host] && strings.Contains(m.Subject, host) {
				seen[host] = true
				mail = append(mail, ms(m.At.Sub(at)))
			}
		}
	}
	res := &latencyResult{Probes: len(accepted), Isolated: len(iso), Mailed: len(mail)}
	res.P50ms, res.P95ms, res.P99ms, res.Maxms = pct(iso, 50), pct(iso, 95), pct(iso, 99), pct(iso, 100)
	res.NotifyP50ms, res.NotifyP99ms = pct(mail, 50), pct(mail, 99)
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct returns the p-th percentile (nearest rank) of xs, or 0 for none.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// peakRSSMB reads the process's peak resident set (VmHWM) in MiB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}
