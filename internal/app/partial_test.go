package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/tenant"
)

// TestWebhookBrokenLine sends NDJSON whose second line is cut off: the good
// lines are accepted, the broken one is kept in quarantine with its line
// number, and the answer says so.
func TestWebhookBrokenLine(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)})
		good1, good3 := csAlert("line:1", "pc-l1"), csAlert("line:3", "pc-l3")
		broken := csAlert("line:2", "pc-l2")
		body := ndjson(good1, broken[:len(broken)/2], good3)
		r := e.post(t, "hokuto", body)
		if r.code != http.StatusAccepted || !strings.Contains(string(r.body), `"accepted":2`) || !strings.Contains(string(r.body), "line 2:") {
			t.Fatalf("webhook: %d %s; want 202 with 2 accepted and line 2 quarantined", r.code, r.body)
		}
		quiesce(t, e.App)
		ids := vendorIDs(t, e.App, "hokuto")
		if ids["line:1"] != 1 || ids["line:3"] != 1 || len(ids) != 2 {
			t.Errorf("stored %v, want line:1 and line:3", ids)
		}
		q, err := e.App.DB.Quarantined(context.Background(), "hokuto", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 1 || !strings.HasPrefix(q[0].Error, "line 2:") {
			t.Errorf("quarantine = %+v, want the broken line with its number", q)
		}
	})
}
