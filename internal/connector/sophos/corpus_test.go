package sophos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// corpusDir holds Elastic's Sophos Central test inputs, saved outside the
// repository (see /work/shared/VENDORS.md §2); resolved from the package
// directory.
var corpusDir = conntest.CorpusDir("sophos_central")

// TestCorpusDecodes decodes every line of every corpus input (SIEM alerts,
// NDJSON).
func TestCorpusDecodes(t *testing.T) {
	for _, path := range conntest.CorpusFiles(t, "Sophos Central", corpusDir) {
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
	conntest.CorpusFiles(t, "Sophos Central", corpusDir) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "alert", "test-pipeline-activity.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	exps := conntest.ElasticExpected(t, filepath.Join(corpusDir, "alert", "test-pipeline-activity.log-expected.json"))
	if len(exps) != len(payloads) {
		t.Fatalf("%d input lines, %d expected documents", len(payloads), len(exps))
	}
	var tally conntest.Tally
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
		elasticUser := exp.Str("user.name")
		if d := exp.Str("user.domain"); d != "" {
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
			{"event.id", exp.Str("event.id"), a.VendorID, ""},
			{"event.code (rule)", exp.Str("event.code"), a.Rule, ""},
			{"message", exp.Str("message"), a.Description, ""},
			{alertPath + "location (host name)", exp.Str(alertPath + "location"), a.Host.Name, ""},
			{alertPath + "data.endpoint.id (host id)", exp.Str(alertPath + "data.endpoint.id"), a.Host.ID, ""},
			{alertPath + "data.endpoint.platform (os)", exp.Str(alertPath + "data.endpoint.platform"), a.Host.OS, ""},
			{"source.ip (host ip)", exp.Str("source.ip"), firstIP, ""},
			{alertPath + "severity", exp.Str(alertPath + "severity"), a.VendorSeverity, ""},
			{"user.domain\\user.name", elasticUser, a.User, ""},
			{"process.name", exp.Str("process.name"), a.Process.Name, ""},
			{"process.pid", exp.Str("process.pid"), a.Process.PID, ""},
			{"process.executable", exp.Str("process.executable"), a.Process.Path,
				"Elastic fills process.executable from ips_threat.executable_name, another program than process.name " +
					"(hmpa_exploit); we keep the exploit's process and its own path"},
			{"related.hash (process sha256)", strings.ToLower(expFirst(exp, "related.hash")), a.Process.SHA256,
				"the hash is the IPS executable's (ips_threat.raw_data), not the exploit process's we report"},
			{"destination.ip", exp.Str("destination.ip"), dst.ip, ""},
			{"destination.port", exp.Str("destination.port"), dst.port, ""},
			{"threat.technique.id", exp.Str("threat.technique.id"), strings.Join(a.Techniques, ","), ""},
			{"threat.tactic.id", exp.Str("threat.tactic.id"), strings.Join(a.Tactics, ","), ""},
			{"@timestamp (when)", exp.Time("@timestamp"), conntest.Stamp(a.EventTime), ""},
			{"event.created (created_at)", exp.Time("event.created"), conntest.Stamp(a.VendorCreated), ""},
		}
		for _, c := range checks {
			tally.Check(t, fmt.Sprintf("line %d", i+1), 32, c.field, c.elastic, c.ours, c.why)
		}
	}
	tally.Log(t, 44, len(payloads))
}

// first returns the first element of a list field as text.
func expFirst(e conntest.Expected, path string) string {
	if l, ok := e.Value(path).([]any); ok && len(l) > 0 {
		if s, ok := l[0].(string); ok {
			return s
		}
	}
	return ""
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
