package sentinelone

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/google/go-cmp/cmp"
)

// corpusDir holds Elastic's SentinelOne test inputs, saved outside the
// repository (see /work/shared/VENDORS.md §2); resolved from the package
// directory.
var corpusDir = conntest.CorpusDir("sentinel_one")

// TestCorpusDecodes decodes every line of every corpus input (threats and
// STAR alerts, NDJSON).
func TestCorpusDecodes(t *testing.T) {
	for _, path := range conntest.CorpusFiles(t, "SentinelOne", corpusDir) {
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
					// The first alert line is an API-schema example without
					// agentRealtimeInfo: it names its endpoint only by
					// agentDetectionInfo.name, so an id is not required.
					if (a.Host.ID == "" && a.Host.Name == "") || a.EventTime.IsZero() || a.Score == 0 {
						t.Errorf("line %d (%s): missing endpoint, event time or score", i+1, a.VendorID)
					}
				}
				n += len(got)
			}
			if n != len(payloads) {
				t.Errorf("%d lines gave %d alerts, want one each", len(payloads), n)
			}
			t.Logf("%s: %d lines, %d alerts", path, len(payloads), n)
		})
	}
}

// TestCorpusMatchesElastic compares the STAR alerts with the output of
// Elastic's ingest pipeline for them, field by field, and logs agreement
// per field over all documents.
func TestCorpusMatchesElastic(t *testing.T) {
	conntest.CorpusFiles(t, "SentinelOne", corpusDir) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "alert", "test-pipeline-alert.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	exps := conntest.ElasticExpected(t, filepath.Join(corpusDir, "alert", "test-pipeline-alert.log-expected.json"))
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
		var net0 struct {
			ip, port string
		}
		if len(a.Network) > 0 {
			net0.ip = a.Network[0].IP
			if a.Network[0].Port != 0 {
				net0.port = fmt.Sprint(a.Network[0].Port)
			}
		}
		checks := []struct {
			field, elastic, ours string
			why                  string // set where we differ on purpose
		}{
			{"event.id", exp.Str("event.id"), a.VendorID, ""},
			{"host.name", exp.Str("host.name"), a.Host.Name, ""},
			{"host.id", exp.Str("host.id"), a.Host.ID, ""},
			{"host.ip", exp.Str("host.ip"), conntest.JSONList(a.Host.IPs), ""},
			{"host.os.name", exp.Str("host.os.name"), a.Host.OS, ""},
			{"rule.id", exp.Str("rule.id"), a.Rule, ""},
			{"rule.name", exp.Str("rule.name"), a.Title, ""},
			{"sentinel_one.alert.rule.severity", exp.Str("sentinel_one.alert.rule.severity"), a.VendorSeverity, ""},
			{"process.hash.sha256", exp.Str("process.hash.sha256"), a.Process.SHA256, ""},
			{"process.hash.sha1", exp.Str("process.hash.sha1"), a.Process.SHA1, ""},
			{"process.hash.md5", exp.Str("process.hash.md5"), a.Process.MD5, ""},
			{"process.name", exp.Str("process.name"), a.Process.Name, ""},
			{"process.pid", exp.Str("process.pid"), a.Process.PID, ""},
			{"process.command_line", exp.Str("process.command_line"), a.Process.CommandLine, ""},
			{"process.user.name", exp.Str("process.user.name"), a.User, ""},
			{"process.parent.command_line", exp.Str("process.parent.command_line"), a.Parent.CommandLine, ""},
			{"process.parent.pid", exp.Str("process.parent.pid"), a.Parent.PID, ""},
			{"process.parent.hash.sha256", exp.Str("process.parent.hash.sha256"), a.Parent.SHA256, ""},
			{"destination.ip", exp.Str("destination.ip"), net0.ip, ""},
			{"destination.port", exp.Str("destination.port"), net0.port, ""},
			// Elastic's date processor keeps milliseconds; SentinelOne sends
			// microseconds, which we keep. Compared at milliseconds.
			{"@timestamp", exp.Time("@timestamp"), conntest.Millis(a.EventTime), ""},
			{"@timestamp (full precision)", exp.Time("@timestamp"), conntest.Stamp(a.EventTime),
				"Elastic truncates alertInfo.createdAt to milliseconds; we keep SentinelOne's microseconds"},
		}
		for _, c := range checks {
			tally.Check(t, fmt.Sprintf("line %d", i+1), 32, c.field, c.elastic, c.ours, c.why)
		}
	}
	tally.Log(t, 34, len(payloads))
}

// TestCorpusThreats checks what the threat lines say beyond "decodes"
// (Elastic's expected output for them was not saved): mitigation,
// ATT&CK mapping, hashes and the agent id kept as a string.
func TestCorpusThreats(t *testing.T) {
	conntest.CorpusFiles(t, "SentinelOne", corpusDir) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "threat", "test-pipeline-threat.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil || len(payloads) != 6 {
		t.Fatalf("split: %d payloads, %v; want 6", len(payloads), err)
	}
	type summary struct {
		ID, Host, Agent, Severity, Action, SHA1 string
		Score                                   int
		Tactics, Techniques                     []string
	}
	var got []summary
	for _, p := range payloads {
		as, err := Decoder{}.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		a := as[0]
		got = append(got, summary{a.VendorID, a.Host.Name, a.Host.ID, a.VendorSeverity, string(a.Action), a.Process.SHA1, a.Score, a.Tactics, a.Techniques})
	}
	attack := []string{"TA0002", "TA0001", "TA0005"}
	sha := "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
	want := []summary{
		// kill succeeded; the file was unquarantined afterwards.
		{"1234567890123456789", "test-LINUX", "1234567890123456789", "malicious", "killed", sha, 80, nil, nil},
		{"1234567890123456789", "test-LINUX", "1234567890123456789", "malicious", "none", sha, 80, attack, []string{"T1234"}},
		{"1234567890123456789", "test-LINUX", "1234567890123456789", "malicious", "none", sha, 80, attack, []string{"T1234"}},
		{"1234567890123456789", "test-LINUX", "1234567890123456789", "malicious", "none", sha, 80, attack, []string{"T1234"}},
		{"1234567890123456789", "test-LINUX", "1234567890123456789", "malicious", "none", sha, 80, attack, []string{"T1234"}},
		{"2120407777501474123", "arvchristos MacBook Pro", "REDACTED", "malicious", "quarantined", "fb212d2614de0275fc350b6c8d057525190ea8d8", 80, nil, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("threat lines (-want +got):\n%s", diff)
	}
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
