package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/alert"
)

// writeFiles writes name → content into a fresh directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exampleFiles are the secret files demo/example.yaml names.
var exampleFiles = map[string]string{
	"falcon.hook":          "hook-secret\n",
	"falcon.client-id":     "client-id\n",
	"falcon.client-secret": "client-secret\n",
	"syslog.crt":           "certificate\n",
	"syslog.key":           "key\n",
}

// tenantOpts compares tenants parsed from different files: zones by name,
// rules without their line.
var tenantOpts = cmp.Options{
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
	cmpopts.IgnoreFields(Rule{}, "Line"),
	cmpopts.EquateEmpty(),
	cmpopts.EquateComparable(netip.Prefix{}),
}

func TestDemoParses(t *testing.T) {
	p, err := WriteDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Load(p, WithVendors(func(v string) bool { return v == "crowdstrike" }))
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID != "hokuto" || tn.Name != "北斗精機株式会社" || tn.Location.String() != "Asia/Tokyo" {
		t.Errorf("got id %q name %q zone %v", tn.ID, tn.Name, tn.Location)
	}
	src, ok := tn.Source("falcon")
	if !ok || src.Vendor != "crowdstrike" || len(src.WebhookSecret) != 64 {
		t.Errorf("falcon source: %v %v (secret %d bytes)", src, ok, len(src.WebhookSecret))
	}
	if !tn.IsCritical("FS01.hokuto.local") || tn.IsCritical("pc-0001") {
		t.Error("critical hosts not matched")
	}
	if got := tn.Notify[0].To; !cmp.Equal(got, []Recipient{{"it-ml", ViaEmail}, {"cso", ViaPhone}}) {
		t.Errorf("emergency route: %v", got)
	}
	if len(tn.Rules) != 1 || tn.Rules[0].Set.Priority != alert.P0 || tn.Rules[0].Line == 0 {
		t.Errorf("rules: %+v", tn.Rules)
	}
	// A second WriteDemo keeps the secret senders already use.
	before := src.WebhookSecret
	if _, err := WriteDemo(filepath.Dir(p)); err != nil {
		t.Fatal(err)
	}
	again, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := again.Source("falcon"); string(s.WebhookSecret) != string(before) {
		t.Error("WriteDemo replaced an existing webhook secret")
	}
}

