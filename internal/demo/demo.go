// Package demo plays a short attack story against a real bannin: the
// embedded store, the CrowdStrike simulator (polled over HTTP like the real
// API), the signed webhook, an SMTP sink and a phone-webhook sink. It prints
// what bannin decided and did, and returns the outcome for tests.
package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/notify/smtpsink"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// Options configure a demo run.
type Options struct {
	Dir    string // working directory (store, tenant file); a temp dir when empty
	Listen string // HTTP address for the API and webhook, e.g. 127.0.0.1:8080
	DB     string // store; default Dir/demo.db
	Out    io.Writer
}

// Outcome is what the demo saw, for tests and the summary.
type Outcome struct {
	Result *app.Result
	Mails  []smtpsink.Received
	Calls  []PhoneCall
	Addr   string
}

// PhoneCall is one call the telephony sink received.
type PhoneCall struct {
	To, Message, Language, Incident string
}

// Demo is a started demo: call Play, then Close.
type Demo struct {
	opts   Options
	App    *app.App
	Sim    *crowdstrike.Sim
	Sink   *smtpsink.Sink
	phone  *phoneSink
	srv    *http.Server
	addr   string
	secret []byte
	tmp    string
	// expected counts payloads sent to bannin so far (simulator and webhook).
	expected int
}

// Start brings up the sinks and bannin itself.
func Start(ctx context.Context, o Options) (*Demo, error) {
	d := &Demo{opts: o}
	if o.Out == nil {
		d.opts.Out = io.Discard
	}
	if d.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "bannin-demo-*")
		if err != nil {
			return nil, err
		}
		d.opts.Dir, d.tmp = dir, dir
	}
	if d.opts.DB == "" {
		d.opts.DB = filepath.Join(d.opts.Dir, "demo.db")
	}
	if err := d.start(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Demo) start(ctx context.Context) error {
	path, err := tenant.WriteDemo(d.opts.Dir)
	if err != nil {
		return err
	}
	t, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		return err
	}
	d.secret = t.Sources[0].WebhookSecret
	if d.Sink, err = smtpsink.Start("127.0.0.1:0", smtpsink.Options{TLS: true}); err != nil {
		return err
	}
	d.phone = newPhoneSink()
	host, port, _ := net.SplitHostPort(d.Sink.Addr())
	var p int
	fmt.Sscanf(port, "%d", &p)
	cfg := app.Config{DB: d.opts.DB, Tenants: []*tenant.Tenant{t}, Simulate: true, PollSimulators: true,
		Email: notify.EmailConfig{Host: host, Port: p, From: "soc@bannin.example", TLSPolicy: "opportunistic",
			TLSConfig: &tls.Config{RootCAs: d.Sink.RootCAs(), ServerName: host}, Timeout: 10 * time.Second},
		PhoneWebhook: d.phone.url, RetryBase: 200 * time.Millisecond, SecretKey: make([]byte, 32),
		Log: quietLogger()}
	if d.App, err = app.Open(ctx, cfg); err != nil {
		return err
	}
	sim, _ := d.App.Simulator(t.ID, "falcon")
	d.Sim = sim.(*crowdstrike.Sim)
	if err := d.App.Start(ctx); err != nil {
		return err
	}
	listen := d.opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	d.addr = ln.Addr().String()
	d.srv = &http.Server{Handler: d.App.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go d.srv.Serve(ln)
	return nil
}

// Addr is where the demo's bannin serves HTTP.
func (d *Demo) Addr() string { return d.addr }

// Close stops everything.
func (d *Demo) Close() {
	if d.srv != nil {
		d.srv.Close()
	}
	if d.App != nil {
		d.App.Close(context.Background())
	}
	if d.Sink != nil {
		d.Sink.Close()
	}
	if d.phone != nil {
		d.phone.srv.Close()
	}
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
}

// webhook posts payloads to bannin's ingest endpoint, signed.
func (d *Demo) webhook(ctx context.Context, payloads ...[]byte) error {
	d.expected += len(payloads)
	body := bytes.Join(payloads, []byte("\n"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.addr+"/v1/ingest/hokuto/falcon", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(intake.SignatureHeader, intake.Sign(d.secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("webhook answered %s: %s", resp.Status, msg)
	}
	return nil
}

// phoneSink is a stand-in telephony service that records the calls.
type phoneSink struct {
	mu    sync.Mutex
	calls []PhoneCall
	srv   *http.Server
	url   string
}

func newPhoneSink() *phoneSink {
	p := &phoneSink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	p.url = "http://" + ln.Addr().String() + "/call"
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c struct{ To, Message, Language, Incident string }
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.calls = append(p.calls, PhoneCall(c))
		p.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})}
	go p.srv.Serve(ln)
	return p
}

func (p *phoneSink) Calls() []PhoneCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PhoneCall(nil), p.calls...)
}

// DBPath is the demo's store.
func (d *Demo) DBPath() string { return d.opts.DB }
