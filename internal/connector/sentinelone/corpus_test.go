package sentinelone

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
	"github.com/google/go-cmp/cmp"
)

// corpusDir holds Elastic's SentinelOne test inputs, saved outside the
// repository (see /work/shared/VENDORS.md §2); resolved from the package
// directory.
var corpusDir = filepath.Join("..", "..", "..", "..", "shared", "corpus", "elastic-integrations", "sentinel_one")

func corpusFiles(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("SentinelOne corpus not found at %s (%v): conformance not checked", corpusDir, err)
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
		t.Skipf("SentinelOne corpus at %s holds no input files", corpusDir)
	}
	return files
}

// TestCorpusDecodes decodes every line of every corpus input (threats and
// STAR alerts, NDJSON).
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
	corpusFiles(t) // skips without the corpus
	in, err := os.ReadFile(filepath.Join(corpusDir, "alert", "test-pipeline-alert.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	exps := elasticExpected(t, filepath.Join(corpusDir, "alert", "test-pipeline-alert.log-expected.json"))
	if len(exps) != len(payloads) {
		t.Fatalf("%d input lines, %d expected documents", len(payloads), len(exps))
	}
	type tally struct{ agree, differ, why int }
	fieldsSeen := []string{}
	per := map[string]*tally{}
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
			{"event.id", exp.str("event.id"), a.VendorID, ""},
			{"host.name", exp.str("host.name"), a.Host.Name, ""},
			{"host.id", exp.str("host.id"), a.Host.ID, ""},
			{"host.ip", exp.str("host.ip"), jsonList(a.Host.IPs), ""},
			{"host.os.name", exp.str("host.os.name"), a.Host.OS, ""},
			{"rule.id", exp.str("rule.id"), a.Rule, ""},
			{"rule.name", exp.str("rule.name"), a.Title, ""},
			{"sentinel_one.alert.rule.severity", exp.str("sentinel_one.alert.rule.severity"), a.VendorSeverity, ""},
			{"process.hash.sha256", exp.str("process.hash.sha256"), a.Process.SHA256, ""},
			{"process.hash.sha1", exp.str("process.hash.sha1"), a.Process.SHA1, ""},
			{"process.hash.md5", exp.str("process.hash.md5"), a.Process.MD5, ""},
			{"process.name", exp.str("process.name"), a.Process.Name, ""},
			{"process.pid", exp.str("process.pid"), a.Process.PID, ""},
			{"process.command_line", exp.str("process.command_line"), a.Process.CommandLine, ""},
			{"process.user.name", exp.str("process.user.name"), a.User, ""},
			{"process.parent.command_line", exp.str("process.parent.command_line"), a.Parent.CommandLine, ""},
			{"process.parent.pid", exp.str("process.parent.pid"), a.Parent.PID, ""},
			{"process.parent.hash.sha256", exp.str("process.parent.hash.sha256"), a.Parent.SHA256, ""},
			{"destination.ip", exp.str("destination.ip"), net0.ip, ""},
			{"destination.port", exp.str("destination.port"), net0.port, ""},
			// Elastic's date processor keeps milliseconds; SentinelOne sends
			// microseconds, which we keep. Compared at milliseconds.
			{"@timestamp", exp.time("@timestamp"), millis(a.EventTime), ""},
			{"@timestamp (full precision)", exp.time("@timestamp"), stamp(a.EventTime),
				"Elastic truncates alertInfo.createdAt to milliseconds; we keep SentinelOne's microseconds"},
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
		t.Logf("%-34s agree %d/%d (differ on purpose %d)", f, tl.agree, len(payloads), tl.why)
		agreeAll += tl.agree
		total += tl.agree + tl.differ + tl.why
	}
	t.Logf("%d of %d field comparisons agree with Elastic", agreeAll, total)
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
	dec.UseNumber() // keep 19-digit ids exact
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

func millis(t time.Time) string { return stamp(t.Truncate(time.Millisecond)) }

// TestCorpusThreats checks what the threat lines say beyond "decodes"
// (Elastic's expected output for them was not saved): mitigation,
// ATT&CK mapping, hashes and the agent id kept as a string.
func TestCorpusThreats(t *testing.T) {
	corpusFiles(t) // skips without the corpus
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
