package crashtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// privatePG is a PostgreSQL server of the test's own, so that it can be
// restarted without disturbing other tests that share the machine's server.
type privatePG struct {
	t    *testing.T
	bin  string // directory of initdb and pg_ctl
	data string
	log  string
	port int
	asPG bool // run the server binaries as the postgres user (we are root)
}

func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql: cannot run a private server to restart")
	}
	p := &privatePG{t: t, bin: filepath.Dir(bins[len(bins)-1]), asPG: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "bannin-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.data = filepath.Join(dir, "data")
	if p.asPG {
		if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot hand %s to the postgres user: %v %s", dir, err, out)
		}
	}
	port, _ := strconv.Atoi(strings.TrimPrefix(freeAddr(t), "127.0.0.1:"))
	p.port = port
	p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.log = filepath.Join(dir, "log")
	p.run("pg_ctl", "-D", p.data, "-w", "-l", p.log, "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", p.port, dir), "start")
	t.Cleanup(func() { p.run("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop") })
	return p
}

func (p *privatePG) run(tool string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, tool), args...)
	if p.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, tool)}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// kill stops the server at once, ignoring errors (it may be down already).
func (p *privatePG) kill() {
	args := []string{"-D", p.data, "-m", "immediate", "stop"}
	cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), args...)
	if p.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, "pg_ctl")}, args...)...)
	}
	_ = cmd.Run()
}

func (p *privatePG) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// TestCrashFloodPostgresRestart is the two-node PostgreSQL flood with, in
// the middle, the database itself crashing: `pg_ctl restart -m immediate`
// aborts the server without a checkpoint, so it recovers from its WAL, as
// after a power cut. Nodes see their connections die mid-transaction;
// webhook senders get errors and retry. Nothing acknowledged may be lost
// and no containment may reach the vendor twice.
func TestCrashFloodPostgresRestart(t *testing.T) {
	if os.Getenv("BANNIN_TEST_PG") == "" {
		t.Skip("BANNIN_TEST_PG is not set: the PostgreSQL crash tests are off")
	}
	if testing.Short() {
		t.Skip("the crash harness builds and runs bannin; skipped with -short")
	}
	pg := startPrivatePG(t)
	// A time-out panic skips the cleanups; stop the server then too.
	stop := time.AfterFunc(8*time.Minute, pg.kill)
	defer stop.Stop()
	h := newHarness(t, 2)
	h.db, h.driver = pg.url(), "pgx"
	h.midFlood = func() {
		start := time.Now()
		// -l again: without it the new server would write to (and hold
		// open) pg_ctl's output.
		pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "-l", pg.log, "restart")
		t.Logf("PostgreSQL crashed and restarted in the middle of the flood (%v)", time.Since(start).Round(time.Millisecond))
	}
	h.run(envInt("BANNIN_CRASH_ALERTS", 3000), envInt("BANNIN_CRASH_KILLS", 5))
}
