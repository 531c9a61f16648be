package carbonblack

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// corpusDir holds Elastic's Carbon Black Cloud test inputs, saved outside
// the repository (see /work/shared/VENDORS.md §2); resolved from the
// package directory.
var corpusDir = filepath.Join("..", "..", "..", "..", "shared", "corpus", "elastic-integrations", "carbon_black_cloud", "alert_v7")

func corpusFiles(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("Carbon Black corpus not found at %s (%v): conformance not checked", corpusDir, err)
	}
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, "-expected.json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("Carbon Black corpus at %s holds no input files", corpusDir)
	}
	return files
}

// TestCorpusDecodes decodes every line of every corpus input.
func TestCorpusDecodes(t *testing.T) {
	for _, path := range corpusFiles(t) {
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
func elasticChecks(a alert.Alert, exp expected) []check {
	cb := "carbon_black_cloud.alert."
	ip := func(i int) string {
		if i < len(a.Host.IPs) {
			return a.Host.IPs[i]
		}
		return ""
	}
	return []check{
		{"event.id", exp.str("event.id"), a.VendorID, ""},
		{"event.reason", exp.str("event.reason"), a.Title, ""},
		{"event.severity", exp.str("event.severity"), a.VendorSeverity, ""},
		{cb + "reason_code", exp.str(cb + "reason_code"), a.Rule, ""},
		{cb + "type", exp.str(cb + "type"), a.Product, ""},
		{"host.id", exp.str("host.id"), a.Host.ID, ""},
		{"host.name", exp.str("host.name"), a.Host.Name, ""},
		{"host.os.version", exp.str("host.os.version"), a.Host.OS, ""},
		{cb + "device.internal_ip", exp.str(cb + "device.internal_ip"), ip(0), ""},
		{cb + "device.external_ip", exp.str(cb + "device.external_ip"), ip(1), ""},
		{cb + "device.policy", exp.str(cb + "device.policy"), strings.Join(a.Host.Groups, ","), ""},
		{"user.name", exp.str("user.name"), a.User,
			"Elastic takes device_username (the device's last logged-in user); we take process_username, the account that ran the process"},
		{cb + "process.username", exp.str(cb + "process.username"), a.User, ""},
		{"process.name (path)", exp.str("process.name"), a.Process.Path, ""},
		{"process.name", exp.str("process.name"), a.Process.Name,
			"Carbon Black's process_name is the full path; we keep it as Path and its last element as Name"},
		{"process.pid", exp.str("process.pid"), a.Process.PID, ""},
		{"process.command_line", exp.str("process.command_line"), a.Process.CommandLine, ""},
		{cb + "process.hash.sha256", exp.str(cb + "process.hash.sha256"), a.Process.SHA256, ""},
		{cb + "process.hash.md5", exp.str(cb + "process.hash.md5"), a.Process.MD5, ""},
		{cb + "parent.name", exp.str(cb + "parent.name"), a.Parent.Path, ""},
		{cb + "parent.pid", exp.str(cb + "parent.pid"), a.Parent.PID, ""},
		{cb + "parent.hash.sha256", exp.str(cb + "parent.hash.sha256"), a.Parent.SHA256, ""},
		{cb + "attack_tactic", exp.str(cb + "attack_tactic"), strings.Join(a.Tactics, ","), ""},
		{"threat.technique.id", exp.str("threat.technique.id"), jsonList(a.Techniques),
			"Elastic maps no technique; we read ATT&CK ids from the MITRE_ tags of ttps (MITRE_T1059_001_POWERSHELL is T1059.001)"},
		{"@timestamp", exp.time("@timestamp"), stamp(a.EventTime), ""},
		{cb + "backend_timestamp", exp.time(cb + "backend_timestamp"), stamp(a.VendorCreated), ""},
		{cb + "url", exp.str(cb + "url"), a.Link, linkWhy(exp.str(cb + "url"))},
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
	corpusFiles(t) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "test-alert-cb-analytics.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	exps := elasticExpected(t, filepath.Join(corpusDir, "test-alert-cb-analytics.log-expected.json"))
	if len(exps) != len(payloads) {
		t.Fatalf("%d input lines, %d expected documents", len(payloads), len(exps))
	}
	type tally struct{ agree, differ, why int }
	var order []string
	per := map[string]*tally{}
	for i, p := range payloads {
		got, err := Decoder{}.Decode(p)
		if err != nil || len(got) != 1 {
			t.Fatalf("line %d: Decode = %d alerts, %v; want 1", i+1, len(got), err)
		}
		for _, c := range elasticChecks(got[0], exps[i]) {
			tl := per[c.field]
			if tl == nil {
				tl = &tally{}
				per[c.field] = tl
				order = append(order, c.field)
			}
			switch {
			case c.elastic == c.ours:
				tl.agree++
			case c.why != "":
				tl.why++
				t.Logf("line %d: differ %-36s Elastic %q, ours %q: on purpose, %s", i+1, c.field, c.elastic, c.ours, c.why)
			default:
				tl.differ++
				t.Errorf("line %d: differ %-36s Elastic %q, ours %q", i+1, c.field, c.elastic, c.ours)
			}
		}
	}
	agree, total := 0, 0
	for _, f := range order {
		tl := per[f]
		t.Logf("%-40s agree %d/%d (differ on purpose %d)", f, tl.agree, len(payloads), tl.why)
		agree += tl.agree
		total += tl.agree + tl.differ + tl.why
	}
	t.Logf("agree %d of %d field comparisons with Elastic", agree, total)
}

// expected is one document of an Elastic -expected.json file.
type expected map[string]any

func elasticExpected(t *testing.T, path string) []expected {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Expected []expected `json:"expected"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("expected file: %v", err)
	}
	return doc.Expected
}

// str returns a dotted field (ECS nests every level) as text; a list comes
// back as JSON.
func (e expected) str(path string) string {
	var v any = map[string]any(e)
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// time returns a dotted time field normalised like stamp.
func (e expected) time(path string) string {
	return stamp(jsonfield.ParseTime(e.str(path)))
}

func jsonList(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
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
