// Package crashtest kills the real `bannin serve` process with SIGKILL in
// the middle of a webhook flood, restarts it, and checks that nothing
// acknowledged was lost, nothing was stored twice, and no containment was
// sent to the vendor twice (issue 4's durability harness).
//
// The vendor simulator runs as its own process (`bannin sim crowdstrike`),
// so its count of containment calls per idempotency key survives bannin's
// deaths. CI runs a small flood; set BANNIN_CRASH_ALERTS and
// BANNIN_CRASH_KILLS for the full one (100000 and 20).
package crashtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
)

// dieWithTest makes a child process get SIGKILL when the test process
// dies, even by a panic or a time-out that skips the cleanups: an orphaned
// node would otherwise run on and load the machine.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// harness holds the built binary, the simulator process and bannin's files.
type harness struct {
	t       *testing.T
	driver  string // database/sql driver to read the store: sqlite or pgx
	bin     string
	dir     string
	simURL  string
	secret  []byte
	db      string
	listens []string    // one HTTP address per bannin node
	serves  []*exec.Cmd // the running node processes
	serveMu sync.Mutex
	// midFlood, when set, runs once half of the alerts are sent (the
	// PostgreSQL restart).
	midFlood func()
}

func TestCrashFloodSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash harness builds and runs bannin; skipped with -short")
	}
	h := newHarness(t, 1)
	h.db, h.driver = filepath.Join(h.dir, "bannin.db"), "sqlite"
	h.run(envInt("BANNIN_CRASH_ALERTS", 3000), envInt("BANNIN_CRASH_KILLS", 5))
}

// TestCrashFloodPostgres is the same flood on PostgreSQL (BANNIN_TEST_PG),
// in a schema of its own, served by two nodes: webhooks go to both, and the
// kills hit one node at a time while the other goes on.
func TestCrashFloodPostgres(t *testing.T) {
	base := os.Getenv("BANNIN_TEST_PG")
	if base == "" {
		t.Skip("BANNIN_TEST_PG is not set; set it to a PostgreSQL URL to run the crash harness on PostgreSQL too")
	}
	if testing.Short() {
		t.Skip("the crash harness builds and runs bannin; skipped with -short")
	}
	h := newHarness(t, 2)
	h.db, h.driver = freshSchema(t, base), "pgx"
	h.run(envInt("BANNIN_CRASH_ALERTS", 3000), envInt("BANNIN_CRASH_KILLS", 5))
}

func freshSchema(t *testing.T, base string) string {
	t.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("crash_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE"); db.Close() })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func newHarness(t *testing.T, nodes int) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), secret: []byte("crash-test-secret")}
	h.bin = filepath.Join(h.dir, "bannin")
	build := exec.Command("go", "build", "-o", h.bin, "../../cmd/bannin")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bannin: %v\n%s", err, out)
	}
	simAddr := freeAddr(t)
	sim := exec.Command(h.bin, "sim", "crowdstrike", "--listen", simAddr)
	sim.SysProcAttr = dieWithTest()
	sim.Stdout, sim.Stderr = os.Stderr, os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	h.simURL = "http://" + simAddr
	waitHTTP(t, h.simURL+"/_sim/calls")
	for range nodes {
		h.listens = append(h.listens, freeAddr(t))
	}
	h.serves = make([]*exec.Cmd, nodes)
	h.writeTenant()
	return h
}

