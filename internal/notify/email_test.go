package notify

import (
	"context"
	"crypto/tls"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/notify/smtpsink"
)

// waitTimeout bounds how long a test waits for the sink; it is a ceiling
// for a hung test, never a delay.
const waitTimeout = 10 * time.Second

func startSink(t *testing.T, opts smtpsink.Options) *smtpsink.Sink {
	t.Helper()
	s, err := smtpsink.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sink: %v", err)
		}
	})
	return s
}

func newTestEmail(t *testing.T, s *smtpsink.Sink, mutate func(*EmailConfig)) *Email {
	t.Helper()
	cfg := EmailConfig{
		Host:      s.Host(),
		Port:      s.Port(),
		From:      "番人 SOC <soc@bannin.example>",
		TLSConfig: &tls.Config{RootCAs: s.RootCAs()}, // verify the sink's certificate, do not skip
		Timeout:   waitTimeout,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := NewEmail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEmailDeliversBothLanguages(t *testing.T) {
	wants := map[string][]string{
		"ja": {"fs01", "優先度: P0", "深刻度: 緊急", "■ 推奨対応", "承認してください: bannin incident approve INC-20260310-0007", "隔離の要否: 必要（貴社の承認待ち）"},
		"en": {"fs01", "Priority: P0", "Severity: Emergency", "== What to do ==", "approve the network isolation of fs01, pc-023: bannin incident approve INC-20260310-0007", "Isolation: Needed: awaiting your approval"},
	}
	htmlWants := map[string][]string{
		"ja": {"fs01", ">P0</span>", "<strong>緊急</strong>", "推奨対応</h2>", "承認してください: bannin incident approve INC-20260310-0007", "<strong>必要（貴社の承認待ち）</strong>"},
		"en": {"fs01", ">P0</span>", "<strong>Emergency</strong>", "What to do</h2>", "approve the network isolation of fs01, pc-023: bannin incident approve INC-20260310-0007", "<strong>Needed: awaiting your approval</strong>"},
	}
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			sink := startSink(t, smtpsink.Options{TLS: true})
			e := newTestEmail(t, sink, nil)
			m, err := Render(sampleNotice(lang))
			if err != nil {
				t.Fatal(err)
			}
			rc, err := e.Send(context.Background(), Address{Email: "it-sec@hokuto.example", Name: "情報システム部"}, m)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(rc.Detail, "250") || !strings.Contains(rc.Detail, "queued") {
				t.Errorf("receipt detail = %q, want the server's 250 reply", rc.Detail)
			}
			got, err := sink.WaitFor(1, waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			r := got[0]
			if r.ParseErr != nil {
				t.Fatal(r.ParseErr)
			}
			if r.Subject != m.Subject {
				t.Errorf("subject = %q, want %q", r.Subject, m.Subject)
			}
			if diff := cmp.Diff([]string{"it-sec@hokuto.example"}, r.To); diff != "" || r.From != "soc@bannin.example" {
				t.Errorf("envelope from %q to %v", r.From, r.To)
			}
			if !r.TLS {
				t.Error("message did not use STARTTLS although the sink offered it")
			}
			for _, want := range wants[lang] {
				if !strings.Contains(r.Text, want) {
					t.Errorf("text body lacks %q", want)
				}
			}
			for _, want := range htmlWants[lang] {
				if !strings.Contains(r.HTML, want) {
					t.Errorf("html body lacks %q", want)
				}
			}
			checkHeaders(t, r, lang)
		})
	}
}

func checkHeaders(t *testing.T, r smtpsink.Received, lang string) {
	t.Helper()
	h := r.Header
	if got := h.Get(IncidentHeader); got != "INC-20260310-0007" {
		t.Errorf("%s = %q", IncidentHeader, got)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<INC-20260310-0007.") || !strings.HasSuffix(id, "@bannin.example>") {
		t.Errorf("Message-ID = %q", id)
	}
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "multipart/alternative" {
		t.Errorf("Content-Type = %q, want multipart/alternative", h.Get("Content-Type"))
	}
	if got := h.Get("Content-Language"); got != lang {
		t.Errorf("Content-Language = %q", got)
	}
	if got := h.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	raw := h.Get("Subject")
	if lang == "ja" && !strings.HasPrefix(strings.ToUpper(raw), "=?UTF-8?") {
		t.Errorf("Japanese subject not MIME-encoded: %q", raw)
	}
	if to := h.Get("To"); !strings.Contains(to, "it-sec@hokuto.example") || !strings.HasPrefix(to, "=?") {
		t.Errorf("To = %q, want the encoded display name and the address", to)
	}
}

