package app_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/mail"
	"github.com/bannin-soc/bannin/internal/connector/syslog"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
)

const pushYAML = `id: push
name: Push Sources K.K.
language: ja
timezone: Asia/Tokyo
sources:
  - name: fw
    vendor: syslog
    listen_udp: 127.0.0.1:0
    listen_tcp: 127.0.0.1:0
  - name: av-mail
    vendor: mail
    mail_address: SOC+push@bannin.example
    allowed_senders: ["@acme.example.co.jp"]
contacts:
  soc: {name: SOC, email: soc@push.example}
notify:
  - severities: [emergency, critical, high]
    to: [{contact: soc, via: email}]
`

// TestPushListeners: serve's syslog and SMTP listeners take alerts from a
// tenant file's push sources into the pipeline — a FortiGate line over TCP,
// a CEF line over UDP, and a Japanese (ISO-2022-JP) antivirus mail — while
// mail from a sender the tenant did not allow is refused.
func TestPushListeners(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		path := filepath.Join(t.TempDir(), "tenant.yaml")
		if err := os.WriteFile(path, []byte(pushYAML), 0o644); err != nil {
			t.Fatal(err)
		}
		tn, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
		if err != nil {
			t.Fatal(err)
		}
		e := start(t, b.fresh(t), []*tenant.Tenant{tn}, func(c *app.Config) { c.SMTP = app.SMTPConfig{Listen: "127.0.0.1:0"} })
		defer e.stop()
		var fw *syslog.Listener
		var smtp *mail.Running
		for _, l := range e.App.Listeners().All() {
			switch l := l.(type) {
			case *syslog.Running:
				if l.Tenant == "push" && l.Source == "fw" {
					fw = l.Listener
				}
			case *mail.Running:
				smtp = l
			}
		}
		if fw == nil || smtp == nil {
			t.Fatalf("listeners not started: syslog %v, mail %v", fw, smtp)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fortigate := `<185>date=2026-03-10 time=12:01:40 devname="FGT-HQ" devid="FG100ETK19000001" logid="0419016384" type="utm" subtype="ips" eventtype="signature" level="alert" vd="root" severity="critical" srcip=203.0.113.77 dstip=10.1.100.20 action="dropped" attack="Apache.Log4j.Error.Log.Remote.Code.Execution" attackid=51006 sessionid=20311 hostname="app.internal.example"`
		if err := syslog.Send(ctx, "tcp", fw.TCPAddr().String(), fortigate); err != nil {
			t.Fatalf("syslog over TCP: %v", err)
		}
		cef := `<14>Mar 10 12:03:05 PA-5220 CEF:0|Palo Alto Networks|PAN-OS|10.1.6|virus|THREAT|4|src=10.2.30.41 dst=198.51.100.23 act=reset-both externalId=7700123 cat=Virus/Win32.WGeneric`
		if err := syslog.Send(ctx, "udp", fw.UDPAddr().String(), cef); err != nil {
			t.Fatalf("syslog over UDP: %v", err)
		}
		eml, err := os.ReadFile(filepath.Join("..", "connector", "mail", "testdata", "trend-ja-iso2022jp.eml"))
		if err != nil {
			t.Fatal(err)
		}
		addr := smtp.Addr().String()
		if err := mail.Send(ctx, addr, "apexone@acme.example.co.jp", []string{"soc+push@bannin.example"}, eml); err != nil {
			t.Fatalf("alert mail: %v", err)
		}
		if err := mail.Send(ctx, addr, "someone@elsewhere.example", []string{"soc+push@bannin.example"}, eml); err == nil {
			t.Error("mail from a sender the tenant did not allow was accepted")
		}
		// UDP has no acknowledgement: wait until all three are in.
		for fw.Stats().Accepted < 2 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if err := e.App.Quiesce(ctx); err != nil {
			t.Fatal(err)
		}
		incs, err := e.App.View.Incidents(ctx, "push")
		if err != nil {
			t.Fatal(err)
		}
		var hosts, vendors []string
		for _, in := range incs {
			hosts = append(hosts, in.Hosts...)
			vendors = append(vendors, in.Vendors...)
		}
		slices.Sort(hosts)
		for _, want := range []string{"app", "経理部-pc05"} {
			if !slices.Contains(hosts, want) {
				t.Errorf("no incident on host %s; hosts %v", want, hosts)
			}
		}
		if !slices.Contains(vendors, "syslog") || !slices.Contains(vendors, "mail") {
			t.Errorf("incidents hold alerts of %v, want syslog and mail", vendors)
		}
		counts, err := e.App.DB.DispositionCounts(ctx, "push")
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		if total != 3 {
			t.Errorf("%d alerts stored (%v), want 3: two syslog lines and one mail", total, counts)
		}
	})
}