func (h *harness) writeTenant() {
	files := map[string]string{"hook": string(h.secret), "id": cs.SimClientID, "secret": cs.SimClientSecret}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(v), 0o600); err != nil {
			h.t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf(`id: crash
name: Crash Test K.K.
language: en
timezone: Asia/Tokyo
sources:
  - name: falcon
    vendor: crowdstrike
    webhook_secret_file: hook
    url: %s
    client_id_file: id
    client_secret_file: secret
    poll: 1s
critical_hosts: [fs01]
containment: {mode: hybrid, min_severity: critical}
contacts:
  soc: {email: soc@crash.example}
notify:
  - severities: [emergency, critical]
    to: [{contact: soc, via: email}]
`, h.simURL)
	if err := os.WriteFile(filepath.Join(h.dir, "tenant.yaml"), []byte(yaml), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// start launches node i (bannin serve) and waits until it answers.
func (h *harness) start(i int) {
	h.serveMu.Lock()
	defer h.serveMu.Unlock()
	cmd := exec.Command(h.bin, "serve", "--tenant", filepath.Join(h.dir, "tenant.yaml"), "--db", h.db,
		"--listen", h.listens[i], "--secret-key-file", filepath.Join(h.dir, "key"), "--job-rescue-after", "6s")
	cmd.SysProcAttr = dieWithTest()
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.serves[i] = cmd
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + h.listens[i] + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("bannin serve did not come up:\n%s", logs.String())
}

// kill sends SIGKILL to node i: no shutdown code runs.
func (h *harness) kill(i int) {
	h.serveMu.Lock()
	defer h.serveMu.Unlock()
	if c := h.serves[i]; c != nil {
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		h.serves[i] = nil
	}
}

// alert is the i-th flood alert: mostly noise, every 50th critical on its
// own host (an isolation), hosts registered with the simulator beforehand.
func alert(i int) (id, host string, body []byte) {
	id = fmt.Sprintf("crash:ind:%06d", i)
	if i%50 == 0 {
		host = fmt.Sprintf("crit-%05d", i)
		return id, host, cs.NewAlert(host, aid(host), cs.AlertCompositeID(id), cs.AlertSeverity(90),
			cs.AlertTechnique("TA0006", "Credential Access", "T1003.001", "LSASS Memory"),
			cs.AlertProcess("dump.exe", `C:\dump.exe`, "dump.exe "+host, fmt.Sprintf("%064x", i)))
	}
	host = fmt.Sprintf("pc-%03d", i%200)
	return id, host, cs.NewAlert(host, aid(host), cs.AlertCompositeID(id), cs.AlertSeverity(30))
}

func aid(host string) string {
	s := sha256.Sum256([]byte(host))
	return hex.EncodeToString(s[:16])
}

// run floods n alerts in requests of 10 from 8 clients while killing bannin
// `kills` times at random moments, then checks the outcome.
func (h *harness) run(n, kills int) {
	t := h.t
	for i := 0; i < n; i += 50 {
		_, host, _ := alert(i)
		post(t, h.simURL+"/_sim/devices?id="+aid(host)+"&name="+host, nil)
	}
	for i := range h.listens {
		h.start(i)
	}
	acked := make([]bool, n)
	var next, sentMu sync.Mutex
	cursor := 0
	take := func() (int, int) {
		next.Lock()
		defer next.Unlock()
		from := cursor
		cursor = min(cursor+10, n)
		return from, cursor
	}
	done := make(chan struct{})
	midDone := make(chan struct{})
	go func() {
		defer close(midDone)
		if h.midFlood == nil {
			return
		}
		for {
			next.Lock()
			sent := cursor
			next.Unlock()
			if sent >= n/2 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.midFlood()
	}()
	go func() { // the killer
		defer close(done)
		r := rand.New(rand.NewPCG(1, 2))
		for k := 0; k < kills; k++ {
			// Spread the kills over the whole flood, each at a random moment
			// within its share of it.
			at := (2*k + 1) * n / (2 * kills)
			at += r.IntN(max(n/(2*kills), 1)) - n/(4*kills)
			for {
				next.Lock()
				sent := cursor
				next.Unlock()
				if sent >= at || sent >= n {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(time.Duration(r.IntN(50)) * time.Millisecond)
			victim := k % len(h.listens)
			h.kill(victim)
			t.Logf("kill %d of %d (node %d)", k+1, kills, victim)
			h.start(victim)
		}
	}()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := c; ; {
				from, to := take()
				if from >= to {
					return
				}
				// Refused or cut off: the sender retries, on the next node.
				for ; !h.send(try%len(h.listens), from, to); try++ {
					time.Sleep(50 * time.Millisecond)
				}
				sentMu.Lock()
				for i := from; i < to; i++ {
					acked[i] = true
				}
				sentMu.Unlock()
			}
		}()
	}
	wg.Wait()
	<-done
	<-midDone
	h.verify(acked)
}

// send posts alerts [from, to) to node and reports whether it answered 202.
func (h *harness) send(node, from, to int) bool {
	var body bytes.Buffer
	for i := from; i < to; i++ {
		_, _, p := alert(i)
		body.Write(p)
		body.WriteByte('\n')
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.listens[node]+"/v1/ingest/crash/falcon", bytes.NewReader(body.Bytes()))
	m := hmac.New(sha256.New, h.secret)
	m.Write(body.Bytes())
	req.Header.Set("X-Bannin-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

// verify waits for bannin to finish, then checks: every acknowledged alert
// stored exactly once, nothing left pending, every isolation done and sent
// to the vendor exactly once.
func (h *harness) verify(acked []bool) {
	t := h.t
	dsn := h.db
	if h.driver == "sqlite" {
		dsn = "file:" + h.db + "?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(h.driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitQuiet(t, db, len(acked))
	for i := range h.listens {
		h.kill(i)
	}
	stored := map[string]int{}
	rows, err := db.Query(`SELECT vendor_id FROM alerts WHERE tenant = 'crash'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id]++
	}
	rows.Close()
	lost, wantIso := 0, 0
	for i, ok := range acked {
		id, _, _ := alert(i)
		if ok && stored[id] != 1 {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged alert %s stored %d times, want 1", id, stored[id])
			}
		}
		if i%50 == 0 {
			wantIso++
		}
	}
	var states = map[string]int{}
	rows, err = db.Query(`SELECT state FROM actions WHERE tenant = 'crash' AND kind = 'isolate'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		states[s]++
	}
	rows.Close()
	if states["done"] != wantIso || len(states) != 1 {
		t.Errorf("isolation actions by state %v, want %d done", states, wantIso)
	}
	calls := map[string]int{}
	resp, err := http.Get(h.simURL + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&calls)
	resp.Body.Close()
	twice := 0
	for key, c := range calls {
		if c != 1 {
			twice++
			t.Errorf("containment %s reached the vendor %d times", key, c)
		}
	}
	t.Logf("%d alerts acknowledged, %d stored, %d isolations done, %d containment keys at the vendor, %d lost, %d doubled",
		len(acked), len(stored), states["done"], len(calls), lost, twice)
	if len(calls) != wantIso {
		t.Errorf("the vendor saw %d containment keys, want %d", len(calls), wantIso)
	}
}

// waitQuiet waits until no payload is pending and no job is outstanding.
// It allows 3 minutes plus 10 ms per alert (a full 100,000-alert flood on
// PostgreSQL triages for minutes after the last acknowledgement).
func waitQuiet(t *testing.T, db *sql.DB, alerts int) {
	t.Helper()
	limit := 3*time.Minute + time.Duration(alerts)*10*time.Millisecond
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var pending, jobs int
		db.QueryRow(`SELECT COUNT(*) FROM inbox WHERE state = 'pending'`).Scan(&pending)
		db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state IN ('available','running','retryable','scheduled','pending')`).Scan(&jobs)
		if pending == 0 && jobs == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var pending int
	db.QueryRow(`SELECT COUNT(*) FROM inbox WHERE state = 'pending'`).Scan(&pending)
	rows, _ := db.Query(`SELECT state, kind, COUNT(*), MAX(attempt), MAX(CAST(errors AS TEXT)) FROM river_job GROUP BY state, kind`)
	var b strings.Builder
	for rows != nil && rows.Next() {
		var st, kind string
		var n, att int
		var errs sql.NullString
		rows.Scan(&st, &kind, &n, &att, &errs)
		fmt.Fprintf(&b, "%s %s: %d (attempt %d) %.300s\n", kind, st, n, att, errs.String)
	}
	t.Fatalf("bannin did not finish the flood in %v: %d payloads pending; jobs:\n%s", limit, pending, b.String())
}

func post(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not answer", url)
}
