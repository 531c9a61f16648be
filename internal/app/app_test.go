package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// TestWebhookAcceptsEveryFraming posts one object, a JSON array, NDJSON and
// concatenated pretty-printed objects over real HTTP: each is acknowledged
// only once it is in the inbox, and each alert is stored once.
func TestWebhookAcceptsEveryFraming(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)})
		pretty := func(p []byte) []byte {
			var out bytes.Buffer
			if err := json.Indent(&out, p, "", "  "); err != nil {
				t.Fatal(err)
			}
			return out.Bytes()
		}
		a1, a2, a3 := csAlert("wh:arr:1", "pc-011"), csAlert("wh:arr:2", "pc-012"), csAlert("wh:arr:3", "pc-013")
		n1, n2 := csAlert("wh:nd:1", "pc-021"), csAlert("wh:nd:2", "pc-022")
		c1, c2 := csAlert("wh:cat:1", "pc-031"), csAlert("wh:cat:2", "pc-032")
		tests := []struct {
			name string
			body []byte
			ids  []string
		}{
			{"one object", csAlert("wh:one:1", "pc-001"), []string{"wh:one:1"}},
			{"JSON array", []byte("[" + string(a1) + ",\n" + string(a2) + " , " + string(a3) + "]"), []string{"wh:arr:1", "wh:arr:2", "wh:arr:3"}},
			{"NDJSON", append(ndjson(n1, n2), '\n'), []string{"wh:nd:1", "wh:nd:2"}},
			{"concatenated pretty-printed", append(pretty(c1), pretty(c2)...), []string{"wh:cat:1", "wh:cat:2"}},
		}
		stored := 0
		for _, tt := range tests {
			r := e.post(t, "hokuto", tt.body)
			if r.code != http.StatusAccepted || r.body != fmt.Sprintf("{\"accepted\":%d}\n", len(tt.ids)) {
				t.Fatalf("%s: answer %d %q, want 202 {\"accepted\":%d}", tt.name, r.code, r.body, len(tt.ids))
			}
			// 202 means committed: the payloads are in the inbox now.
			stored += len(tt.ids)
			if n := inboxTotal(t, e.App, "hokuto"); n != stored {
				t.Fatalf("%s: inbox holds %d payloads after the 202, want %d", tt.name, n, stored)
			}
		}
		quiesce(t, e.App)
		got := vendorIDs(t, e.App, "hokuto")
		for _, tt := range tests {
			for _, id := range tt.ids {
				if got[id] != 1 {
					t.Errorf("%s: alert %s stored %d times, want once", tt.name, id, got[id])
				}
			}
		}
		if len(got) != stored {
			t.Errorf("%d alerts stored, want %d: %v", len(got), stored, got)
		}
	})
}

// TestWebhookAckIsDurable closes bannin right after the 202s: a new bannin on
// the same store triages every acknowledged alert.
func TestWebhookAckIsDurable(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		dsn, tn := b.fresh(t), hokuto(t)
		e := start(t, dsn, []*tenant.Tenant{tn})
		want := map[string]int{}
		for i := range 5 {
			id := fmt.Sprintf("durable:%d", i)
			if r := e.post(t, "hokuto", csAlert(id, fmt.Sprintf("pc-%03d", 200+i))); r.code != http.StatusAccepted {
				t.Fatalf("post %s: %d %s", id, r.code, r.body)
			}
			want[id] = 1
		}
		e.stop()
		again := start(t, dsn, []*tenant.Tenant{tn})
		quiesce(t, again.App)
		got := vendorIDs(t, again.App, "hokuto")
		for id := range want {
			if got[id] != 1 {
				t.Errorf("after a restart alert %s is stored %d times, want once (all: %v)", id, got[id], got)
			}
		}
	})
}