func TestExampleRoundTrips(t *testing.T) {
	data, err := os.ReadFile("demo/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, exampleFiles)
	first, err := Parse(data, dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hook-secret") {
		t.Error("marshalled tenant contains a secret")
	}
	second, err := Parse(out, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if d := cmp.Diff(first, second, tenantOpts); d != "" {
		t.Errorf("round trip (-first +second):\n%s", d)
	}
	want := Source{Name: "falcon", Vendor: "crowdstrike", WebhookSecretFile: "falcon.hook",
		WebhookSecret: []byte("hook-secret"), URL: "https://api.us-2.crowdstrike.com",
		ClientIDFile: "falcon.client-id", ClientSecretFile: "falcon.client-secret",
		ClientID: "client-id", ClientSecret: "client-secret", Poll: 30 * time.Second}
	if d := cmp.Diff(want, first.Sources[0]); d != "" {
		t.Errorf("source (-want +got):\n%s", d)
	}
}

// TestExampleUsesEveryKey keeps demo/example.yaml complete as keys are added.
func TestExampleUsesEveryKey(t *testing.T) {
	data, err := os.ReadFile("demo/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lists := [][]string{topKeys, sourceKeys, allowKeys, contactKeys, sloKeys,
		{"mode", "min_severity", "severities", "to", "contact", "via", "when", "set",
			"severity", "priority", "suppress", "reason", "host", "role", "critical", "groups",
			"escalate", "repeat", "repeat_after", "after", "hours", "from"}}
	for _, keys := range lists {
		for _, k := range keys {
			if !strings.Contains(string(data), k+":") {
				t.Errorf("demo/example.yaml does not use key %q", k)
			}
		}
	}
}

const head = "id: acme\nname: Acme\nlanguage: en\ntimezone: UTC\n" // lines 1–4

func TestDefaults(t *testing.T) {
	tn, err := Parse([]byte(head), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := &Tenant{ID: "acme", Name: "Acme", Language: "en", Timezone: "UTC", Location: time.UTC,
		SeverityScale: alert.DefaultScale, ServiceHours: "24x7", Hours: Hours{Always: true},
		AttentionMinSeverity: "high", Containment: Containment{Hybrid, "critical"}, SLO: DefaultSLO()}
	if d := cmp.Diff(want, tn, tenantOpts); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}

	tn, err = Parse([]byte(head+"severity_scale: [深刻, 高, 中, 低]\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if tn.AttentionMinSeverity != "高" || tn.Containment.MinSeverity != "高" {
		t.Errorf("4-level defaults: attention %q, min_severity %q", tn.AttentionMinSeverity, tn.Containment.MinSeverity)
	}
	tn, err = Parse([]byte(head+"severity_scale: [a, b, c, d, e, f]\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if tn.AttentionMinSeverity != "c" || tn.Containment.MinSeverity != "b" {
		t.Errorf("6-level defaults: attention %q, min_severity %q", tn.AttentionMinSeverity, tn.Containment.MinSeverity)
	}
}

func TestServiceHours(t *testing.T) {
	tests := []struct {
		in      string
		want    Hours
		wantErr string
	}{
		{"24x7", Hours{Always: true}, ""},
		{"weekdays 09:00-18:00", Hours{Start: 9 * time.Hour, End: 18 * time.Hour}, ""},
		{"weekdays 09:00-17:30", Hours{Start: 9 * time.Hour, End: 17*time.Hour + 30*time.Minute}, ""},
		{"weekdays 18:00-09:00", Hours{}, "start 18:00 is not before end 09:00"},
		{"weekdays 9:00-18:00", Hours{}, "want 24x7"},
		{"weekdays 09:00-24:00", Hours{}, "want 24x7"},
		{"daily 09:00-18:00", Hours{}, "want 24x7"},
		{"24/7", Hours{}, "want 24x7"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseServiceHours(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		patterns []string
		host     string
		want     bool
	}{
		{[]string{"fs01"}, "FS01", true},
		{[]string{"fs01"}, "fs01.corp.example", true},
		{[]string{"fs01.corp.example"}, "FS01.corp.example", true},
		{[]string{"srv-*"}, "SRV-01.corp.example", true},
		{[]string{"srv-*"}, "pc-srv-01", false},
		{[]string{"db-?"}, "db-1", true},
		{[]string{"fs01"}, "", false},
		{nil, "fs01", false},
	}
	for _, tt := range tests {
		if got := MatchHost(tt.patterns, tt.host); got != tt.want {
			t.Errorf("MatchHost(%q, %q) = %v, want %v", tt.patterns, tt.host, got, tt.want)
		}
	}
}

func TestAssetsAndCritical(t *testing.T) {
	src := head + "critical_hosts: [fs01]\nassets:\n  - {host: \"erp-*\", role: business, critical: true}\n  - {host: \"*\", role: pc}\n"
	tn, err := Parse([]byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"fs01": true, "ERP-DB01": true, "pc-1": false} {
		if got := tn.IsCritical(host); got != want {
			t.Errorf("IsCritical(%q) = %v, want %v", host, got, want)
		}
	}
	if a, ok := tn.Asset("pc-1"); !ok || a.Role != RolePC {
		t.Errorf("Asset(pc-1) = %+v, %v", a, ok)
	}
	if _, ok := tn.Source("nope"); ok {
		t.Error("Source(nope) found")
	}
}

func TestSourceStringHidesSecrets(t *testing.T) {
	s := Source{Name: "x", WebhookSecret: []byte("s3cret"), ClientSecret: "s3cret", ClientID: "s3cret"}
	js, err := json.Marshal(Tenant{Sources: []Source{s}})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", Tenant{Sources: []Source{s}}), string(js)} {
		if strings.Contains(out, "s3cret") {
			t.Errorf("formatted source shows a secret: %s", out)
		}
	}
}

func TestRuleCheckLine(t *testing.T) {
	src := head + "rules:\n  - name: bad\n    when: 'nope('\n    set: {priority: P1}\n"
	check := func(r Rule) error {
		if r.Line != 7 {
			t.Errorf("rule line %d, want 7", r.Line)
		}
		return errors.New("does not compile")
	}
	_, err := Parse([]byte(src), t.TempDir(), WithRuleCheck(check))
	want := `tenant.yaml:7: rule "bad": does not compile`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
