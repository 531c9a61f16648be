package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder is an httptest server that answers with a fixed status and
// headers and keeps every request it got.
type recorder struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	header http.Header
	body   []byte
}

func newRecorder(t *testing.T, status int, header http.Header, body string) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{header: req.Header.Clone(), body: b})
		r.mu.Unlock()
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// fixedNow is the injected clock: receipts and HTTP-date Retry-After are
// computed from it, never from the wall clock.
var fixedNow = time.Date(2026, 3, 10, 2, 15, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

// statusCases are the answers every webhook channel must classify alike.
var statusCases = []struct {
	name       string
	status     int
	header     http.Header
	wantErr    bool
	permanent  bool
	retryAfter time.Duration // -1: no RetryAfterError
}{
	{"200 is delivered", 200, nil, false, false, -1},
	{"204 is delivered", 204, nil, false, false, -1},
	{"400 is permanent", 400, nil, true, true, -1},
	{"404 is permanent", 404, nil, true, true, -1},
	{"429 with seconds", 429, http.Header{"Retry-After": {"30"}}, true, false, 30 * time.Second},
	{"429 without Retry-After", 429, nil, true, false, -1},
	{"503 with an HTTP date", 503, http.Header{"Retry-After": {fixedNow.Add(2 * time.Minute).Format(http.TimeFormat)}}, true, false, 2 * time.Minute},
	{"500 is retryable", 500, nil, true, false, -1},
	{"408 is retryable", 408, nil, true, false, -1},
}

func checkStatus(t *testing.T, rc Receipt, err error, wantErr, permanent bool, retryAfter time.Duration, status int) {
	t.Helper()
	if !wantErr {
		if err != nil {
			t.Fatal(err)
		}
		if !rc.At.Equal(fixedNow) || !strings.HasPrefix(rc.Detail, "HTTP ") {
			t.Errorf("receipt = %+v", rc)
		}
		return
	}
	if err == nil {
		t.Fatal("no error")
	}
	if IsPermanent(err) != permanent {
		t.Errorf("IsPermanent = %v, want %v: %v", IsPermanent(err), permanent, err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != status {
		t.Errorf("error %v does not carry status %d", err, status)
	}
	d, ok := RetryAfter(err)
	if retryAfter < 0 {
		if ok {
			t.Errorf("unexpected RetryAfterError(%s)", d)
		}
	} else if !ok || d != retryAfter {
		t.Errorf("RetryAfter = %s, %v; want %s", d, ok, retryAfter)
	}
}

func TestSlackStatuses(t *testing.T) {
	m, err := Render(sampleNotice("ja"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range statusCases {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.status, tt.header, "ok")
			s := NewSlack().WithClient(rec.srv.Client()).WithClock(clock)
			rc, err := s.Send(context.Background(), Address{SlackWebhook: rec.srv.URL + "/services/T0/B0/secret"}, m)
			checkStatus(t, rc, err, tt.wantErr, tt.permanent, tt.retryAfter, tt.status)
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error reveals the webhook URL: %v", err)
			}
		})
	}
}

func TestSlackPayload(t *testing.T) {
	rec := newRecorder(t, 200, nil, "ok")
	s := NewSlack().WithClient(rec.srv.Client()).WithClock(clock)
	n := sampleNotice("en")
	n.Hosts = []string{"<!channel>&co"} // must reach Slack as text, not as a mention
	m, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.Send(context.Background(), Address{SlackWebhook: rec.srv.URL}, m)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Detail != "HTTP 200 ok" {
		t.Errorf("detail = %q", rc.Detail)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	var got slackPayload
	if err := json.Unmarshal(reqs[0].body, &got); err != nil {
		t.Fatal(err)
	}
	wantText := strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(m.Short)
	want := slackPayload{
		Text: wantText,
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: m.Subject}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: wantText}},
			{Type: "context", Elements: []any{map[string]any{"type": "mrkdwn", "text": "`INC-20260310-0007` · <https://soc.example.jp/incidents/INC-20260310-0007>"}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if strings.Contains(got.Text, "<!channel>") {
		t.Error("host name reached Slack unescaped")
	}
}

// TestSlackAckButton: a notice with an acknowledgement link gets a button
// that opens it and carries its token for a Slack app's interactivity, in
// the notice's language.
func TestSlackAckButton(t *testing.T) {
	for lang, label := range map[string]string{"en": "Acknowledge", "ja": "確認済みにする"} {
		n := sampleNotice(lang)
		n.AckURL = "https://soc.example/v1/ack?t=abc.def"
		m, err := Render(n)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(slackMessage(m))
		var got struct {
			Blocks []struct {
				Type     string `json:"type"`
				Elements []struct {
					Type, Value, URL string
					ActionID         string `json:"action_id"`
					Text             any
				} `json:"elements"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		last := got.Blocks[len(got.Blocks)-1]
		if last.Type != "actions" || len(last.Elements) != 1 {
			t.Fatalf("%s: last block %+v, want one actions button", lang, last)
		}
		e := last.Elements[0]
		if e.Type != "button" || e.ActionID != SlackAckAction || e.Value != "abc.def" || e.URL != n.AckURL || e.Text.(map[string]any)["text"] != label {
			t.Errorf("%s: button %+v", lang, e)
		}
	}
}

func TestSlackRefusesBeforeSending(t *testing.T) {
	s := NewSlack()
	for _, to := range []Address{{Name: "no webhook"}, {SlackWebhook: "ftp://hooks.example/x"}, {SlackWebhook: "::"}} {
		if _, err := s.Send(context.Background(), to, Message{Short: "x"}); !IsPermanent(err) {
			t.Errorf("to %+v: err = %v, want permanent", to, err)
		}
	}
}

func TestPhoneStatuses(t *testing.T) {
	m, err := Render(sampleNotice("ja"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range statusCases {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.status, tt.header, `{"call":"queued"}`)
			p := NewPhone(rec.srv.URL, nil).WithClient(rec.srv.Client()).WithClock(clock)
			rc, err := p.Send(context.Background(), Address{Phone: "+81-3-5555-0100"}, m)
			checkStatus(t, rc, err, tt.wantErr, tt.permanent, tt.retryAfter, tt.status)
		})
	}
}

func TestPhoneRequestAndSignature(t *testing.T) {
	secret := []byte("hokuto-phone-secret")
	tests := []struct {
		name   string
		secret []byte
	}{
		{"signed", secret},
		{"unsigned", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, 202, nil, "")
			p := NewPhone(rec.srv.URL, tt.secret).WithClient(rec.srv.Client()).WithClock(clock)
			m, err := Render(sampleNotice("ja"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Send(context.Background(), Address{Phone: "+81-3-5555-0100", Name: "CSO"}, m); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			var got PhoneRequest
			if err := json.Unmarshal(reqs[0].body, &got); err != nil {
				t.Fatal(err)
			}
			want := PhoneRequest{To: "+81-3-5555-0100", Message: m.Short, Language: "ja", Incident: "INC-20260310-0007"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			sig := reqs[0].header.Get(SignatureHeader)
			if tt.secret == nil {
				if sig != "" {
					t.Errorf("unsigned request carries %s: %q", SignatureHeader, sig)
				}
				return
			}
			// Verify as a receiver would: recompute over the raw body.
			if !hmac.Equal([]byte(sig), []byte(Sign(tt.secret, reqs[0].body))) {
				t.Errorf("signature %q does not verify", sig)
			}
			if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
				t.Errorf("signature %q is not sha256=<64 hex>", sig)
			}
			if hmac.Equal([]byte(sig), []byte(Sign([]byte("other"), reqs[0].body))) {
				t.Error("signature verifies under another secret")
			}
		})
	}
}

// TestSign pins the signature to an independently computed value
// (printf %s '{"a":1}' | openssl dgst -sha256 -hmac key), so a change of
// algorithm or encoding cannot pass unnoticed.
func TestSign(t *testing.T) {
	const want = "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"
	if got := Sign([]byte("key"), []byte(`{"a":1}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestPhoneRefusesBadNumbers(t *testing.T) {
	rec := newRecorder(t, 200, nil, "")
	p := NewPhone(rec.srv.URL, nil).WithClient(rec.srv.Client())
	for _, num := range []string{"", "call me", "+81", "+81-3-5555-0100; rm -rf"} {
		if _, err := p.Send(context.Background(), Address{Phone: num}, Message{Short: "x"}); !IsPermanent(err) {
			t.Errorf("number %q: err = %v, want permanent", num, err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent for bad numbers", n)
	}
}

func TestWebhookUnreachableIsRetryable(t *testing.T) {
	rec := newRecorder(t, 200, nil, "")
	url := rec.srv.URL
	rec.srv.Close()
	_, err := NewPhone(url, nil).Send(context.Background(), Address{Phone: "+81-3-5555-0100"}, Message{Short: "x"})
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"-5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{fixedNow.Add(-time.Hour).Format(http.TimeFormat), 0, true}, // past date: now
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, fixedNow)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
