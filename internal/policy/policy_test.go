package policy

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/tenant"
)

const head = "id: acme\nname: Acme\nlanguage: en\ntimezone: Asia/Tokyo\n" // lines 1–4

// newPolicy parses a tenant file the way bannin does and compiles it.
func newPolicy(t *testing.T, src string) *Policy {
	t.Helper()
	tn, err := tenant.Parse([]byte(src), t.TempDir(), tenant.WithRuleCheck(RuleCheck))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(tn)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContainment(t *testing.T) {
	const (
		below     = "severity high below min_severity critical: no automatic isolation"
		crit      = "critical host fs01 is never isolated without a human (critical_hosts)"
		hybrid    = "hybrid mode: severity critical ≥ min_severity critical → isolate at once"
		hybridE   = "hybrid mode: severity emergency ≥ min_severity critical → isolate at once"
		isolate   = "isolate_first: severity critical ≥ min_severity critical → isolate at once"
		isolateE  = "isolate_first: severity emergency ≥ min_severity critical → isolate at once"
		waits     = "investigate_first: isolation waits for an analyst"
		critAsset = "critical host erp-db01 is never isolated without a human (assets)"
	)
	tests := []struct {
		mode     tenant.Mode
		severity string
		host     string
		want     Decision
	}{
		{tenant.IsolateFirst, "high", "pc-1", Decision{None, below}},
		{tenant.IsolateFirst, "high", "fs01", Decision{None, "severity high below min_severity critical: no automatic isolation"}},
		{tenant.IsolateFirst, "critical", "pc-1", Decision{Isolate, isolate}},
		{tenant.IsolateFirst, "emergency", "pc-1", Decision{Isolate, isolateE}},
		{tenant.IsolateFirst, "critical", "fs01", Decision{Approve, crit}},
		{tenant.InvestigateFirst, "high", "pc-1", Decision{None, below}},
		{tenant.InvestigateFirst, "high", "fs01", Decision{None, below}},
		{tenant.InvestigateFirst, "critical", "pc-1", Decision{Approve, waits}},
		{tenant.InvestigateFirst, "critical", "fs01", Decision{Approve, crit}},
		{tenant.Hybrid, "high", "pc-1", Decision{None, below}},
		{tenant.Hybrid, "high", "fs01", Decision{None, below}},
		{tenant.Hybrid, "critical", "pc-1", Decision{Isolate, hybrid}},
		{tenant.Hybrid, "emergency", "PC-1.corp.example", Decision{Isolate, hybridE}},
		{tenant.Hybrid, "critical", "fs01", Decision{Approve, crit}},
		{tenant.Hybrid, "critical", "erp-db01", Decision{Approve, critAsset}},
		{tenant.IsolateFirst, "critical", "erp-db01", Decision{Approve, critAsset}},
		{tenant.Hybrid, "critical", "", Decision{Approve, "host name unknown: it may be a critical host, so isolation waits for a human"}},
		{tenant.IsolateFirst, "critical", " ", Decision{Approve, "host name unknown: it may be a critical host, so isolation waits for a human"}},
		{tenant.Hybrid, "severe", "pc-1", Decision{None, `severity "severe" is not on the tenant's scale: no automatic isolation`}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode)+"/"+tt.severity+"/"+tt.host, func(t *testing.T) {
			p := newPolicy(t, head+"critical_hosts: [fs01]\nassets: [{host: \"erp-*\", critical: true}]\n"+
				"containment: {mode: "+string(tt.mode)+", min_severity: critical}\n")
			if got := p.Containment(tt.severity, tt.host); got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	const hash = "fd7726b064f8db80d4b37db9389f1a72ebc28e5f1d525986be8f0d6be70a64fd"
	p := newPolicy(t, head+"allowlist:\n"+
		"  - {sha256: \""+strings.ToUpper(hash)+"\", reason: by hash}\n"+
		"  - {process_name: AcmeBackup.exe, hosts: [\"srv-*\"], reason: backup on servers}\n"+
		"  - {command_line: \"scan.exe  --FULL\", reason: by command line}\n"+
		"  - {rule: \"10:1234\", process_name: tool.exe, reason: rule and name}\n")
	tests := []struct {
		name   string
		a      alert.Alert
		reason string
	}{
		{"hash in any case", alert.Alert{Process: alert.Process{SHA256: hash}}, "by hash"},
		{"other hash", alert.Alert{Process: alert.Process{SHA256: strings.Repeat("a", 64)}}, ""},
		{"name on a matching host", alert.Alert{Host: alert.Host{Name: "SRV-01.corp"}, Process: alert.Process{Name: "acmebackup.EXE"}}, "backup on servers"},
		{"name from the path", alert.Alert{Host: alert.Host{Name: "srv-02"}, Process: alert.Process{Path: `C:\Program Files\Acme\AcmeBackup.exe`}}, "backup on servers"},
		{"name on another host", alert.Alert{Host: alert.Host{Name: "pc-01"}, Process: alert.Process{Name: "AcmeBackup.exe"}}, ""},
		{"name without a host", alert.Alert{Process: alert.Process{Name: "AcmeBackup.exe"}}, ""},
		{"command line contained", alert.Alert{Process: alert.Process{CommandLine: `C:\scan.exe --full /quiet`}}, "by command line"},
		{"command line differs", alert.Alert{Process: alert.Process{CommandLine: `scan.exe --quick`}}, ""},
		{"rule and name", alert.Alert{Rule: "10:1234", Process: alert.Process{Name: "tool.exe"}}, "rule and name"},
		{"rule without name", alert.Alert{Rule: "10:1234", Process: alert.Process{Name: "other.exe"}}, ""},
		{"nothing", alert.Alert{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, ok := p.Allowed(&tt.a)
			if reason != tt.reason || ok != (tt.reason != "") {
				t.Errorf("Allowed = %q, %v; want %q", reason, ok, tt.reason)
			}
		})
	}
	if _, ok := p.Allowed(nil); ok {
		t.Error("Allowed(nil) matched")
	}
}

func TestDemoRules(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path, tenant.WithRuleCheck(RuleCheck))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(tn)
	if err != nil {
		t.Fatal(err)
	}
	ransom := &alert.Alert{Techniques: []string{"T1059", "T1486.001"}}
	got, err := p.Rules(RuleInput{Alert: ransom, Time: time.Now()})
	want := []Effect{{Rule: "ransomware impact is an emergency", Severity: "emergency", Priority: alert.P0}}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("ransomware: %+v, %v; want %+v", got, err, want)
	}
	got, err = p.Rules(RuleInput{Alert: &alert.Alert{Techniques: []string{"T1059"}}})
	if err != nil || len(got) != 0 {
		t.Errorf("not ransomware: %+v, %v", got, err)
	}

	if r := p.Routes("emergency"); !cmp.Equal(r, []Recipient{
		{"it-ml", tenant.ViaEmail, "it-sec@hokuto.example", "ja"},
		{"cso", tenant.ViaPhone, "+81-3-5555-0100", "ja"},
	}) {
		t.Errorf("emergency routes: %+v", r)
	}
	if r := p.Routes("high"); len(r) != 1 || r[0].Address != "it-sec@hokuto.example" {
		t.Errorf("high routes: %+v", r)
	}
	if r := p.Routes("medium"); r != nil {
		t.Errorf("medium routes: %+v", r)
	}
	for sev, want := range map[string]bool{"emergency": true, "high": true, "medium": false, "low": false, "nope": true} {
		if got := p.NeedsHuman(sev); got != want {
			t.Errorf("NeedsHuman(%s) = %v", sev, got)
		}
	}
}

func TestRuleVariables(t *testing.T) {
	p := newPolicy(t, head+"rules:\n"+
		"  - {name: night, when: 'time.hour >= 22 && time.weekday == 5', set: {priority: P1}}\n"+
		"  - {name: fs01, when: 'alert.host.name == \"fs01\" && asset.critical && asset.role == \"server\"', set: {severity: critical}}\n"+
		"  - {name: spread, when: 'incident.hosts.size() > 1 && incident.alert_count >= 3 && incident.priority == \"P2\"', set: {priority: P1}}\n"+
		"  - {name: blocked, when: 'alert.vendor_action == \"blocked\" && alert.process.name.lowerAscii() == \"x.exe\"', set: {suppress: true, reason: mitigated}}\n"+
		"  - {name: stamp, when: 'time.timestamp.getFullYear(\"Asia/Tokyo\") == 2026 && alert.score > 50', set: {severity: high}}\n")
	// 13:30 UTC on Friday is 22:30 in Tokyo.
	at := time.Date(2026, 4, 10, 13, 30, 0, 0, time.UTC)
	in := RuleInput{
		Alert: &alert.Alert{Host: alert.Host{Name: "fs01"}, Score: 80, Action: alert.ActionBlocked,
			Process: alert.Process{Name: "X.exe"}},
		Incident: IncidentFacts{Priority: alert.P2, Hosts: []string{"fs01", "pc-1"}, AlertCount: 3},
		Asset:    AssetFacts{Critical: true, Role: "server"},
		Time:     at,
	}
	got, err := p.Rules(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Effect{
		{Rule: "night", Priority: alert.P1},
		{Rule: "fs01", Severity: "critical"},
		{Rule: "spread", Priority: alert.P1},
		{Rule: "blocked", Suppress: true, Reason: "mitigated"},
		{Rule: "stamp", Severity: "high"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("effects (-want +got):\n%s", d)
	}
	// A nil alert and zero input still evaluate: every key is present.
	if _, err := p.Rules(RuleInput{}); err != nil {
		t.Errorf("zero input: %v", err)
	}
}

func TestRuleRuntimeErrorNamesRule(t *testing.T) {
	p := newPolicy(t, head+"rules:\n"+
		"  - {name: broken, when: 'alert.no_such_field == \"x\"', set: {priority: P1}}\n"+
		"  - {name: fine, when: 'true', set: {priority: P2}}\n")
	got, err := p.Rules(RuleInput{Alert: &alert.Alert{}})
	if err == nil || !strings.Contains(err.Error(), `rule "broken"`) || !strings.Contains(err.Error(), "no_such_field") {
		t.Errorf("err = %v, want it to name the rule and the key", err)
	}
	if len(got) != 1 || got[0].Rule != "fine" {
		t.Errorf("effects = %+v, want the other rule still applied", got)
	}
}

func TestRuleCostLimit(t *testing.T) {
	p := newPolicy(t, head+"rules:\n"+
		"  - {name: quadratic, when: 'alert.techniques.all(a, alert.techniques.all(b, a == b || a != b))', set: {priority: P1}}\n")
	many := make([]string, 1000)
	for i := range many {
		many[i] = "T1000"
	}
	_, err := p.Rules(RuleInput{Alert: &alert.Alert{Techniques: many}})
	if err == nil || !strings.Contains(err.Error(), `rule "quadratic"`) || !strings.Contains(err.Error(), "cost limit") {
		t.Errorf("err = %v, want the cost limit to stop the rule", err)
	}
}

func TestRuleCompileErrorsAtLoad(t *testing.T) {
	tests := []struct {
		name, when, want string
	}{
		{"not bool", `alert.score`, `tenant.yaml:7: rule "r": when is of type dyn: want bool (a condition)`},
		{"string", `"yes"`, `tenant.yaml:7: rule "r": when is of type string: want bool`},
		{"syntax", `alert.score >`, `tenant.yaml:7: rule "r": ERROR: when:1:14: Syntax error`},
		{"unknown variable", `user == "x"`, `tenant.yaml:7: rule "r": ERROR: when:1:1: undeclared reference to 'user'`},
		{"too long", strings.Repeat("true && ", 600) + "true", `tenant.yaml:7: rule "r": when has 4804 characters: want at most 4096`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + "rules:\n  - name: r\n    when: '" + strings.ReplaceAll(tt.when, "'", "''") + "'\n    set: {priority: P1}\n"
			_, err := tenant.Parse([]byte(src), t.TempDir(), tenant.WithRuleCheck(RuleCheck))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
			// Without the check at parse time, New refuses the rule too.
			tn, err := tenant.Parse([]byte(src), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(tn); err == nil || !strings.Contains(err.Error(), `line 7: rule "r"`) {
				t.Errorf("New: err = %v, want the rule's line and name", err)
			}
		})
	}
}

func TestRoutesLanguageAndAsset(t *testing.T) {
	p := newPolicy(t, head+"contacts:\n  ciso: {phone: \"+81-3-0000-0000\", language: ja}\n  hook: {webhook: \"https://h.example/x\"}\n"+
		"notify:\n  - severities: [critical]\n    to: [{contact: ciso, via: phone}, {contact: hook, via: webhook}]\n"+
		"assets:\n  - {host: \"srv-*\", role: server}\n")
	want := []Recipient{{"ciso", tenant.ViaPhone, "+81-3-0000-0000", "ja"}, {"hook", tenant.ViaWebhook, "https://h.example/x", "en"}}
	if got := p.Routes("critical"); !cmp.Equal(got, want) {
		t.Errorf("routes = %+v", got)
	}
	if got := p.Asset(alert.Host{Name: "SRV-9", Role: "workstation"}); got != (AssetFacts{Role: "server"}) {
		t.Errorf("asset from file = %+v", got)
	}
	if got := p.Asset(alert.Host{Name: "pc-9", Role: "workstation"}); got != (AssetFacts{Role: "workstation"}) {
		t.Errorf("asset from vendor = %+v", got)
	}
	if p.Tenant().ID != "acme" {
		t.Error("Tenant() lost the tenant")
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestRulesConcurrent runs one Policy from many goroutines (go test -race).
func TestRulesConcurrent(t *testing.T) {
	p := newPolicy(t, head+"rules:\n  - {name: r, when: 'alert.techniques.exists(t, t.startsWith(\"T1486\"))', set: {priority: P0}}\n")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				got, err := p.Rules(RuleInput{Alert: &alert.Alert{Techniques: []string{"T1486"}}})
				if err != nil || len(got) != 1 {
					t.Errorf("Rules = %+v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestContainmentWithoutCriticalHosts(t *testing.T) {
	p := newPolicy(t, head)
	want := Decision{Isolate, "hybrid mode: severity critical ≥ min_severity critical → isolate at once"}
	if got := p.Containment("critical", ""); got != want {
		t.Errorf("unnamed host, no critical hosts: %+v", got)
	}
}
