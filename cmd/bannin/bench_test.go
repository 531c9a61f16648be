package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBenchIngestJSON runs the whole bench on a small load and checks the
// contract of its last line, not its figures (they are for people).
func TestBenchIngestJSON(t *testing.T) {
	stores := []string{"sqlite"}
	if os.Getenv("BANNIN_TEST_PG") != "" {
		stores = append(stores, "postgres")
	} else {
		t.Log("BANNIN_TEST_PG unset: postgres skipped")
	}
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			out, _, err := run(t, "bench", "ingest", "--store", store, "--alerts", "300", "--json")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var r map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
				t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
			}
			if r["store"] != store || r["alerts"] != float64(300) {
				t.Errorf("store, alerts = %v, %v", r["store"], r["alerts"])
			}
			for _, k := range []string{"baseline_per_sec", "pipeline_per_sec", "ratio", "floor_per_sec", "floor_ratio", "incidents"} {
				if v, ok := r[k].(float64); !ok || v <= 0 {
					t.Errorf("%s = %v, want a positive number", k, r[k])
				}
			}
		})
	}
}
