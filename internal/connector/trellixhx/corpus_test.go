package trellixhx

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
)

// corpusDir holds Elastic's Trellix EDR cloud test inputs, saved outside
// the repository (see /work/shared/VENDORS.md §2); resolved from the
// package directory. There is no HX alert in the corpus: no public HX
// payload exists, so HX is tested on hand-written testdata only.
var corpusDir = conntest.CorpusDir("trellix_edr_cloud")

// TestCorpusDecodes decodes every line of every corpus input.
func TestCorpusDecodes(t *testing.T) {
	for _, path := range conntest.CorpusFiles(t, "Trellix EDR cloud", corpusDir) {
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
					if a.Host.ID == "" || a.EventTime.IsZero() || a.Score != ScoreTelemetry || !bytes.Equal(a.Raw, p) {
						t.Errorf("line %d (%s): missing device, event time or Raw, or score %d not telemetry", i+1, a.VendorID, a.Score)
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

// TestCorpusMatchesElastic compares our decoding of each corpus input that
// has an -expected.json beside it with the output of Elastic's ingest
// pipeline, field by field, and logs agreement per field.
func TestCorpusMatchesElastic(t *testing.T) {
	type tally struct{ agree, empty, differ, why int } // empty: agree because neither has the field
	var order []string
	per := map[string]*tally{}
	docs := 0
	for _, path := range conntest.CorpusFiles(t, "Trellix EDR cloud", corpusDir) {
		expPath := path + "-expected.json"
		if _, err := os.Stat(expPath); err != nil {
			continue
		}
		in, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		payloads, err := connector.Split(in)
		if err != nil {
			t.Fatal(err)
		}
		exps := conntest.ElasticExpected(t, expPath)
		if len(exps) != len(payloads) {
			t.Fatalf("%s: %d input lines, %d expected documents", path, len(payloads), len(exps))
		}
		for i, p := range payloads {
			got, err := Decoder{}.Decode(p)
			if err != nil || len(got) != 1 {
				t.Fatalf("%s line %d: Decode = %d alerts, %v; want 1", path, i+1, len(got), err)
			}
			docs++
			a, exp := got[0], exps[i]
			var remote struct{ ip, port string }
			for _, n := range a.Network {
				if n.IP != "" {
					remote.ip, remote.port = n.IP, fmt.Sprint(n.Port)
					break
				}
			}
			file := "the file is what the event acted on, not the process image; Alert has no file field (kept in Raw)"
			checks := []struct {
				field, elastic, ours string
				why                  string // set where we differ on purpose
			}{
				{"event.id", exp.Str("event.id"), a.VendorID, ""},
				{"device.id", exp.Str("device.id"), a.Host.ID, ""},
				{"host.name", exp.Str("host.name"), a.Host.Name, ""},
				{"@timestamp", exp.Time("@timestamp"), conntest.Stamp(a.EventTime), ""},
				{"trellix_edr_cloud.event.type", exp.Str("trellix_edr_cloud.event.type"), a.Title, ""},
				{"event.severity", exp.Str("event.severity"), a.VendorSeverity, ""},
				{"user.name", exp.Str("user.name"), a.User, ""},
				{"process.pid", exp.Str("process.pid"), a.Process.PID, ""},
				// Elastic lists cmdLine and commands[] together; the first is
				// the process's command line.
				{"process.command_line[0]", expFirst(exp, "process.command_line"), a.Process.CommandLine, ""},
				{"source.ip (outbound: the device)", exp.Str("source.ip"), first(a.Host.IPs), ""},
				{"destination.ip", exp.Str("destination.ip"), remote.ip, ""},
				{"destination.port", exp.Str("destination.port"), remote.port, ""},
				{"file.hash.sha256", exp.Str("file.hash.sha256"), a.Process.SHA256, file},
				{"file.hash.sha1", exp.Str("file.hash.sha1"), a.Process.SHA1, file},
				{"file.hash.md5", exp.Str("file.hash.md5"), a.Process.MD5, file},
				{"threat.technique.id", exp.Str("threat.technique.id"), strings.Join(a.Techniques, ","), ""},
				{"threat.tactic.id", exp.Str("threat.tactic.id"), strings.Join(a.Tactics, ","), ""},
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
					if c.ours == "" {
						tl.empty++
					}
				case c.why != "":
					tl.why++
					t.Logf("line %d: differ %-34s Elastic %q, ours %q: on purpose, %s", i+1, c.field, c.elastic, c.ours, c.why)
				default:
					tl.differ++
					t.Errorf("line %d: differ %-34s Elastic %q, ours %q", i+1, c.field, c.elastic, c.ours)
				}
			}
		}
	}
	if docs == 0 {
		t.Skip("no corpus input has an -expected.json beside it")
	}
	agree, empty, total := 0, 0, 0
	for _, f := range order {
		tl := per[f]
		t.Logf("%-36s agree %d/%d (both empty %d, differ on purpose %d)", f, tl.agree, docs, tl.empty, tl.why)
		agree += tl.agree
		empty += tl.empty
		total += tl.agree + tl.differ + tl.why
	}
	t.Logf("agree %d of %d field comparisons with Elastic (%d of them because neither has the field; %d documents)", agree, total, empty, docs)
}

// first returns the first element of a list field, or the field itself.
func expFirst(e conntest.Expected, path string) string {
	if l, ok := e.Value(path).([]any); ok {
		if len(l) == 0 {
			return ""
		}
		s, _ := l[0].(string)
		return s
	}
	return e.Str(path)
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
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
