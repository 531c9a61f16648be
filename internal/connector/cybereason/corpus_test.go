package cybereason

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// corpusDir holds Elastic's Cybereason test inputs, saved outside the
// repository (see /work/shared/VENDORS.md §2); resolved from the package
// directory.
var corpusDir = filepath.Join("..", "..", "..", "..", "shared", "corpus", "elastic-integrations", "cybereason", "poll_malop")

// corpusInputs returns the input files, skipping the test without them.
func corpusInputs(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range all {
		if !strings.HasSuffix(p, "-expected.json") {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Skipf("Cybereason corpus not found at %s: conformance not checked", corpusDir)
	}
	return files
}

func readPayloads(t *testing.T, path string) [][]byte {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := connector.Split(body)
	if err != nil {
		t.Fatalf("split %s: %v", path, err)
	}
	return payloads
}

// TestCorpusDecodes decodes every line of every corpus input.
func TestCorpusDecodes(t *testing.T) {
	for _, path := range corpusInputs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			payloads := readPayloads(t, path)
			n := 0
			for i, p := range payloads {
				got, err := Decoder{}.Decode(p)
				if err != nil || len(got) == 0 {
					t.Fatalf("line %d: %d alerts, %v", i+1, len(got), err)
				}
				for _, a := range got {
					if a.Host.ID == "" || a.Host.Name == "" || a.EventTime.IsZero() || a.Score == 0 {
						t.Errorf("line %d (%s): missing machine, event time or score", i+1, a.VendorID)
					}
				}
				n += len(got)
			}
			t.Logf("%s: %d lines, %d alerts (one per machine)", path, len(payloads), n)
		})
	}
}

// TestCorpusMatchesElastic compares our alerts with the output of
// Elastic's ingest pipeline for the same MalOps, field by field, and logs
// agreement per field. Elastic makes one document per MalOp with lists of
// hosts; we make one alert per machine, so each of our alerts is compared
// with its machine's entry of Elastic's lists.
func TestCorpusMatchesElastic(t *testing.T) {
	type tally struct{ agree, differ, why int }
	per := map[string]*tally{}
	var order []string
	compared := 0
	for _, path := range corpusInputs(t) {
		exps := elasticExpected(t, path+"-expected.json")
		payloads := readPayloads(t, path)
		if len(exps) != len(payloads) {
			t.Fatalf("%s: %d input lines, %d expected documents", path, len(payloads), len(exps))
		}
		for i, p := range payloads {
			got, err := Decoder{}.Decode(p)
			if err != nil {
				t.Fatal(err)
			}
			exp := exps[i]
			ids, names := exp.list("host.id"), exp.list("host.name")
			if len(ids) != len(got) {
				t.Fatalf("line %d: %d alerts, Elastic names %d hosts", i+1, len(got), len(ids))
			}
			machines := machinesOf(mustParse(t, p))
			for j, a := range got {
				compared++
				guid, _, _ := strings.Cut(a.VendorID, "/")
				// Elastic keeps only the OS types it knows ("xyz" is dropped).
				elasticOS := strings.ToLower(machines[j].os)
				if !slices.Contains(exp.list("host.os.type"), elasticOS) {
					elasticOS = ""
				}
				users := exp.list("related.user")
				ourUser := a.User
				if ourUser != "" && !slices.Contains(users, ourUser) {
					ourUser = "(not in related.user) " + ourUser
				}
				elasticUser := ourUser
				userWhy := ""
				if a.User == "" {
					elasticUser = strings.Join(users, ",")
					userWhy = "Elastic lists every MalOp user; we give a machine only the user whose domain is its name, and none when no user names it"
				}
				checks := []struct{ field, elastic, ours, why string }{
					{"event.id (MalOp guid)", exp.str("event.id"), guid, ""},
					{"event.id", exp.str("event.id"), a.VendorID, "one alert per machine: VendorID is <MalOp guid>/<machine guid>"},
					{"host.id", at(ids, j), a.Host.ID, ""},
					{"host.name", at(names, j), a.Host.Name, ""},
					{"host.os.type", elasticOS, a.Host.OS, ""},
					{"related.user (this machine's)", elasticUser, ourUser, userWhy},
					{"@timestamp", exp.time("@timestamp"), conntest.Stamp(a.EventTime), ""},
					{"event.created", exp.time("event.created"), conntest.Stamp(a.VendorCreated), ""},
					{"related.hash (sha1)", at(exp.list("related.hash"), 0), a.Process.SHA1, ""},
					{"root_cause_element.hashes", exp.str("cybereason.poll_malop.root_cause_element.hashes"), a.Process.SHA1, ""},
					{"primary_root_cause_name", exp.str("cybereason.poll_malop.primary_root_cause_name"), a.Process.Name, ""},
					{"display_name", exp.str("cybereason.poll_malop.display_name"), a.Title, ""},
					{"severity", exp.str("cybereason.poll_malop.severity"), a.VendorSeverity, ""},
					{"detection.types", strings.Join(exp.list("cybereason.poll_malop.detection.types"), ","), a.Rule, ""},
					{"threat.tactic.id", strings.Join(exp.list("threat.tactic.id"), ","), strings.Join(a.Tactics, ","), ""},
					{"threat.technique.id", strings.Join(exp.list("threat.technique.id"), ","), strings.Join(a.Techniques, ","), ""},
				}
				for _, c := range checks {
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
						t.Logf("alert %s: differ %-30s Elastic %q, ours %q: on purpose, %s", a.VendorID, c.field, c.elastic, c.ours, c.why)
					default:
						tl.differ++
						t.Errorf("alert %s: differ %-30s Elastic %q, ours %q", a.VendorID, c.field, c.elastic, c.ours)
					}
				}
			}
		}
	}
	agree, total := 0, 0
	for _, f := range order {
		tl := per[f]
		t.Logf("%-32s agree %d of %d (differ on purpose %d)", f, tl.agree, compared, tl.why)
		agree += tl.agree
		total += tl.agree + tl.differ + tl.why
	}
	t.Logf("agree %d of %d field comparisons with Elastic (%d alerts)", agree, total, compared)
}

func mustParse(t *testing.T, p []byte) jsonfield.Object {
	t.Helper()
	f, err := jsonfield.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func at(ss []string, i int) string {
	if i < len(ss) {
		return ss[i]
	}
	return ""
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

func (e expected) get(path string) any {
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

// str returns a dotted field as text.
func (e expected) str(path string) string {
	switch v := e.get(path).(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// list returns a dotted field as a list of texts (a single value as one).
func (e expected) list(path string) []string {
	v := e.get(path)
	if s, ok := v.(string); ok {
		return []string{s}
	}
	items, _ := v.([]any)
	var out []string
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (e expected) time(path string) string { return conntest.Stamp(jsonfield.ParseTime(e.str(path))) }

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
