package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/secret"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// serveFlags are the service's settings; each defaults from a BANNIN_*
// environment variable.
type serveFlags struct {
	tenants      []string
	db           string
	listen       string
	smtp         string
	smtpFrom     string
	smtpTLS      string
	smtpUser     string
	smtpPassFile string
	phoneURL     string
	phoneSecret  string
	hookSecret   string
	keyFile      string
	apiTokenFile string
	simulate     bool
	maxInflight  int64
	rescueAfter  time.Duration
	storeWait    time.Duration
	verbose      bool
	smtpIn       app.SMTPConfig
	publicURL    string
	slackSecret  string
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func (f *serveFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.tenants, "tenant", nil, "tenant file (repeatable)")
	fl.StringVar(&f.db, "db", env("BANNIN_DB", "bannin.db"), "SQLite file, or postgres://… URL [BANNIN_DB]")
	fl.StringVar(&f.smtp, "smtp", env("BANNIN_SMTP", ""), "outbound mail server host:port [BANNIN_SMTP]")
	fl.StringVar(&f.smtpFrom, "smtp-from", env("BANNIN_SMTP_FROM", "bannin@localhost"), "sender address [BANNIN_SMTP_FROM]")
	fl.StringVar(&f.smtpTLS, "smtp-tls", env("BANNIN_SMTP_TLS", "opportunistic"), "STARTTLS policy: opportunistic | mandatory | none")
	fl.StringVar(&f.smtpUser, "smtp-user", env("BANNIN_SMTP_USER", ""), "SMTP AUTH user for a relay [BANNIN_SMTP_USER]")
	fl.StringVar(&f.smtpPassFile, "smtp-password-file", env("BANNIN_SMTP_PASSWORD_FILE", ""), "file with the SMTP AUTH password [BANNIN_SMTP_PASSWORD_FILE]")
	fl.StringVar(&f.phoneURL, "phone-webhook", env("BANNIN_PHONE_WEBHOOK", ""), "telephony service webhook URL [BANNIN_PHONE_WEBHOOK]")
	fl.StringVar(&f.phoneSecret, "phone-secret-file", env("BANNIN_PHONE_SECRET_FILE", ""), "file with the secret that signs phone webhook calls")
	fl.StringVar(&f.hookSecret, "notify-webhook-secret-file", env("BANNIN_NOTIFY_WEBHOOK_SECRET_FILE", ""), "file with the secret that signs notifications to contacts' webhooks (via: webhook)")
	fl.StringVar(&f.keyFile, "secret-key-file", env("BANNIN_SECRET_KEY_FILE", ""), "file with the base64 32-byte key sealing secrets at rest (default: <db>.key, created when missing; or BANNIN_SECRET_KEY)")
	fl.StringVar(&f.apiTokenFile, "api-token-file", env("BANNIN_API_TOKEN_FILE", ""), "file with the REST API bearer token (API disabled without it)")
	fl.BoolVar(&f.simulate, "simulate", false, "sources without a url use the built-in vendor simulator")
	fl.Int64Var(&f.maxInflight, "max-inflight-bytes", 64<<20, "intake memory ceiling; beyond it webhooks get 503 + Retry-After")
	fl.DurationVar(&f.storeWait, "store-wait", time.Minute, "at start, keep retrying this long while the store is out of reach (PostgreSQL restarting or failing over); 0: fail at once")
	fl.DurationVar(&f.rescueAfter, "job-rescue-after", 2*time.Minute, "a job running this long belonged to a dead node and runs again (PostgreSQL; jobs time out at half)")
	fl.StringVar(&f.smtpIn.Listen, "smtp-listen", env("BANNIN_SMTP_LISTEN", ""), "inbound SMTP listener for tenants' mail sources, host:port (e.g. 0.0.0.0:2525) [BANNIN_SMTP_LISTEN]")
	fl.StringVar(&f.smtpIn.Domain, "smtp-listen-domain", env("BANNIN_SMTP_LISTEN_DOMAIN", "localhost"), "name the inbound SMTP listener greets with")
	fl.StringVar(&f.smtpIn.CertFile, "smtp-listen-cert", env("BANNIN_SMTP_LISTEN_CERT", ""), "PEM certificate: the inbound SMTP listener offers STARTTLS")
	fl.StringVar(&f.smtpIn.KeyFile, "smtp-listen-key", env("BANNIN_SMTP_LISTEN_KEY", ""), "PEM key for --smtp-listen-cert")
	fl.StringVar(&f.publicURL, "public-url", env("BANNIN_PUBLIC_URL", ""), "URL people reach this bannin at (e.g. https://soc.example.com); notifications then carry signed acknowledgement links (default: http://<--listen>) [BANNIN_PUBLIC_URL]")
	fl.StringVar(&f.slackSecret, "slack-signing-secret-file", env("BANNIN_SLACK_SIGNING_SECRET_FILE", ""), "file with the Slack app's signing secret: enables the acknowledge button's POST /v1/slack/actions")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log at info level")
}

