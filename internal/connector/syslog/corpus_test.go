package syslog

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corpusRoot is the shared sample corpus outside the repository (see
// /work/shared/VENDORS.md §2), resolved from the package directory.
var corpusRoot = filepath.Join("..", "..", "..", "..", "shared", "corpus")

// corpusDirs are where syslog samples would sit in the corpus: Elastic's CEF,
// FortiGate and PAN-OS packages, one raw message per line in *.log. The
// corpus saved for this project holds none of them (VENDORS.md §2.2: "None
// of the saved samples is syslog-wrapped"), so today this test skips and
// testdata/messages.log with its golden file is the conformance check.
var corpusDirs = []string{
	"syslog",
	filepath.Join("elastic-integrations", "cef"),
	filepath.Join("elastic-integrations", "fortinet_fortigate"),
	filepath.Join("elastic-integrations", "panw"),
}

func corpusLogs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, d := range corpusDirs {
		_ = filepath.WalkDir(filepath.Join(corpusRoot, d), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".log") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) == 0 {
		t.Skipf("no syslog samples in the corpus at %s (looked in %v): corpus conformance not checked; "+
			"the hand-written testdata/messages.log is", corpusRoot, corpusDirs)
	}
	return files
}

// TestCorpusDecodes decodes every line of every syslog sample in the
// corpus, and where Elastic's -expected.json sits beside it, reports how
// often we agree with Elastic on the fields both fill.
func TestCorpusDecodes(t *testing.T) {
	for _, path := range corpusLogs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			expected := readExpected(t, path+"-expected.json")
			d := Decoder{Now: func() time.Time { return testNow }}
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			agree, compared, n := 0, 0, 0
			for sc.Scan() {
				line := sc.Text()
				if strings.TrimSpace(line) == "" {
					continue
				}
				n++
				got, err := d.Decode([]byte(line))
				if err != nil || len(got) != 1 {
					t.Errorf("line %d: %d alerts, %v", n, len(got), err)
					continue
				}
				if n-1 < len(expected) {
					a, c := agreeWithElastic(got[0].Rule, got[0].User, got[0].Process.SHA256, got[0].Host.IPs, expected[n-1])
					agree, compared = agree+a, compared+c
				}
			}
			t.Logf("%s: %d lines; agree with Elastic on %d of %d compared fields (rule/event.code, user, sha256, host ip)", path, n, agree, compared)
		})
	}
}

// readExpected reads Elastic's {"expected":[…]} documents, or none.
func readExpected(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc struct {
		Expected []map[string]any `json:"expected"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc.Expected
}

// agreeWithElastic compares the fields Elastic's ECS output and our alert
// both carry; it returns agreements and comparisons.
func agreeWithElastic(rule, user, sha256 string, ips []string, want map[string]any) (agree, compared int) {
	check := func(ours string, ecs ...string) {
		for _, k := range ecs {
			if v, ok := ecsField(want, k).(string); ok && v != "" {
				compared++
				if strings.EqualFold(v, ours) {
					agree++
				}
				return
			}
		}
	}
	check(rule, "event.code")
	check(user, "source.user.name", "user.name")
	check(sha256, "file.hash.sha256", "process.hash.sha256")
	ip := ""
	if len(ips) > 0 {
		ip = ips[0]
	}
	check(ip, "source.ip", "host.ip")
	return agree, compared
}

func ecsField(doc map[string]any, dotted string) any {
	var cur any = doc
	for _, part := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func TestAgreeWithElastic(t *testing.T) {
	want := map[string]any{"event.code": "x", "event": map[string]any{"code": "4000000"},
		"source": map[string]any{"ip": "10.0.0.1", "user": map[string]any{"name": "Admin"}}}
	tests := []struct {
		name            string
		rule, user      string
		ips             []string
		agree, compared int
	}{
		{"all agree", "4000000", "admin", []string{"10.0.0.1"}, 3, 3},
		{"rule and ip differ", "600", "admin", []string{"10.0.0.2"}, 1, 3},
		{"nothing of ours", "", "", nil, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := agreeWithElastic(tt.rule, tt.user, "", tt.ips, want)
			if a != tt.agree || c != tt.compared {
				t.Errorf("agree %d of %d, want %d of %d", a, c, tt.agree, tt.compared)
			}
		})
	}
}