// TestWebhookRejects checks the refusals: none of them stores anything.
func TestWebhookRejects(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t), acme(t)})
		body := csAlert("reject:1", "pc-300")
		big := bytes.Repeat([]byte(" "), 8<<20+1)
		tests := []struct {
			name           string
			tenant, source string
			sig            string
			body           []byte
			code           int
		}{
			{"wrong signature", "hokuto", "falcon", intake.Sign([]byte("not the secret"), body), body, http.StatusUnauthorized},
			{"signature of another body", "hokuto", "falcon", intake.Sign(e.secrets["hokuto"], []byte("{}")), body, http.StatusUnauthorized},
			{"no signature", "hokuto", "falcon", "", body, http.StatusUnauthorized},
			{"another tenant's secret", "hokuto", "falcon", intake.Sign(e.secrets["acme"], body), body, http.StatusUnauthorized},
			{"unknown tenant", "nobody", "falcon", intake.Sign(e.secrets["hokuto"], body), body, http.StatusNotFound},
			{"unknown source", "hokuto", "nope", intake.Sign(e.secrets["hokuto"], body), body, http.StatusNotFound},
			{"source without webhook", "acme", "nohook", intake.Sign(e.secrets["acme"], body), body, http.StatusNotFound},
			{"body over 8 MiB", "hokuto", "falcon", intake.Sign(e.secrets["hokuto"], big), big, http.StatusRequestEntityTooLarge},
		}
		for _, tt := range tests {
			r := e.postSig(t, tt.tenant, tt.source, tt.sig, tt.body)
			if r.code != tt.code {
				t.Errorf("%s: answer %d %q, want %d", tt.name, r.code, r.body, tt.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q, want application/json", tt.name, ct)
			}
		}
		quiesce(t, e.App)
		for _, id := range []string{"hokuto", "acme", "nobody"} {
			if n := inboxTotal(t, e.App, id); n != 0 {
				t.Errorf("refused requests left %d payloads in %s's inbox", n, id)
			}
		}
		if got := vendorIDs(t, e.App, "hokuto"); len(got) != 0 {
			t.Errorf("refused requests stored alerts: %v", got)
		}
	})
}

// TestWebhookQuarantine follows bad input: a body that is not JSON is
// refused with 400 but kept whole in quarantine; a JSON object of the wrong
// shape is acknowledged and then quarantined by triage; requeued while still
// bad it is quarantined again, never lost.
func TestWebhookQuarantine(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)})
		ctx := context.Background()
		garbled := []byte(`{"composite_id": "q:1", "severity": 90` + "\n")
		if r := e.post(t, "hokuto", garbled); r.code != http.StatusBadRequest || !strings.Contains(r.body, "quarantine") {
			t.Fatalf("malformed JSON: answer %d %q, want 400 saying it is kept in quarantine", r.code, r.body)
		}
		q, err := e.App.DB.Quarantined(ctx, "hokuto", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 1 || !bytes.Equal(q[0].Payload, garbled) || !strings.Contains(q[0].Error, "bad payload") || q[0].Source != "falcon" {
			t.Fatalf("quarantine after malformed JSON = %+v, want the whole body with its reason", q)
		}
		// Valid JSON, but an alert without composite_id.
		shapeless := crowdstrike.NewAlert("pc-400", aid("pc-400"))
		if r := e.post(t, "hokuto", shapeless); r.code != http.StatusAccepted {
			t.Fatalf("wrong shape: answer %d %q, want 202 (the shape is triage's to judge)", r.code, r.body)
		}
		quiesce(t, e.App)
		wrong := quarantinedWith(t, e, "no composite_id", 1)
		if !bytes.Equal(wrong.Payload, shapeless) {
			t.Errorf("quarantined payload differs from the one sent")
		}
		n, err := e.App.DB.Requeue(ctx, "hokuto", []int64{wrong.ID})
		if err != nil || n != 1 {
			t.Fatalf("requeue = %d, %v; want 1", n, err)
		}
		quiesce(t, e.App)
		again := quarantinedWith(t, e, "no composite_id", 1)
		if again.ID != wrong.ID {
			t.Errorf("requeued payload came back as inbox row %d, want the same row %d", again.ID, wrong.ID)
		}
		if all, _ := e.App.DB.Quarantined(ctx, "hokuto", 10); len(all) != 2 {
			t.Errorf("quarantine holds %d payloads, want 2: nothing lost, nothing doubled", len(all))
		}
		if n := inboxTotal(t, e.App, "hokuto"); n != 2 {
			t.Errorf("inbox holds %d rows, want 2", n)
		}
		if got := vendorIDs(t, e.App, "hokuto"); len(got) != 0 {
			t.Errorf("bad payloads produced alerts: %v", got)
		}
	})
}

// quarantinedWith returns the one quarantined payload whose reason says why,
// checking that there are n such.
func quarantinedWith(t *testing.T, e *env, why string, n int) sqlstore.InboxItem {
	t.Helper()
	q, err := e.App.DB.Quarantined(context.Background(), "hokuto", 100)
	if err != nil {
		t.Fatal(err)
	}
	found, item := 0, sqlstore.InboxItem{}
	for _, it := range q {
		if strings.Contains(it.Error, why) {
			found, item = found+1, it
		}
	}
	if found != n {
		t.Fatalf("%d quarantined payloads say %q, want %d: %+v", found, why, n, q)
	}
	return item
}

