package sophos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// corpusDir holds Elastic's Sophos Central test inputs, saved outside the
// repository (see /work/shared/VENDORS.md §2); resolved from the package
// directory.
var corpusDir = filepath.Join("..", "..", "..", "..", "shared", "corpus", "elastic-integrations", "sophos_central")

func corpusFiles(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("Sophos Central corpus not found at %s (%v): conformance not checked", corpusDir, err)
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
		t.Skipf("Sophos Central corpus at %s holds no input files", corpusDir)
	}
	return files
}

// TestCorpusDecodes decodes every line of every corpus input (SIEM alerts,
// NDJSON).
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
					if a.Host.ID == "" || a.Host.Name == "" || a.EventTime.IsZero() || a.Score == 0 {
						t.Errorf("line %d (%s): missing endpoint id or name, event time or score", i+1, a.VendorID)
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

// TestCorpusMatchesElastic compares the SIEM alerts with the output of
// Elastic's ingest pipeline for them, field by field, and logs agreement
// per field over all documents.
func TestCorpusMatchesElastic(t *testing.T) {
	corpusFiles(t) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "alert", "test-pipeline-activity.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	exps := elasticExpected(t, filepath.Join(corpusDir, "alert", "test-pipeline-activity.log-expected.json"))
	if len(exps) != len(payloads) {
		t.Fatalf("%d input lines, %d expected documents", len(payloads), len(exps))
	}
	type tally struct{ agree, differ, why int }
	var fieldsSeen []string
	per := map[string]*tally{}
	for i, p := range payloads {
		got, err := Decoder{}.Decode(p)
		if err != nil || len(got) != 1 {
			t.Fatalf("line %d: Decode = %d alerts, %v; want 1", i+1, len(got), err)
		}
		a, exp := got[0], exps[i]
		var dst struct{ ip, port string }
		if len(a.Network) > 0 {
			dst.ip = a.Network[0].IP
			if a.Network[0].Port != 0 {
				dst.port = fmt.Sprint(a.Network[0].Port)
			}
		}
		elasticUser := exp.str("user.name")
		if d := exp.str("user.domain"); d != "" {
			elasticUser = d + `\` + elasticUser
		}
		firstIP := ""
		if len(a.Host.IPs) > 0 {
			firstIP = a.Host.IPs[0]
		}
		const alertPath = "sophos_central.alert."
		checks := []struct {
			field, elastic, ours string
			why                  string // set where we differ on purpose
		}{
			{"event.id", exp.str("event.id"), a.VendorID, ""},
			{"event.code (rule)", exp.str("event.code"), a.Rule, ""},
			{"message", exp.str("message"), a.Description, ""},
			{alertPath + "location (host name)", exp.str(alertPath + "location"), a.Host.Name, ""},
			{alertPath + "data.endpoint.id (host id)", exp.str(alertPath + "data.endpoint.id"), a.Host.ID, ""},
			{alertPath + "data.endpoint.platform (os)", exp.str(alertPath + "data.endpoint.platform"), a.Host.OS, ""},
			{"source.ip (host ip)", exp.str("source.ip"), firstIP, ""},
			{alertPath + "severity", exp.str(alertPath + "severity"), a.VendorSeverity, ""},
			{"user.domain\\user.name", elasticUser, a.User, ""},
			{"process.name", exp.str("process.name"), a.Process.Name, ""},
			{"process.pid", exp.str("process.pid"), a.Process.PID, ""},
			{"process.executable", exp.str("process.executable"), a.Process.Path,
				"Elastic fills process.executable from ips_threat.executable_name, another program than process.name " +
					"(hmpa_exploit); we keep the exploit's process and its own path"},
			{"related.hash (process sha256)", strings.ToLower(exp.first("related.hash")), a.Process.SHA256,
				"the hash is the IPS executable's (ips_threat.raw_data), not the exploit process's we report"},
			{"destination.ip", exp.str("destination.ip"), dst.ip, ""},
			{"destination.port", exp.str("destination.port"), dst.port, ""},
			{"threat.technique.id", exp.str("threat.technique.id"), strings.Join(a.Techniques, ","), ""},
			{"threat.tactic.id", exp.str("threat.tactic.id"), strings.Join(a.Tactics, ","), ""},
			{"@timestamp (when)", exp.time("@timestamp"), stamp(a.EventTime), ""},
			{"event.created (created_at)", exp.time("event.created"), stamp(a.VendorCreated), ""},
		}
		for _, c := range checks {
			tl := per[c.field]
			if tl == nil {
				tl = &tally{}
				per[c.field] = tl
				fieldsSeen = append(fieldsSeen, c.field)
			}
			switch {
			case c.elastic == c.ours:
				tl.agree++
			case c.why != "":
				tl.why++
				t.Logf("line %d: differ %-32s Elastic %q, ours %q: on purpose, %s", i+1, c.field, c.elastic, c.ours, c.why)
			default:
				tl.differ++
				t.Errorf("line %d: differ %-32s Elastic %q, ours %q", i+1, c.field, c.elastic, c.ours)
			}
		}
	}
	agreeAll, total := 0, 0
	for _, f := range fieldsSeen {
		tl := per[f]
		t.Logf("%-44s agree %d/%d (differ on purpose %d)", f, tl.agree, len(payloads), tl.why)
		agreeAll += tl.agree
		total += tl.agree + tl.differ + tl.why
	}
	t.Logf("agree %d of %d field comparisons with Elastic", agreeAll, total)
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

func (e expected) value(path string) any {
	var v any = map[string]any(e)
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str returns a dotted field (ECS nests every level) as text; a list comes
// back as JSON.
func (e expected) str(path string) string {
	switch v := e.value(path).(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// first returns the first element of a list field as text.
func (e expected) first(path string) string {
	if l, ok := e.value(path).([]any); ok && len(l) > 0 {
		if s, ok := l[0].(string); ok {
			return s
		}
	}
	return ""
}

func (e expected) time(path string) string { return stamp(jsonfield.ParseTime(e.str(path))) }

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