func TestEmailTLSPolicy(t *testing.T) {
	tests := []struct {
		name      string
		sinkTLS   bool
		policy    string
		wantTLS   bool
		wantError bool
	}{
		{"opportunistic uses STARTTLS when offered", true, "", true, false},
		{"opportunistic sends plain when not offered", false, "opportunistic", false, false},
		{"mandatory refuses a server without STARTTLS", false, "mandatory", false, true},
		{"mandatory with STARTTLS", true, "mandatory", true, false},
		{"none never starts TLS", true, "none", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := startSink(t, smtpsink.Options{TLS: tt.sinkTLS})
			e := newTestEmail(t, sink, func(c *EmailConfig) { c.TLSPolicy = tt.policy })
			m, err := Render(sampleNotice("en"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Send(context.Background(), Address{Email: "it@hokuto.example"}, m)
			if tt.wantError {
				if err == nil || IsPermanent(err) {
					t.Fatalf("err = %v, want a retryable error", err)
				}
				if n := len(sink.Messages()); n != 0 {
					t.Errorf("sink received %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := sink.WaitFor(1, waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].TLS != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", got[0].TLS, tt.wantTLS)
			}
		})
	}
}

func TestEmailUnverifiedCertificateFails(t *testing.T) {
	sink := startSink(t, smtpsink.Options{TLS: true})
	e := newTestEmail(t, sink, func(c *EmailConfig) { c.TLSConfig = &tls.Config{} }) // system roots only
	m, _ := Render(sampleNotice("en"))
	if _, err := e.Send(context.Background(), Address{Email: "it@hokuto.example"}, m); err == nil {
		t.Fatal("sent over STARTTLS to a server whose certificate nobody trusts")
	}
}

func TestEmailRefusals(t *testing.T) {
	tests := []struct {
		name      string
		refuse    func(*smtpsink.Sink)
		permanent bool
		wantCode  string
	}{
		{"550 at RCPT is permanent", func(s *smtpsink.Sink) { s.RefuseNext(1, 550, "no such user") }, true, "550"},
		{"451 at RCPT is retryable", func(s *smtpsink.Sink) { s.RefuseNext(1, 451, "greylisted, try later") }, false, "451"},
		{"554 after DATA is permanent", func(s *smtpsink.Sink) { s.RefuseNextData(1, 554, "rejected by content filter") }, true, "554"},
		{"452 after DATA is retryable", func(s *smtpsink.Sink) { s.RefuseNextData(1, 452, "queue full") }, false, "452"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := startSink(t, smtpsink.Options{})
			e := newTestEmail(t, sink, nil)
			m, err := Render(sampleNotice("ja"))
			if err != nil {
				t.Fatal(err)
			}
			tt.refuse(sink)
			to := Address{Email: "cso@hokuto.example"}
			_, err = e.Send(context.Background(), to, m)
			if err == nil {
				t.Fatal("refused message reported as sent")
			}
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v: %v", IsPermanent(err), tt.permanent, err)
			}
			if !strings.Contains(err.Error(), tt.wantCode) {
				t.Errorf("error %q does not carry the server's code %s", err, tt.wantCode)
			}
			// The refusal was for one attempt only: the retry goes through.
			if _, err := e.Send(context.Background(), to, m); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if _, err := sink.WaitFor(1, waitTimeout); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEmailAuth(t *testing.T) {
	sink := startSink(t, smtpsink.Options{TLS: true, Username: "bannin", Password: "s3cret"})
	m, _ := Render(sampleNotice("en"))
	to := Address{Email: "it@hokuto.example"}

	good := newTestEmail(t, sink, func(c *EmailConfig) { c.Username, c.Password = "bannin", "s3cret" })
	if _, err := good.Send(context.Background(), to, m); err != nil {
		t.Fatal(err)
	}
	got, err := sink.WaitFor(1, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].User != "bannin" || !got[0].TLS {
		t.Errorf("user %q, TLS %v: want AUTH over TLS", got[0].User, got[0].TLS)
	}

	bad := newTestEmail(t, sink, func(c *EmailConfig) { c.Username, c.Password = "bannin", "wrong" })
	if _, err := bad.Send(context.Background(), to, m); !IsPermanent(err) {
		t.Errorf("wrong password: err = %v, want permanent (535)", err)
	}
	anon := newTestEmail(t, sink, nil)
	if _, err := anon.Send(context.Background(), to, m); !IsPermanent(err) {
		t.Errorf("no AUTH: err = %v, want permanent (502 at MAIL FROM)", err)
	}
}

func TestEmailAddressAndConfigErrors(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	e := newTestEmail(t, sink, nil)
	m, _ := Render(sampleNotice("ja"))
	for _, to := range []Address{{Name: "no address"}, {Email: "not an address"}} {
		if _, err := e.Send(context.Background(), to, m); !IsPermanent(err) {
			t.Errorf("to %+v: err = %v, want permanent", to, err)
		}
	}
	if _, err := e.Send(context.Background(), Address{Email: "a@b.example"}, Message{Subject: "x"}); !IsPermanent(err) {
		t.Errorf("empty body: err = %v, want permanent", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("sink received %d messages", n)
	}

	for _, cfg := range []EmailConfig{
		{From: "soc@bannin.example"},
		{Host: "relay", From: "not an address"},
		{Host: "relay", From: "soc@bannin.example", TLSPolicy: "sometimes"},
		{Host: "relay", From: "soc@bannin.example", Port: 70000},
	} {
		if _, err := NewEmail(cfg); err == nil {
			t.Errorf("NewEmail(%+v) accepted a bad configuration", cfg)
		}
	}
}

func TestEmailUnreachableIsRetryable(t *testing.T) {
	sink := startSink(t, smtpsink.Options{})
	e := newTestEmail(t, sink, nil)
	if err := sink.Close(); err != nil { // nothing listens on the port any more
		t.Fatal(err)
	}
	m, _ := Render(sampleNotice("en"))
	_, err := e.Send(context.Background(), Address{Email: "it@hokuto.example"}, m)
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}
