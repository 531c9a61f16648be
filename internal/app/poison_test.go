package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/tenant"
)

// TestPoisonPayloadDoesNotStopIntake sends, between two good alerts, one
// whose host name holds a NUL character: SQLite stores it, PostgreSQL's text
// type refuses it. Either way every other alert must get through, and on
// PostgreSQL the refused payload must end in quarantine with the reason.
func TestPoisonPayloadDoesNotStopIntake(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)})
		body := ndjson(csAlert("poison:1", "pc-p1"),
			csAlert("poison:2", "pc-\x00p2"),
			csAlert("poison:3", "pc-p3"))
		if r := e.post(t, "hokuto", body); r.code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		waitFor(t, 60*time.Second, func() error {
			n, err := e.App.DB.PendingCount(context.Background())
			if err != nil || n > 0 {
				return fmt.Errorf("%d payloads still pending (%v)", n, err)
			}
			return nil
		})
		ids := vendorIDs(t, e.App, "hokuto")
		if ids["poison:1"] != 1 || ids["poison:3"] != 1 {
			t.Errorf("good alerts stored %v, want poison:1 and poison:3 once each", ids)
		}
		q, err := e.App.DB.Quarantined(context.Background(), "hokuto", 10)
		if err != nil {
			t.Fatal(err)
		}
		switch b.name {
		case "postgres":
			if len(q) != 1 || !strings.Contains(q[0].Error, "triage failed") {
				t.Errorf("quarantine = %+v, want the NUL payload with a triage failure", q)
			}
		case "sqlite":
			if ids["poison:2"] != 1 || len(q) != 0 {
				t.Errorf("SQLite takes NUL: stored %v, quarantine %+v", ids, q)
			}
		}
	})
}
