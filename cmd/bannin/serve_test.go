package main

import (
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// TestOpenWaitingForPostgres starts a node while its PostgreSQL hangs up on
// every connection: without --store-wait it fails at once with the
// connection error; with it, it comes up once the database answers again.
func TestOpenWaitingForPostgres(t *testing.T) {
	pg := os.Getenv("BANNIN_TEST_PG")
	if pg == "" {
		t.Skip("BANNIN_TEST_PG unset: needs PostgreSQL")
	}
	ctx := t.Context()
	dir := t.TempDir()
	dsn, cleanup, err := benchStore(ctx, "postgres", pg, dir, "wait")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	// The node's address for the database: a proxy that hangs up on every
	// connection (the database going down or coming up) until forwarding is
	// set, then forwards to the real server.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = l.Addr().String()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DB: u.String(), Tenants: []*tenant.Tenant{tn}, Simulate: true, SecretKey: make([]byte, 32), Log: logger(false)}

	var forwarding atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed below
			}
			if !forwarding.Load() {
				c.Close()
				continue
			}
			wg.Go(func() { forward(c, target) })
		}
	})
	defer wg.Wait()
	defer l.Close()
	if _, err := startWaiting(ctx, cfg, 0); !sqlstore.IsConnError(err) || strings.Contains(err.Error(), "--store-wait") {
		t.Fatalf("without waiting: %v, want the connection error at once", err)
	}
	time.AfterFunc(500*time.Millisecond, func() { forwarding.Store(true) })
	a, err := startWaiting(ctx, cfg, 30*time.Second)
	if err != nil {
		t.Fatalf("with --store-wait: %v", err)
	}
	a.Close(ctx)
}

// forward copies one client connection to target and back.
func forward(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{})
	go func() { io.Copy(s, c); s.(*net.TCPConn).CloseWrite(); close(done) }()
	io.Copy(c, s)
	<-done
}
