package defender

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/conntest"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/google/go-cmp/cmp"
)

// corpusRoot holds Elastic's test inputs, saved outside the repository
// (see /work/shared/VENDORS.md §2); resolved from the package directory.
var corpusRoot = conntest.CorpusDir()

var (
	mdeDir   = filepath.Join(corpusRoot, "microsoft_defender_endpoint", "log")
	graphDir = filepath.Join(corpusRoot, "m365_defender", "alert")
)

func corpusPayloads(t *testing.T, path string) [][]byte {
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

// TestCorpusDecodes decodes every line of every MDE and Graph corpus input.
// MDE's last line is an empty OData page ({"value":[]}): no alert, no error.
func TestCorpusDecodes(t *testing.T) {
	for _, dir := range []string{mdeDir, graphDir} {
		for _, path := range conntest.CorpusFiles(t, "Defender", dir) {
			t.Run(filepath.Base(filepath.Dir(filepath.Dir(path)))+"/"+filepath.Base(path), func(t *testing.T) {
				payloads := corpusPayloads(t, path)
				n := 0
				for i, p := range payloads {
					got, err := Decoder{}.Decode(p)
					if err != nil {
						t.Errorf("line %d: %v", i+1, err)
					}
					for _, a := range got {
						if a.Host.ID == "" || a.Host.Name == "" || a.EventTime.IsZero() || a.Score == 0 {
							t.Errorf("line %d (%s): missing machine id, name, event time or score", i+1, a.VendorID)
						}
					}
					n += len(got)
				}
				t.Logf("%s: %d lines, %d alerts", path, len(payloads), n)
			})
		}
	}
}

// elasticSeverity is Elastic's event.severity per MDE severity.
var elasticSeverity = map[string]string{"Informational": "1", "Low": "2", "Medium": "3", "High": "4"}

// TestCorpusMatchesElastic compares the MDE alerts with the output of
// Elastic's ingest pipeline for them, field by field, and logs agreement
// per field over all documents.
func TestCorpusMatchesElastic(t *testing.T) {
	conntest.CorpusFiles(t, "Defender", mdeDir) // skips without the corpus
	in := filepath.Join(mdeDir, "test-defenderatp.log")
	payloads := corpusPayloads(t, in)
	exps := conntest.ElasticExpected(t, in+"-expected.json")
	// Elastic drops the empty page (5 lines, 4 documents); so do we.
	var alerts []alert.Alert
	for i, p := range payloads {
		got, err := Decoder{}.Decode(p)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		alerts = append(alerts, got...)
	}
	if len(exps) != len(alerts) {
		t.Fatalf("%d alerts, %d expected documents", len(alerts), len(exps))
	}
	const (
		whyPath      = "MDE's filePath is the folder; we join folder and fileName into the image path"
		whyTechnique = "Elastic files MDE's category as a technique name; ATT&CK technique ids come from mitreTechniques (absent here), and a category that is a tactic becomes its tactic id"
	)
	var tally conntest.Tally
	for i, a := range alerts {
		exp := exps[i]
		checks := []struct {
			field, elastic, ours string
			why                  string // set where we differ on purpose
		}{
			{"event.id", exp.Str("event.id"), a.VendorID, ""},
			{"host.name", exp.Str("host.name"), a.Host.Name, ""},
			{"cloud.instance.id (machineId)", exp.Str("cloud.instance.id"), a.Host.ID, ""},
			{"event.severity", exp.Str("event.severity"), elasticSeverity[a.VendorSeverity], ""},
			{"message (title)", exp.Str("message"), a.Title, ""},
			{"rule.description", exp.Str("rule.description"), a.Description, ""},
			{"observer.name (detectionSource)", exp.Str("observer.name"), a.Product, ""},
			{"file.hash.sha1", exp.Str("file.hash.sha1"), a.Process.SHA1, ""},
			{"file.hash.sha256", exp.Str("file.hash.sha256"), a.Process.SHA256, ""},
			{"file.name", exp.Str("file.name"), a.Process.Name, ""},
			{"file.path", exp.Str("file.path"), a.Process.Path, pathWhy(exp.Str("file.path"), a.Process.Path, whyPath)},
			{"process.pid", exp.Str("process.pid"), a.Process.PID, ""},
			{"process.command_line", exp.Str("process.command_line"), a.Process.CommandLine, ""},
			{"process.parent.pid", exp.Str("process.parent.pid"), a.Parent.PID, ""},
			{"user.name", exp.Str("user.name"), a.User, ""},
			{"threat.technique.name", exp.Str("threat.technique.name"), jsonList(a.Techniques), whyTechnique},
			{"event.created", exp.Time("event.created"), conntest.Stamp(a.VendorCreated), ""},
			{"event.start", exp.Time("event.start"), conntest.Stamp(a.EventTime), ""},
		}
		for _, c := range checks {
			tally.Check(t, fmt.Sprintf("doc %d", i+1), 32, c.field, c.elastic, c.ours, c.why)
		}
	}
	tally.Log(t, 34, len(alerts))
}

// pathWhy returns why when ours is Elastic's folder joined with a name.
func pathWhy(elastic, ours, why string) string {
	if elastic != "" && strings.HasPrefix(ours, elastic+`\`) {
		return why
	}
	return ""
}

// TestCorpusGraphAlert checks what the Graph (alerts_v2) sample says; it
// has no Elastic expected output.
func TestCorpusGraphAlert(t *testing.T) {
	conntest.CorpusFiles(t, "Defender", graphDir) // skips without the corpus
	payloads := corpusPayloads(t, filepath.Join(graphDir, "test-alert.log"))
	if len(payloads) != 1 {
		t.Fatalf("%d payloads, want 1", len(payloads))
	}
	got, err := Decoder{}.Decode(payloads[0])
	if err != nil || len(got) != 1 {
		t.Fatalf("Decode = %d alerts, %v", len(got), err)
	}
	a := got[0]
	a.Raw, a.Description = nil, ""
	want := alert.Alert{
		Vendor: VendorName, VendorID: "da637551227677560813_-961444813", Rule: "e0da400f-affd-43ef-b1d5-afc2eb6f2756",
		Title: "Suspicious execution of hidden file", Product: "microsoftDefenderForEndpoint",
		EventTime: jsonfield.ParseTime("2021-04-26T07:45:50.116Z"), VendorCreated: jsonfield.ParseTime("2021-04-27T12:19:27.7211305Z"),
		Host: alert.Host{ID: "73e7e2de709dff64ef64b1d0c30e67fab63279db", Name: "tempDns", IPs: []string{"1.1.1.1"}, OS: "Windows10"},
		User: "SYSTEM",
		Process: alert.Process{Name: "MsSense.exe", Path: `C:\Program Files\temp\MsSense.exe`, CommandLine: `"MsSense.exe"`, PID: "4780",
			SHA256: "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec", SHA1: "5f1e8acedc065031aad553b710838eb366cfee9a"},
		Parent:         alert.Process{Name: "services.exe", Path: `C:\Windows\System32\services.exe`, PID: "668"},
		Tactics:        []string{"TA0005"},
		Techniques:     []string{"T1564.001"},
		VendorSeverity: "low", Score: 30, Action: alert.ActionNone,
		Link: "https://security.microsoft.com/alerts/da637551227677560813_-961444813?tid=b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c",
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("graph alert (-want +got):\n%s", diff)
	}
}

// TestCorpusThroughSim injects the MDE corpus into the simulator and pulls
// it back: the two rows of one alert become one alert (the second an
// update), the empty page nothing.
func TestCorpusThroughSim(t *testing.T) {
	conntest.CorpusFiles(t, "Defender", mdeDir) // skips without the corpus
	sim, cfg := startSim(t)
	if err := sim.Inject(corpusPayloads(t, filepath.Join(mdeDir, "test-defenderatp.log"))...); err != nil {
		t.Fatal(err)
	}
	got, _ := conntest.PullAll(t, newSource(t, cfg), Decoder{}, "")
	want := []string{"da637291048912199236_1126926584", "da637291063515066999_-2102938302", "da637291085411733957_-1043898914"}
	if diff := cmp.Diff(want, sorted(got)); diff != "" {
		t.Errorf("pulled (-want +got):\n%s", diff)
	}
}

func jsonList(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return fmt.Sprint(ss)
}