func newServe() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve --tenant FILE [--db postgres://…]",
		Short: "Run the service: webhooks, pollers, triage, containment and notification jobs",
		Long: `Run bannin. Alerts arrive by POST /v1/ingest/{tenant}/{source} (header
X-Bannin-Signature: sha256=<hex HMAC-SHA256 of the body>, 202 once durable),
by polling each source that has a url, on the syslog listeners of syslog
sources (listen_udp, listen_tcp, listen_tls in the tenant file), and by mail
to the tenants' mail_address on --smtp-listen (250 once durable). Stop with
Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.listen = env("BANNIN_LISTEN", f.listen)
			cfg, err := f.config()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, f.listen, f.storeWait, func(addr string) {
				fmt.Fprintf(cmd.ErrOrStderr(), "bannin: serving on http://%s (store %s)\n", addr, redact(f.db))
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:8080", "HTTP listen address [BANNIN_LISTEN]")
	return cmd
}

func (f *serveFlags) config() (app.Config, error) {
	ts, err := loadTenants(f.tenants)
	if err != nil {
		return app.Config{}, err
	}
	cfg := app.Config{DB: f.db, Tenants: ts, Simulate: f.simulate, PollSimulators: f.simulate, PhoneWebhook: f.phoneURL,
		MaxInflightBytes: f.maxInflight, RescueAfter: f.rescueAfter, Log: logger(f.verbose), SMTP: f.smtpIn}
	if (f.smtpIn.CertFile == "") != (f.smtpIn.KeyFile == "") {
		return cfg, fmt.Errorf("--smtp-listen-cert and --smtp-listen-key go together")
	}
	if cfg.SecretKey, err = f.secretKey(); err != nil {
		return cfg, err
	}
	if f.smtp != "" {
		if cfg.Email, err = emailConfig(f.smtp, f.smtpFrom, f.smtpTLS); err != nil {
			return cfg, err
		}
		cfg.Email.Username = f.smtpUser
		if f.smtpPassFile != "" {
			pw, err := readSecretFile(f.smtpPassFile)
			if err != nil {
				return cfg, err
			}
			cfg.Email.Password = string(pw)
		}
	}
	if f.phoneSecret != "" {
		if cfg.PhoneSecret, err = readSecretFile(f.phoneSecret); err != nil {
			return cfg, err
		}
	}
	if f.hookSecret != "" {
		if cfg.WebhookSecret, err = readSecretFile(f.hookSecret); err != nil {
			return cfg, err
		}
	}
	cfg.PublicURL = f.publicURL
	if cfg.PublicURL == "" {
		cfg.PublicURL = defaultPublicURL(f.listen)
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, fmt.Errorf("--public-url %q: want an absolute http or https URL", cfg.PublicURL)
		}
	}
	if f.slackSecret != "" {
		if cfg.SlackSigningSecret, err = readSecretFile(f.slackSecret); err != nil {
			return cfg, err
		}
	}
	if f.apiTokenFile != "" {
		tok, err := readSecretFile(f.apiTokenFile)
		if err != nil {
			return cfg, err
		}
		cfg.APIToken = string(tok)
	}
	return cfg, nil
}

// defaultPublicURL is http://<listen>, with this machine's name when the
// listener takes every address; "" when neither gives a usable host.
func defaultPublicURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return ""
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (f *serveFlags) secretKey() ([]byte, error) {
	path := f.keyFile
	if path == "" {
		if _, set := os.LookupEnv(secret.EnvKey); !set && strings.Contains(f.db, "://") {
			return nil, errors.New("with a postgres store, give --secret-key-file or BANNIN_SECRET_KEY so every node seals alike")
		}
		path = f.db + ".key"
	}
	return secret.ResolveKey(path)
}

func emailConfig(hostport, from, tlsPolicy string) (notify.EmailConfig, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return notify.EmailConfig{}, fmt.Errorf("--smtp %q: want host:port", hostport)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return notify.EmailConfig{}, fmt.Errorf("--smtp %q: bad port", hostport)
	}
	return notify.EmailConfig{Host: host, Port: p, From: from, TLSPolicy: tlsPolicy, Timeout: 30 * time.Second}, nil
}

func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("secret file %s is empty", path)
	}
	return []byte(s), nil
}

// serve runs an App and its HTTP server until ctx ends.
func serve(ctx context.Context, cfg app.Config, listen string, storeWait time.Duration, ready func(addr string)) error {
	// The app outlives the signal: on Ctrl-C the HTTP server stops taking
	// requests first (in-flight webhooks finish and are acknowledged), then
	// the app stops.
	a, err := startWaiting(ctx, cfg, storeWait)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		a.Close(context.Background())
		return err
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	ready(ln.Addr().String())
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shut)
	return a.Close(shut)
}

// redact hides a password in a database URL.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				return dsn[:i+3+c] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}

// startWaiting opens and starts the app (which runs on after ctx ends,
// until Close), retrying for up to wait while the store is out of reach
// (sqlstore.IsConnError: refused, cut off, PostgreSQL restarting or still
// starting up), so that a node started during a database restart or
// failover comes up with the database instead of exiting. Any other error
// returns at once.
func startWaiting(ctx context.Context, cfg app.Config, wait time.Duration) (*app.App, error) {
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for {
		a, err := app.Open(ctx, cfg)
		if err == nil {
			if err = a.Start(context.WithoutCancel(ctx)); err == nil {
				return a, nil
			}
			a.Close(context.Background())
		}
		if !sqlstore.IsConnError(err) {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				err = fmt.Errorf("store %s out of reach for %s (--store-wait): %w", redact(cfg.DB), wait, err)
			}
			return nil, err
		}
		delay = min(delay, left)
		cfg.Log.Warn("store out of reach; retrying", "store", redact(cfg.DB), "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}
