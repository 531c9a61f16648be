package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/demo"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// run executes the CLI in-process and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestNormalizeCorpus(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "corpus", "elastic-integrations", "crowdstrike", "alert", "test-alert.log")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared corpus not found at %s (it lives beside the project in ../shared): %v", path, err)
	}
	out, _, err := run(t, "normalize", "--vendor", "crowdstrike", "--in", path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("normalize printed %d alerts, want 3", len(lines))
	}
	var first struct {
		Vendor string `json:"vendor"`
		Host   struct{ Name, ID string }
		Score  int `json:"score"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Vendor != "crowdstrike" || first.Host.Name != "ABC709-1175" || first.Score != 30 {
		t.Errorf("first alert = %+v, want crowdstrike ABC709-1175 score 30", first)
	}
}

func TestNormalizeBadInput(t *testing.T) {
	in := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(in, []byte(`{"not":"an alert"}`+"\n"+`{"composite_id":"x:ind:1","agent_id":"a","severity":50,"device":{"hostname":"h"}}`), 0o644)
	out, errOut, err := run(t, "normalize", "--vendor", "crowdstrike", "--in", in)
	if err == nil || !strings.Contains(errOut, "payload 1:") {
		t.Errorf("err = %v, stderr %q: want payload 1 reported and a failing exit", err, errOut)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("the good payload should still be printed; got %q", out)
	}
	if _, _, err := run(t, "normalize", "--vendor", "nosuch", "--in", in); err == nil || !strings.Contains(err.Error(), "unknown vendor") {
		t.Errorf("unknown vendor: err = %v", err)
	}
}

func TestTenantCheck(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "tenant", "check", path); err != nil || !strings.Contains(out, "ok (tenant hokuto") {
		t.Errorf("demo tenant: %q, %v", out, err)
	}
	data, _ := os.ReadFile(path)
	bad := strings.Replace(string(data), "containment:", "contianment:", 1)
	badPath := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badPath, []byte(bad), 0o644)
	_, _, err = run(t, "tenant", "check", badPath)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:") || !strings.Contains(err.Error(), "contianment") {
		t.Errorf("misspelt key: err = %v, want the file, line and key named", err)
	}
}

// TestReplayCLI runs `bannin replay` on a generated month and checks the
// output has DESIGN.md's fields.
func TestReplayCLI(t *testing.T) {
	dir := t.TempDir()
	path, err := tenant.WriteDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "month.ndjson")
	f, _ := os.Create(in)
	if _, err := demo.Month(f, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 200, 3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	outPath := filepath.Join(dir, "result.json")
	if _, errOut, err := run(t, "replay", "--tenant", path, "--in", in, "--out", outPath); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	counts, _ := res["alerts"].(map[string]any)
	for _, k := range []string{"received", "accepted", "duplicates", "quarantined", "suppressed"} {
		if _, ok := counts[k]; !ok {
			t.Errorf("alerts.%s missing", k)
		}
	}
	incs, _ := res["incidents"].([]any)
	if len(incs) == 0 {
		t.Fatal("no incidents")
	}
	inc := incs[0].(map[string]any)
	for _, k := range []string{"id", "priority", "severity", "status", "verdict", "needs_human", "alert_count", "hosts", "techniques", "evidence", "actions", "notifications"} {
		if _, ok := inc[k]; !ok {
			t.Errorf("incidents[0].%s missing", k)
		}
	}
}

// TestNormalizeWrongShape: alerts bannin could not judge or act on are
// refused with the reason, not turned into incidents about nobody.
func TestNormalizeWrongShape(t *testing.T) {
	for name, payload := range map[string]string{
		"no severity": `{"composite_id":"x:1","agent_id":"a"}`,
		"no endpoint": `{"composite_id":"x:2","severity":50}`,
		"bad device":  `{"composite_id":"x:3","severity":50,"agent_id":"a","device":"oops"}`,
	} {
		in := filepath.Join(t.TempDir(), "p.json")
		os.WriteFile(in, []byte(payload), 0o644)
		_, errOut, err := run(t, "normalize", "--vendor", "crowdstrike", "--in", in)
		if err == nil || !strings.Contains(errOut, "x:") {
			t.Errorf("%s: err %v, stderr %q; want refused naming the alert", name, err, errOut)
		}
	}
}

// TestSimControl drives the standalone simulator's control API over HTTP.
func TestSimControl(t *testing.T) {
	v, err := connector.Lookup("crowdstrike")
	if err != nil {
		t.Fatal(err)
	}
	sim := v.NewSimulator()
	srv := httptest.NewServer(simControl(sim))
	defer srv.Close()
	post := func(path, body string) int {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/_sim/alerts", `{"composite_id":"c:1","agent_id":"aid1","severity":50,"device":{"device_id":"aid1","hostname":"pc-1"}}`); c != 200 {
		t.Errorf("inject: %d", c)
	}
	if c := post("/_sim/devices?id=aid2&name=pc-2", ""); c != 204 {
		t.Errorf("add device: %d", c)
	}
	if c := post("/_sim/fail?n=1&status=503", ""); c != 204 {
		t.Errorf("fail next: %d", c)
	}
	if c := post("/_sim/fail?n=x", ""); c != 400 {
		t.Errorf("bad fail request: %d, want 400", c)
	}
	if c := post("/_sim/alerts", `not json`); c != 400 {
		t.Errorf("bad inject: %d, want 400", c)
	}
	if ids := sim.(interface{ AlertIDs() []string }).AlertIDs(); len(ids) != 1 || ids[0] != "c:1" {
		t.Errorf("simulator serves %v, want the injected c:1", ids)
	}
}

// TestNormalizeEveryVendorOCSF runs `normalize --format ocsf` on inputs of
// every registered vendor — the shared corpus where it has the vendor, else
// the connector's own test inputs — and checks each line is an OCSF
// Detection Finding that names its finding and, where the vendor gave one,
// its device.
func TestNormalizeEveryVendorOCSF(t *testing.T) {
	corpus := filepath.Join("..", "..", "..", "shared", "corpus")
	own := filepath.Join("..", "..", "internal", "connector")
	inputs := map[string][]string{
		"crowdstrike": {filepath.Join(corpus, "elastic-integrations", "crowdstrike", "alert", "*.log")},
		"sentinelone": {filepath.Join(corpus, "elastic-integrations", "sentinel_one", "*", "*.log")},
		"defender":    {filepath.Join(corpus, "elastic-integrations", "microsoft_defender_endpoint", "log", "*.log"), filepath.Join(own, "defender", "testdata", "graph_alert.json")},
		"withsecure":  {filepath.Join(corpus, "withsecure-elements-api", "withsecure", "security-events", "*.json"), filepath.Join(own, "withsecure", "testdata", "*.json")},
		"cybereason":  {filepath.Join(corpus, "elastic-integrations", "cybereason", "poll_malop", "*.log")},
		"carbonblack": {filepath.Join(corpus, "elastic-integrations", "carbon_black_cloud", "alert_v7", "*.log")},
		"trellixhx":   {filepath.Join(own, "trellixhx", "testdata", "hx_*.json")},
		"sophos":      {filepath.Join(corpus, "elastic-integrations", "sophos_central", "alert", "*.log")},
		"syslog":      {filepath.Join(own, "syslog", "testdata", "*.log")},
		"mail":        {filepath.Join(own, "mail", "testdata", "*.eml")},
	}
	for _, name := range connector.Names() {
		t.Run(name, func(t *testing.T) {
			globs, ok := inputs[name]
			if !ok {
				t.Fatalf("vendor %s is registered but this test has no inputs for it", name)
			}
			var files []string
			for _, g := range globs {
				m, _ := filepath.Glob(g)
				for _, f := range m {
					if !strings.Contains(f, ".golden.") {
						files = append(files, f)
					}
				}
			}
			if len(files) == 0 {
				t.Skipf("no inputs for %s at %v (the shared corpus lives beside the project in ../shared)", name, globs)
			}
			findings := 0
			for _, f := range files {
				out, errOut, err := run(t, "normalize", "--vendor", name, "--format", "ocsf", "--in", f)
				if err != nil {
					t.Errorf("%s: %v\n%s", f, err, errOut)
					continue
				}
				for line := range strings.Lines(out) {
					var o struct {
						ClassUID    int `json:"class_uid"`
						SeverityID  int `json:"severity_id"`
						Time        int64
						FindingInfo struct{ UID, Title string } `json:"finding_info"`
						Metadata    struct {
							Product struct {
								VendorName string `json:"vendor_name"`
							}
						}
						Device *struct{ Hostname, UID, IP string }
					}
					if err := json.Unmarshal([]byte(line), &o); err != nil {
						t.Fatalf("%s: not JSON: %v", f, err)
					}
					findings++
					if o.ClassUID != 2004 || o.FindingInfo.UID == "" || o.FindingInfo.Title == "" || o.SeverityID < 1 || o.SeverityID > 5 ||
						o.Metadata.Product.VendorName != name {
						t.Errorf("%s: finding %d = %+v: want class 2004, a uid, a title, severity 1–5, vendor %s", f, findings, o, name)
					}
					if o.Device != nil && o.Device.Hostname == "" && o.Device.UID == "" && o.Device.IP == "" {
						t.Errorf("%s: finding %d has an empty device", f, findings)
					}
				}
			}
			if findings == 0 {
				t.Errorf("no findings from %d files", len(files))
			}
			t.Logf("%d files, %d OCSF findings", len(files), findings)
		})
	}
}