// TestWebhookBusy caps intake memory at one byte: while one request waits
// for its commit, the next is refused with 503 and Retry-After; alone, a
// request still gets through.
func TestWebhookBusy(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)}, func(c *app.Config) { c.MaxInflightBytes = 1 })
		release := holdInbox(t, e.App)
		first := make(chan reply, 1)
		body1 := csAlert("busy:1", "pc-501")
		go func() {
			r, err := send(e.ingest(context.Background(), "hokuto", "falcon", intake.Sign(e.secrets["hokuto"], body1), body1))
			if err != nil {
				r.body = err.Error()
			}
			first <- r
		}()
		waitFor(t, 10*time.Second, func() error {
			if n := e.App.Committer.Inflight(); n == 0 {
				return fmt.Errorf("the first request never reached the committer")
			}
			return nil
		})
		// Admitted by mistake, the second request would wait for the store
		// too: give up on it after a while instead of hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		body2 := csAlert("busy:2", "pc-502")
		r, err := send(e.ingest(ctx, "hokuto", "falcon", intake.Sign(e.secrets["hokuto"], body2), body2))
		switch {
		case err != nil:
			t.Errorf("second request while the first is in flight: %v; want 503 at once (it was admitted past the cap)", err)
		case r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "":
			t.Errorf("second request while the first is in flight: %d (Retry-After %q) %s, want 503 with Retry-After",
				r.code, r.header.Get("Retry-After"), r.body)
		}
		cancel()
		release()
		if r := <-first; r.code != http.StatusAccepted {
			t.Fatalf("first request: %d %q, want 202 once the store is free", r.code, r.body)
		}
		if r := e.post(t, "hokuto", csAlert("busy:3", "pc-503")); r.code != http.StatusAccepted {
			t.Errorf("request alone after the burst: %d %q, want 202", r.code, r.body)
		}
		quiesce(t, e.App)
		if got := vendorIDs(t, e.App, "hokuto"); got["busy:1"] != 1 || got["busy:2"] != 0 || got["busy:3"] != 1 {
			t.Errorf("stored alerts %v, want busy:1 and busy:3 once and the refused busy:2 not at all", got)
		}
		if n := e.App.Committer.Inflight(); n != 0 {
			t.Errorf("committer still counts %d bytes in flight after the burst", n)
		}
	})
}

// holdInbox blocks inserts into the inbox until release is called: SQLite
// by holding its one connection in a write transaction, PostgreSQL by a
// SHARE lock on the table.
func holdInbox(t *testing.T, a *app.App) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := a.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.DB.Dialect().Name == "postgres" {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE inbox IN SHARE MODE`); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// TestAPITenantIsolation checks that the REST API never shows one tenant's
// incident under another tenant's path, and that it wants the token.
func TestAPITenantIsolation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		const token = "s3cret-api-token"
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t), acme(t)}, func(c *app.Config) { c.APIToken = token })
		if r := e.post(t, "hokuto", csAlert("api:h:1", "pc-601")); r.code != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
		if r := e.post(t, "acme", csAlert("api:a:1", "ws-601")); r.code != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
		quiesce(t, e.App)
		h, ac := onlyIncident(t, e.App, "hokuto"), onlyIncident(t, e.App, "acme")
		if h.ID == ac.ID {
			t.Fatalf("both tenants' incidents are %s: the cross-tenant check below would prove nothing", h.ID)
		}
		get := func(method, path, tok string) reply {
			req, err := http.NewRequest(method, e.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			return do(t, req)
		}
		tests := []struct {
			name, method, path, token string
			code                      int
			has, hasNot               string
		}{
			{"own incident", "GET", "/v1/tenants/hokuto/incidents/" + h.ID, token, 200, `"id":"` + h.ID + `"`, "api:a:1"},
			{"other tenant's incident", "GET", "/v1/tenants/acme/incidents/" + h.ID, token, 404, "", "pc-601"},
			{"other tenant's incident by number", "GET", "/v1/tenants/acme/incidents/" + strings.TrimLeft(strings.TrimPrefix(h.ID, "INC-"), "0"), token, 404, "", "pc-601"},
			{"other tenant's list", "GET", "/v1/tenants/acme/incidents", token, 200, ac.ID, h.ID},
			{"approve other tenant's incident", "POST", "/v1/tenants/acme/incidents/" + h.ID + "/approve", token, 404, "", ""},
			{"unknown tenant", "GET", "/v1/tenants/nobody/incidents/" + h.ID, token, 404, "", "pc-601"},
			{"wrong token", "GET", "/v1/tenants/hokuto/incidents/" + h.ID, "wrong", 401, "", "pc-601"},
			{"no token", "GET", "/v1/tenants/hokuto/incidents", "", 401, "", "pc-601"},
		}
		for _, tt := range tests {
			r := get(tt.method, tt.path, tt.token)
			if r.code != tt.code || !strings.Contains(r.body, tt.has) || (tt.hasNot != "" && strings.Contains(r.body, tt.hasNot)) {
				t.Errorf("%s: %s %s = %d %s; want %d containing %q and not %q", tt.name, tt.method, tt.path, r.code, r.body, tt.code, tt.has, tt.hasNot)
			}
		}
	})
}
