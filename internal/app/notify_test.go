package app_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/notify/smtpsink"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// withSink starts an SMTP sink offering STARTTLS and points the App's mail
// at it, trusting only the sink's certificate and demanding TLS.
func withSink(t *testing.T) (*smtpsink.Sink, func(*app.Config)) {
	t.Helper()
	sink, err := smtpsink.Start("127.0.0.1:0", smtpsink.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink, func(c *app.Config) {
		c.Email = notify.EmailConfig{Host: sink.Host(), Port: sink.Port(), From: "soc@bannin.example", TLSPolicy: "mandatory",
			TLSConfig: &tls.Config{RootCAs: sink.RootCAs(), ServerName: sink.Host()}, Timeout: 10 * time.Second}
	}
}

// notifications returns the notifications of a tenant's one incident.
func notifications(t *testing.T, a *app.App, tenantID string) (view.IncidentOut, []*sqlstore.Notification) {
	t.Helper()
	in := onlyIncident(t, a, tenantID)
	id, err := ticket.ParseRef(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := a.DB.IncidentNotifications(context.Background(), tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return in, ns
}

func attempts(t *testing.T, a *app.App, n *sqlstore.Notification) int {
	t.Helper()
	c, err := a.DB.Attempts(context.Background(), n.Tenant, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hasJapanese(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return true
		}
	}
	return false
}

// TestNotifyEmailLanguages sends a high incident of each tenant: mail goes
// over STARTTLS to a real SMTP server, in Japanese for the demo tenant and
// in English for the tenant whose file says language: en.
func TestNotifyEmailLanguages(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		sink, mail := withSink(t)
		e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t), acme(t)}, mail)
		for _, p := range []struct{ tenant, id, host string }{{"hokuto", "mail:h:1", "pc-901"}, {"acme", "mail:a:1", "ws-901"}} {
			if r := e.post(t, p.tenant, csAlert(p.id, p.host, high())); r.code != http.StatusAccepted {
				t.Fatalf("post to %s: %d %s", p.tenant, r.code, r.body)
			}
		}
		if _, err := sink.WaitFor(2, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		quiesce(t, e.App)
		msgs := sink.Messages()
		if len(msgs) != 2 {
			t.Fatalf("sink received %d messages, want 2", len(msgs))
		}
		tests := []struct {
			tenant, to, lang, subject, text string
			japanese                        bool
		}{
			{"hokuto", "it-sec@hokuto.example", "ja", "【番人】", "北斗精機株式会社", true},
			{"acme", "secops@acme.example", "en", "[bannin]", "Acme Manufacturing", false},
		}
		for _, tt := range tests {
			in, ns := notifications(t, e.App, tt.tenant)
			if len(ns) != 1 || ns[0].Channel != "email" || ns[0].State != "sent" || attempts(t, e.App, ns[0]) != 1 {
				t.Errorf("%s: notifications = %+v, want one e-mail, sent at the first attempt", tt.tenant, ns)
			}
			var m *smtpsink.Received
			for i := range msgs {
				if len(msgs[i].To) == 1 && msgs[i].To[0] == tt.to {
					m = &msgs[i]
				}
			}
			if m == nil {
				t.Errorf("%s: no mail to %s among %d messages", tt.tenant, tt.to, len(msgs))
				continue
			}
			if !m.TLS || m.ParseErr != nil {
				t.Errorf("%s: mail came over TLS %v, parse error %v; want STARTTLS and a well-formed message", tt.tenant, m.TLS, m.ParseErr)
			}
			if got := m.Header.Get("Content-Language"); got != tt.lang {
				t.Errorf("%s: Content-Language %q, want %q", tt.tenant, got, tt.lang)
			}
			if got := m.Header.Get(notify.IncidentHeader); got != in.ID {
				t.Errorf("%s: %s header %q, want %s", tt.tenant, notify.IncidentHeader, got, in.ID)
			}
			if !strings.Contains(m.Subject, tt.subject) || !strings.Contains(m.Subject, in.ID) && !strings.Contains(m.Text, in.ID) {
				t.Errorf("%s: subject %q, want it marked %q and the incident %s in the mail", tt.tenant, m.Subject, tt.subject, in.ID)
			}
			if !strings.Contains(m.Text, tt.text) || hasJapanese(m.Subject+m.Text) != tt.japanese {
				t.Errorf("%s: mail in the wrong language (want %s, naming %q):\n%s\n%s", tt.tenant, tt.lang, tt.text, m.Subject, m.Text)
			}
		}
	})
}

// TestNotifyRefusals makes the relay refuse the recipient: a permanent 550
// fails the notification at once with its attempt recorded; a temporary 451
// is retried and the mail then sent.
func TestNotifyRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		code     int
		state    string
		attempts int
		mails    int
		detail   string
	}{
		{"550 no such user", 550, "failed", 1, 0, "550"},
		{"451 greylisted", 451, "sent", 2, 1, "250"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b backend) {
				sink, mail := withSink(t)
				sink.RefuseNext(1, tt.code, "refused by the test")
				e := start(t, b.fresh(t), []*tenant.Tenant{hokuto(t)}, mail)
				if r := e.post(t, "hokuto", csAlert("refuse:1", "pc-950", high())); r.code != http.StatusAccepted {
					t.Fatalf("post: %d %s", r.code, r.body)
				}
				quiesce(t, e.App)
				_, ns := notifications(t, e.App, "hokuto")
				if len(ns) != 1 {
					t.Fatalf("notifications = %+v, want one", ns)
				}
				n := ns[0]
				if n.State != tt.state || n.Attempts != tt.attempts || !strings.Contains(n.Detail, tt.detail) {
					t.Errorf("notification %s after %d attempts (%q), want %s after %d mentioning %q",
						n.State, n.Attempts, n.Detail, tt.state, tt.attempts, tt.detail)
				}
				if got := attempts(t, e.App, n); got != tt.attempts {
					t.Errorf("%d attempts recorded, want %d", got, tt.attempts)
				}
				if got := len(sink.Messages()); got != tt.mails {
					t.Errorf("sink received %d messages, want %d", got, tt.mails)
				}
			})
		})
	}
}
