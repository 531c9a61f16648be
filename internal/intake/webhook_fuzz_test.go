package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

var fuzzSecret = []byte("fuzz-webhook-secret")

// oneSource knows tenant "t1" with the webhook source "s1".
type oneSource struct{}

func (oneSource) Source(tenant, source string) (intake.SourceInfo, error) {
	if tenant != "t1" || source != "s1" {
		return intake.SourceInfo{}, intake.ErrUnknown
	}
	return intake.SourceInfo{Vendor: "fuzz", Secret: fuzzSecret}, nil
}

// recorder is an Acceptor that keeps what it was given.
type recorder struct {
	mu    sync.Mutex
	items []sqlstore.InboxItem
}

func (r *recorder) Accept(_ context.Context, items []sqlstore.InboxItem, _ []sqlstore.Cursor) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, items...)
	return nil
}

func (r *recorder) take() []sqlstore.InboxItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.items
	r.items = nil
	return out
}

// serve sends body to the webhook with the signature header sig.
func serve(t *testing.T, h http.Handler, sig string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/ingest/t1/s1", bytes.NewReader(body))
	req.SetPathValue("tenant", "t1")
	req.SetPathValue("source", "s1")
	if sig != "" {
		req.Header.Set(intake.SignatureHeader, sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// FuzzWebhook posts arbitrary, correctly signed bodies. The webhook must
// never panic and answers 202 (every payload stored, each a JSON object;
// broken lines of line-separated bodies quarantined with their reasons, and
// counted), 400 (the whole body quarantined with a reason) or 413; the same body
// signed wrongly is 401 and stores nothing.
func FuzzWebhook(f *testing.F) {
	for _, s := range []string{
		`{"composite_id":"a:1","severity":50}`,
		`[{"composite_id":"a:1"},{"composite_id":"a:2"}]`,
		"{\"a\":1}\n{\"a\":2}\n",
		"{\n  \"a\": [1, {\"b\": null}]\n}{\"c\":\"\\u00e9\"}",
		``, ` `, `[]`, `[1]`, `null`, `"str"`, `{`, `}`, `[{}`, `{"a":1} 2`, `{"a":1}]`,
		"\xef\xbb\xbf{}", "{\"a\":\"\xff\"}", `[[[[[[[[[[{}]]]]]]]]]]`, `{"a":1}garbage`,
	} {
		f.Add([]byte(s))
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	c := intake.NewCommitter(ctx, rec, intake.CommitterOptions{Logger: log})
	h := &intake.Webhook{Dir: oneSource{}, Committer: c, Clock: func() time.Time { return time.Unix(1e9, 0) }, Log: log}

	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(t, h, intake.Sign(fuzzSecret, body), body)
		items := rec.take()
		switch w.Code {
		case http.StatusAccepted:
			var got struct {
				Accepted    int
				Quarantined []string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Accepted+len(got.Quarantined) != len(items) || (len(got.Quarantined) > 0 && got.Accepted == 0) {
				t.Fatalf("202 says %q, but %d rows were stored", w.Body, len(items))
			}
			for i, it := range items {
				if it.State == sqlstore.InboxQuarantined {
					if it.Error == "" || !bytes.Contains(body, it.Payload) {
						t.Fatalf("quarantined line %d stored as %+v, want its bytes with a reason", i, it)
					}
					continue
				}
				if it.State != "" || it.Tenant != "t1" || it.Source != "s1" || !isObject(it.Payload) {
					t.Fatalf("payload %d stored as %+v (%q), want a pending JSON object of t1/s1", i, it, it.Payload)
				}
			}
		case http.StatusBadRequest:
			if len(items) != 1 || items[0].State != sqlstore.InboxQuarantined || items[0].Error == "" || !bytes.Equal(items[0].Payload, body) {
				t.Fatalf("400 stored %+v, want the whole body quarantined with a reason", items)
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= intake.MaxBodyBytes || len(items) != 0 {
				t.Fatalf("413 for %d bytes, %d stored", len(body), len(items))
			}
		default:
			t.Fatalf("answer %d %q, want 202, 400 or 413", w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q, want application/json", ct)
		}

		bad := serve(t, h, intake.Sign([]byte("wrong"), body), body)
		if stored := rec.take(); (bad.Code != http.StatusUnauthorized && bad.Code != http.StatusRequestEntityTooLarge) || len(stored) != 0 {
			t.Fatalf("wrong signature: answer %d, %d payloads stored; want 401 and nothing", bad.Code, len(stored))
		}
	})
}

// isObject reports whether p is one JSON object.
func isObject(p []byte) bool {
	p = bytes.TrimSpace(p)
	if len(p) == 0 || p[0] != '{' || !json.Valid(p) {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(p, &m) == nil
}

// TestWebhookBodyLimit sends a signed body one byte over the limit.
func TestWebhookBodyLimit(t *testing.T) {
	rec := &recorder{}
	log := slog.New(slog.DiscardHandler)
	c := intake.NewCommitter(t.Context(), rec, intake.CommitterOptions{Logger: log})
	h := &intake.Webhook{Dir: oneSource{}, Committer: c, Clock: time.Now, Log: log}
	for _, tt := range []struct {
		size int
		code int
	}{{intake.MaxBodyBytes + 1, http.StatusRequestEntityTooLarge}, {intake.MaxBodyBytes, http.StatusBadRequest}} {
		body := bytes.Repeat([]byte("x"), tt.size)
		w := serve(t, h, intake.Sign(fuzzSecret, body), body)
		if w.Code != tt.code {
			t.Errorf("%d bytes: answer %d, want %d", tt.size, w.Code, tt.code)
		}
		if b, _ := io.ReadAll(w.Body); !json.Valid(b) {
			t.Errorf("%d bytes: answer body %q is not JSON", tt.size, b)
		}
	}
	if n := len(rec.take()); n != 1 {
		t.Errorf("%d payloads stored, want 1 (the body at the limit, quarantined)", n)
	}
}
