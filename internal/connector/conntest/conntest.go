// Package conntest holds test support shared by the vendor connector
// packages: finding Elastic corpus files, reading testdata fixtures,
// comparing golden files, reading Elastic's -expected.json documents and
// tallying per-field agreement with them, a settable simulator clock,
// pulling a source to the end, and checking a connector error's class.
//
// It is imported only by _test.go files; no production code may use it.
// It registers no flags: a package keeps its own -update flag and passes
// its value in.
package conntest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/google/go-cmp/cmp"
)

// CorpusDir returns the path of a directory under the shared Elastic
// corpus (see /work/shared/VENDORS.md §2), resolved from a connector
// package's directory: CorpusDir("sentinel_one") is
// ../../../../shared/corpus/elastic-integrations/sentinel_one.
func CorpusDir(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "..", "..", "shared", "corpus", "elastic-integrations"}, parts...)...)
}

// CorpusFiles returns every input file under dir (walked recursively,
// skipping Elastic's -expected.json files). It skips the test, naming
// the vendor and the path, when dir is absent or holds no input.
func CorpusFiles(t testing.TB, vendor, dir string) []string {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s corpus not found at %s (%v): conformance not checked", vendor, dir, err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, "-expected.json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("%s corpus at %s holds no input files", vendor, dir)
	}
	return files
}

// Golden compares got with the golden file at path, first rewriting the
// file with got when update is set (each package keeps its own -update
// flag, so that no flag is registered twice in one test binary).
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("decoded alerts differ from %s (-want +got):\n%s", path, diff)
	}
}

// Expected is one document of an Elastic -expected.json file.
type Expected map[string]any

