package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/view"
)

// backend is one store the app tests run on; fresh returns the DSN of a new,
// empty store that lives until the test ends.
type backend struct {
	name  string
	fresh func(t *testing.T) string
}

// eachStore runs f on SQLite, and on PostgreSQL when BANNIN_TEST_PG names a
// database (each store a schema of its own, dropped at the end), as
// parallel subtests.
func eachStore(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, backend{name: "sqlite", fresh: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "bannin.db")
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("BANNIN_TEST_PG")
		if base == "" {
			t.Skip("BANNIN_TEST_PG is not set; set it to a PostgreSQL URL " +
				"(postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this test on PostgreSQL too")
		}
		t.Parallel()
		f(t, backend{name: "postgres", fresh: func(t *testing.T) string { return freshSchema(t, base) }})
	})
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns base with its search_path set to it, so that bannin's and River's
// tables of one test never meet another's.
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("BANNIN_TEST_PG: %v", err)
	}
	schema := "bt_" + strings.ToLower(rand.Text()[:16]) // letters and digits: no quoting needed
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// env is a started App serving HTTP on a loopback port.
type env struct {
	App     *app.App
	URL     string
	secrets map[string][]byte // tenant id → webhook secret of its "falcon" source
	stop    func()
}

// start opens and starts an App on dsn with the tenants: simulators on, a
// retry base of a few milliseconds, a quiet log. opts adjust the Config.
// The App is closed when the test ends (or earlier by env.stop).
func start(t *testing.T, dsn string, tenants []*tenant.Tenant, opts ...func(*app.Config)) *env {
	t.Helper()
	cfg := app.Config{DB: dsn, Tenants: tenants, Simulate: true, SecretKey: make([]byte, 32),
		RetryBase: 5 * time.Millisecond, Log: quiet()}
	for _, o := range opts {
		o(&cfg)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	if err := a.Start(ctx); err != nil {
		a.Close(ctx)
		t.Fatalf("start app: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	e := &env{App: a, URL: srv.URL, secrets: map[string][]byte{}}
	for _, tn := range tenants {
		if s, ok := tn.Source("falcon"); ok {
			e.secrets[tn.ID] = s.WebhookSecret
		}
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			srv.Close()
			if err := a.Close(context.Background()); err != nil {
				t.Errorf("close app: %v", err)
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// hokuto loads the demo tenant: Japanese, hybrid containment from critical
// up, critical hosts fs01 and erp-db01, high and critical mail it-ml.
func hokuto(t *testing.T) *tenant.Tenant {
	t.Helper()
	path, err := tenant.WriteDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		t.Fatalf("load demo tenant: %v", err)
	}
	return tn
}

// acmeYAML is a second tenant in English with its own webhook secret, and
// a source that accepts no webhook.
const acmeYAML = `id: acme
name: Acme Manufacturing
language: en
timezone: Asia/Tokyo
sources:
  - name: falcon
    vendor: crowdstrike
    webhook_secret_file: acme.hook
  - name: nohook
    vendor: crowdstrike
contacts:
  secops: {name: Acme SecOps, email: secops@acme.example}
notify:
  - severities: [emergency, critical, high]
    to: [{contact: secops, via: email}]
`

func acme(t *testing.T) *tenant.Tenant {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "acme.hook"), []byte(rand.Text()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(path, []byte(acmeYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		t.Fatalf("load acme tenant: %v", err)
	}
	return tn
}

// reply is an HTTP answer, read whole.
type reply struct {
	code   int
	header http.Header
	body   string
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	r, err := send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return r
}

// send makes a request and reads the answer; it may run off the test's
// goroutine.
func send(req *http.Request) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

// ingest builds a webhook request for a tenant's source, with the
// signature header sig (none when empty).
func (e *env) ingest(ctx context.Context, tenantID, source, sig string, body []byte) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/v1/ingest/"+tenantID+"/"+source, bytes.NewReader(body))
	if err != nil {
		panic(err) // only a malformed URL fails, and e.URL is httptest's
	}
	if sig != "" {
		req.Header.Set(intake.SignatureHeader, sig)
	}
	return req
}

// post posts body to the tenant's falcon webhook with the right signature.
func (e *env) post(t *testing.T, tenantID string, body []byte) reply {
	t.Helper()
	return e.postSig(t, tenantID, "falcon", intake.Sign(e.secrets[tenantID], body), body)
}

// postSig posts body to a tenant's ingest endpoint with the signature
// header sig (none when empty).
func (e *env) postSig(t *testing.T, tenantID, source, sig string, body []byte) reply {
	t.Helper()
	return do(t, e.ingest(context.Background(), tenantID, source, sig, body))
}

// quiesce waits until the App has triaged everything and run every job.
func quiesce(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Quiesce(ctx); err != nil {
		t.Fatalf("quiesce: %v", err)
	}
}

// waitFor polls cond until it returns nil, failing the test with cond's
// last error after timeout (nats' checkFor).
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// aid derives a CrowdStrike AID (32 hex digits) from a host name.
func aid(host string) string {
	s := sha256.Sum256([]byte(host))
	return hex.EncodeToString(s[:16])
}

// csAlert is a CrowdStrike Alerts API alert with a fixed composite id:
// without options a PowerShell detection rated 50 (+5 for T1059: medium on
// the demo scale, an incident nobody is told about).
func csAlert(id, host string, opts ...crowdstrike.AlertOption) []byte {
	return crowdstrike.NewAlert(host, aid(host), append([]crowdstrike.AlertOption{crowdstrike.AlertCompositeID(id)}, opts...)...)
}

// high makes an alert high on the demo scale (60, +5 for T1059): mailed to
// the tenant's contact, not isolated.
func high() crowdstrike.AlertOption { return crowdstrike.AlertSeverity(60) }

// credentialTheft makes an alert critical on the demo scale: 75, +10 for
// T1003 → 85, so hybrid mode isolates a host that is not critical at once.
func credentialTheft() []crowdstrike.AlertOption {
	return []crowdstrike.AlertOption{crowdstrike.AlertSeverity(75), crowdstrike.AlertPattern(40404, "CredentialDumping"),
		crowdstrike.AlertTechnique("TA0006", "Credential Access", "T1003.001", "LSASS Memory"),
		crowdstrike.AlertProcess("mssecsvc.exe", `\Device\HarddiskVolume2\Users\Public\mssecsvc.exe`,
			`C:\Users\Public\mssecsvc.exe sekurlsa::logonpasswords`, strings.Repeat("7e", 32))}
}

// vendorIDs counts a tenant's stored alerts per vendor id.
func vendorIDs(t *testing.T, a *app.App, tenantID string) map[string]int {
	t.Helper()
	rows, err := a.DB.SQL().QueryContext(context.Background(), `SELECT vendor_id FROM alerts WHERE tenant = $1`, tenantID)
	if err != nil {
		t.Fatalf("list alerts: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// inboxTotal counts a tenant's inbox rows in any state.
func inboxTotal(t *testing.T, a *app.App, tenantID string) int {
	t.Helper()
	counts, err := a.DB.InboxCounts(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// incidents returns a tenant's incidents in output form.
func incidents(t *testing.T, a *app.App, tenantID string) []view.IncidentOut {
	t.Helper()
	incs, err := a.View.Incidents(context.Background(), tenantID)
	if err != nil {
		t.Fatalf("incidents of %s: %v", tenantID, err)
	}
	return incs
}

// onlyIncident returns the tenant's one incident.
func onlyIncident(t *testing.T, a *app.App, tenantID string) view.IncidentOut {
	t.Helper()
	incs := incidents(t, a, tenantID)
	if len(incs) != 1 {
		t.Fatalf("%s has %d incidents, want 1: %+v", tenantID, len(incs), incs)
	}
	return incs[0]
}

func ndjson(lines ...[]byte) []byte { return bytes.Join(lines, []byte("\n")) }
