package syslog

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/messages.golden.json from the decoder's output")

// testNow is the clock of the golden decode: RFC 3164 stamps take its year.
var testNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

// testLines returns the hand-written messages of testdata/messages.log.
func testLines(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil || len(lines) == 0 {
		t.Fatalf("read testdata/messages.log: %d lines, %v", len(lines), err)
	}
	return lines
}

// goldenCase is one message and what it decodes to, as the golden file holds it.
type goldenCase struct {
	Message string        `json:"message"`
	Alerts  []alert.Alert `json:"alerts"`
}

func TestDecodeGolden(t *testing.T) {
	d := Decoder{Now: func() time.Time { return testNow }}
	var got []goldenCase
	for i, line := range testLines(t) {
		alerts, err := d.Decode([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if len(alerts) != 1 {
			t.Fatalf("line %d: %d alerts, want 1", i+1, len(alerts))
		}
		var env Envelope
		if err := json.Unmarshal(alerts[0].Raw, &env); err != nil || env.Message != line {
			t.Errorf("line %d: Raw is not an envelope of the line (%v)", i+1, err)
		}
		got = append(got, goldenCase{Message: line, Alerts: alerts})
	}
	text, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	text = append(text, '\n')
	golden := filepath.Join("testdata", "messages.golden.json")
	if *update {
		if err := os.WriteFile(golden, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(text)); diff != "" {
		t.Errorf("decoded alerts differ from %s (-want +got):\n%s", golden, diff)
	}
}
