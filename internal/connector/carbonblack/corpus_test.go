package carbonblack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// corpusDir holds Elastic's Carbon Black Cloud test inputs, saved outside
// the repository (see /work/shared/VENDORS.md §2); resolved from the
// package directory.
var corpusDir = conntest.CorpusDir("carbon_black_cloud", "alert_v7")

// TestCorpusDecodes decodes every line of every corpus input.
func TestCorpusDecodes(t *testing.T) {
	for _, path := range conntest.CorpusFiles(t, "Carbon Black", corpusDir) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			payloads, err := connector.Split(body)
			if err != nil {
				t.Fatalf("split: %v", err)
			}
			n := 0
			for i, p := range payloads {
				got, err := Decoder{}.Decode(p)
				if err != nil {
					t.Errorf("line %d: %v", i+1, err)
				}
				for _, a := range got {
					if a.Host.ID == "" || a.EventTime.IsZero() || a.Score == 0 {
						t.Errorf("line %d (%s): missing device id, event time or score", i+1, a.VendorID)
					}
				}
				n += len(got)
			}
			if n != len(payloads) || n == 0 {
				t.Errorf("%d lines gave %d alerts, want one each", len(payloads), n)
			}
			t.Logf("%s: %d lines, %d alerts", path, len(payloads), n)
		})
	}
}

// check is one field compared with Elastic's output.
type check struct {
	field, elastic, ours string
	why                  string // set where we differ on purpose
}

// elasticChecks lists the fields of one alert compared with Elastic's
// document for it.
func elasticChecks(a alert.Alert, exp conntest.Expected) []check {
	cb := "carbon_black_cloud.alert."
	ip := func(i int) string {
		if i < len(a.Host.IPs) {
			return a.Host.IPs[i]
		}
		return ""
	}
	return []check{
		{"event.id", exp.Str("event.id"), a.VendorID, ""},
		{"event.reason", exp.Str("event.reason"), a.Title, ""},
		{"event.severity", exp.Str("event.severity"), a.VendorSeverity, ""},
		{cb + "reason_code", exp.Str(cb + "reason_code"), a.Rule, ""},
		{cb + "type", exp.Str(cb + "type"), a.Product, ""},
		{"host.id", exp.Str("host.id"), a.Host.ID, ""},
		{"host.name", exp.Str("host.name"), a.Host.Name, ""},
		{"host.os.version", exp.Str("host.os.version"), a.Host.OS, ""},
		{cb + "device.internal_ip", exp.Str(cb + "device.internal_ip"), ip(0), ""},
		{cb + "device.external_ip", exp.Str(cb + "device.external_ip"), ip(1), ""},
		{cb + "device.policy", exp.Str(cb + "device.policy"), strings.Join(a.Host.Groups, ","), ""},
		{"user.name", exp.Str("user.name"), a.User,
			"Elastic takes device_username (the device's last logged-in user); we take process_username, the account that ran the process"},
		{cb + "process.username", exp.Str(cb + "process.username"), a.User, ""},
		{"process.name (path)", exp.Str("process.name"), a.Process.Path, ""},
		{"process.name", exp.Str("process.name"), a.Process.Name,
			"Carbon Black's process_name is the full path; we keep it as Path and its last element as Name"},
		{"process.pid", exp.Str("process.pid"), a.Process.PID, ""},
		{"process.command_line", exp.Str("process.command_line"), a.Process.CommandLine, ""},
		{cb + "process.hash.sha256", exp.Str(cb + "process.hash.sha256"), a.Process.SHA256, ""},
		{cb + "process.hash.md5", exp.Str(cb + "process.hash.md5"), a.Process.MD5, ""},
		{cb + "parent.name", exp.Str(cb + "parent.name"), a.Parent.Path, ""},
		{cb + "parent.pid", exp.Str(cb + "parent.pid"), a.Parent.PID, ""},
		{cb + "parent.hash.sha256", exp.Str(cb + "parent.hash.sha256"), a.Parent.SHA256, ""},
		{cb + "attack_tactic", exp.Str(cb + "attack_tactic"), strings.Join(a.Tactics, ","), ""},
		{"threat.technique.id", exp.Str("threat.technique.id"), conntest.JSONList(a.Techniques),
			"Elastic maps no technique; we read ATT&CK ids from the MITRE_ tags of ttps (MITRE_T1059_001_POWERSHELL is T1059.001)"},
		{"@timestamp", exp.Time("@timestamp"), conntest.Stamp(a.EventTime), ""},
		{cb + "backend_timestamp", exp.Time(cb + "backend_timestamp"), conntest.Stamp(a.VendorCreated), ""},
		{cb + "url", exp.Str(cb + "url"), a.Link, linkWhy(exp.Str(cb + "url"))},
	}
}

func linkWhy(u string) string {
	if strings.Contains(u, "://") {
		return ""
	}
	return "the older alert's alert_url has no scheme; we add https:// so that the link opens"
}

// TestCorpusMatchesElastic compares our alerts with the output of Elastic's
// ingest pipeline for them, field by field, and logs agreement per field
// over all documents.
func TestCorpusMatchesElastic(t *testing.T) {
	conntest.CorpusFiles(t, "Carbon Black", corpusDir) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "test-alert-cb-analytics.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	exps := conntest.ElasticExpected(t, filepath.Join(corpusDir, "test-alert-cb-analytics.log-expected.json"))
	if len(exps) != len(payloads) {
		t.Fatalf("%d input lines, %d expected documents", len(payloads), len(exps))
	}
	var tally conntest.Tally
	for i, p := range payloads {
		got, err := Decoder{}.Decode(p)
		if err != nil || len(got) != 1 {
			t.Fatalf("line %d: Decode = %d alerts, %v; want 1", i+1, len(got), err)
		}
		for _, c := range elasticChecks(got[0], exps[i]) {
			tally.Check(t, fmt.Sprintf("line %d", i+1), 36, c.field, c.elastic, c.ours, c.why)
		}
	}
	tally.Log(t, 40, len(payloads))
}

func TestRegistered(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	if v.NewSource == nil || v.NewResponder == nil || v.NewSimulator == nil || v.SeverityScale == "" {
		t.Errorf("vendor %q registered incompletely: %+v", VendorName, v)
	}
	if _, ok := v.NewSimulator().(*Sim); !ok {
		t.Error("NewSimulator does not return a *Sim")
	}
}