// ElasticExpected reads the documents of an Elastic -expected.json file,
// keeping numbers exact (19-digit ids).
func ElasticExpected(t testing.TB, path string) []Expected {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Expected []Expected `json:"expected"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep 19-digit ids exact
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("expected file: %v", err)
	}
	return doc.Expected
}

// Value returns a dotted field (ECS nests every level), or nil when
// absent.
func (e Expected) Value(path string) any {
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

// Str returns a dotted field (ECS nests every level) as text; a list or
// object comes back as JSON, an absent field as "".
func (e Expected) Str(path string) string {
	switch v := e.Value(path).(type) {
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

// Time returns a dotted time field normalised like Stamp.
func (e Expected) Time(path string) string {
	return Stamp(jsonfield.ParseTime(e.Str(path)))
}

// JSONList returns ss as a JSON array, or "" when empty.
func JSONList(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

// Stamp formats t in UTC as RFC 3339 with nanoseconds, or "" when zero.
func Stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Millis is Stamp truncated to milliseconds.
func Millis(t time.Time) string { return Stamp(t.Truncate(time.Millisecond)) }

// Tally counts, per field and in first-seen order, how often our value
// agrees with Elastic's, differs on purpose, or differs.
type Tally struct {
	fields []string
	per    map[string]*count
}

type count struct{ agree, differ, why int }

// Add counts one comparison of field.
func (tl *Tally) Add(field string, agree, onPurpose bool) {
	if tl.per == nil {
		tl.per = map[string]*count{}
	}
	c := tl.per[field]
	if c == nil {
		c = &count{}
		tl.per[field] = c
		tl.fields = append(tl.fields, field)
	}
	switch {
	case agree:
		c.agree++
	case onPurpose:
		c.why++
	default:
		c.differ++
	}
}

// Check compares one field, counts it, and reports a difference: logged
// when why says it is on purpose, an error otherwise. where names the
// document ("line 3"); width pads the field name in the message.
func (tl *Tally) Check(t testing.TB, where string, width int, field, elastic, ours, why string) {
	t.Helper()
	switch {
	case elastic == ours:
		tl.Add(field, true, false)
	case why != "":
		tl.Add(field, false, true)
		t.Logf("%s: differ %-*s Elastic %q, ours %q: on purpose, %s", where, width, field, elastic, ours, why)
	default:
		tl.Add(field, false, false)
		t.Errorf("%s: differ %-*s Elastic %q, ours %q", where, width, field, elastic, ours)
	}
}

// Log logs each field's agreement over docs documents, as "agree N/M
// (differ on purpose K)", and the total over all comparisons.
func (tl *Tally) Log(t testing.TB, width, docs int) {
	t.Helper()
	agree, total := 0, 0
	for _, f := range tl.fields {
		c := tl.per[f]
		t.Logf("%-*s agree %d/%d (differ on purpose %d)", width, f, c.agree, docs, c.why)
		agree += c.agree
		total += c.agree + c.differ + c.why
	}
	t.Logf("agree %d of %d field comparisons with Elastic", agree, total)
}

// CheckErr checks an error's class (retryable or not), its wait, what it
// wraps (is, when not nil) and that its message says says.
func CheckErr(t testing.TB, err error, retryable bool, after time.Duration, is error, says string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var re *connector.RetryableError
	if got := errors.As(err, &re); got != retryable {
		t.Fatalf("retryable = %v, want %v (%v)", got, retryable, err)
	}
	if re != nil && re.After != after {
		t.Errorf("After = %v, want %v", re.After, after)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %q is not %v", err, is)
	}
	if !strings.Contains(err.Error(), says) {
		t.Errorf("error %q does not say %q", err, says)
	}
}

// IsRetryable reports whether err is a *connector.RetryableError.
func IsRetryable(err error) bool {
	var re *connector.RetryableError
	return errors.As(err, &re)
}

// Clock is a settable clock for a simulator, starting at 2026-03-01
// 10:00 UTC; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at 2026-03-01 10:00 UTC.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock's time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Fixtures returns the payload fixtures in the package's testdata (every
// *.json but the *.golden.json files), by base name without .json. It
// fails the test when there are none.
func Fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = b
	}
	if len(out) == 0 {
		t.Fatal("no fixtures in testdata")
	}
	return out
}

// DecodeGolden decodes each of Fixtures with dec, in a subtest per
// fixture, and compares the alerts, as indented JSON, with
// testdata/<name>.golden.json (see Golden). It also checks each alert's
// Raw: the whole payload when the payload gives one alert, and always a
// valid JSON object found in the payload.
func DecodeGolden(t *testing.T, dec connector.Decoder, update bool) {
	t.Helper()
	for name, payload := range Fixtures(t) {
		t.Run(name, func(t *testing.T) {
			got, err := dec.Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			text, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			text = append(text, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			Golden(t, golden, text, update)
			for _, a := range got {
				if len(got) == 1 && !bytes.Equal(a.Raw, payload) {
					t.Errorf("alert %s: Raw is not the payload", a.VendorID)
				}
				if !bytes.Contains(payload, a.Raw) || !json.Valid(a.Raw) {
					t.Errorf("alert %s: Raw %.60q… is not a JSON object of the payload", a.VendorID, a.Raw)
				}
			}
		})
	}
}

// PullAll pulls from cursor until a page says no more is waiting, and
// returns the vendor ids (see PayloadIDs) in the order received and the
// last cursor. It fails the test after 1000 pages.
func PullAll(t testing.TB, src connector.Source, dec connector.Decoder, cursor string) ([]string, string) {
	t.Helper()
	var ids []string
	for range 1000 {
		page, err := src.Pull(context.Background(), cursor)
		if err != nil {
			t.Fatalf("Pull(%q): %v", cursor, err)
		}
		ids = append(ids, PayloadIDs(t, dec, page.Payloads)...)
		cursor = page.Cursor
		if !page.More {
			return ids, cursor
		}
	}
	t.Fatal("Pull kept saying More")
	return nil, ""
}

// PayloadIDs decodes each payload with dec, failing the test unless it
// gives exactly one alert, and returns the alerts' vendor ids.
func PayloadIDs(t testing.TB, dec connector.Decoder, payloads [][]byte) []string {
	t.Helper()
	var ids []string
	for _, p := range payloads {
		got, err := dec.Decode(p)
		if err != nil || len(got) != 1 {
			t.Fatalf("payload does not decode to one alert: %v", err)
		}
		ids = append(ids, got[0].VendorID)
	}
	return ids
}
