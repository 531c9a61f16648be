package smtpsink

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/japanese"
)

// waitTimeout is a ceiling for a hung test, never a delay.
const waitTimeout = 10 * time.Second

func start(t *testing.T, opts Options) *Sink {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// send delivers raw over a fresh connection, with STARTTLS when tlsConfig
// is set and AUTH PLAIN when user is.
func send(t *testing.T, s *Sink, tlsConfig *tls.Config, user, pass string, raw string) error {
	t.Helper()
	var (
		c   *smtp.Client
		err error
	)
	if tlsConfig != nil {
		c, err = smtp.DialStartTLS(s.Addr(), tlsConfig)
	} else {
		c, err = smtp.Dial(s.Addr())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			return err
		}
	}
	if err := c.SendMail("soc@bannin.example", []string{"it@hokuto.example"}, strings.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestDecoding(t *testing.T) {
	jis, err := japanese.ISO2022JP.NewEncoder().String("番人からのお知らせ")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		raw                string
		subject, text, htm string
	}{
		{
			name:    "plain ascii",
			raw:     "Subject: hello\nContent-Type: text/plain\n\nline one\nline two\n",
			subject: "hello", text: "line one\nline two\n",
		},
		{
			name:    "utf-8 Q subject, quoted-printable body",
			raw:     "Subject: =?UTF-8?q?=E7=95=AA=E4=BA=BA?= test\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n=E6=A4=9C=E7=9F=A5=E3=81=97=E3=81=BE=E3=81=97=E3=81=9F=\n=E3=80=82\n",
			subject: "番人 test", text: "検知しました。\n",
		},
		{
			name: "ISO-2022-JP subject and body",
			raw: "Subject: =?ISO-2022-JP?B?" + base64.StdEncoding.EncodeToString([]byte(jis)) + "?=\n" +
				"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n" + jis + "\n",
			subject: "番人からのお知らせ", text: "番人からのお知らせ\n",
		},
		{
			name: "multipart/alternative in base64",
			raw: "Subject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("【番人】通知")) + "?=\n" +
				"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n" +
				"--XX\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n" +
				base64.StdEncoding.EncodeToString([]byte("本文です")) + "\n" +
				"--XX\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n" +
				base64.StdEncoding.EncodeToString([]byte("<p>本文です</p>")) + "\n--XX--\n",
			subject: "【番人】通知", text: "本文です", htm: "<p>本文です</p>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			if err := send(t, s, nil, "", "", crlf(tt.raw)); err != nil {
				t.Fatal(err)
			}
			got, err := s.WaitFor(1, waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			r := got[0]
			if r.ParseErr != nil {
				t.Fatal(r.ParseErr)
			}
			if r.Subject != tt.subject || r.Text != tt.text || r.HTML != tt.htm {
				t.Errorf("got subject %q text %q html %q\nwant subject %q text %q html %q", r.Subject, r.Text, r.HTML, tt.subject, tt.text, tt.htm)
			}
			if r.From != "soc@bannin.example" || len(r.To) != 1 || r.To[0] != "it@hokuto.example" || r.TLS {
				t.Errorf("envelope %q → %v, TLS %v", r.From, r.To, r.TLS)
			}
			if !bytes.Equal(r.Raw, []byte(crlf(tt.raw))) {
				t.Errorf("raw differs:\n%q", r.Raw)
			}
		})
	}
}

func TestStartTLS(t *testing.T) {
	s := start(t, Options{TLS: true})
	if s.RootCAs() == nil {
		t.Fatal("no RootCAs with TLS on")
	}
	// Verifies the certificate for 127.0.0.1 against RootCAs.
	if err := send(t, s, &tls.Config{RootCAs: s.RootCAs(), ServerName: s.Host()}, "", "", crlf("Subject: x\n\nbody\n")); err != nil {
		t.Fatal(err)
	}
	if err := send(t, s, nil, "", "", crlf("Subject: y\n\nbody\n")); err != nil {
		t.Fatal(err)
	}
	got, err := s.WaitFor(2, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].TLS || got[1].TLS {
		t.Errorf("TLS flags = %v, %v; want true, false", got[0].TLS, got[1].TLS)
	}
	if start(t, Options{}).RootCAs() != nil {
		t.Error("RootCAs without TLS")
	}
}

func TestRefusals(t *testing.T) {
	s := start(t, Options{})
	s.RefuseNext(2, 550, "no such user")
	raw := crlf("Subject: x\n\nbody\n")
	for i := range 2 {
		err := send(t, s, nil, "", "", raw)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 || !strings.Contains(se.Message, "no such user") {
			t.Fatalf("attempt %d: err = %v, want 550 no such user", i+1, err)
		}
	}
	s.RefuseNextData(1, 451, "try later")
	err := send(t, s, nil, "", "", raw)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("DATA refusal: err = %v, want 451", err)
	}
	if err := send(t, s, nil, "", "", raw); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages stored, want only the accepted one", n)
	}
}

func TestAuth(t *testing.T) {
	s := start(t, Options{TLS: true, Username: "bannin", Password: "pw"})
	tc := &tls.Config{RootCAs: s.RootCAs(), ServerName: s.Host()}
	raw := crlf("Subject: x\n\nbody\n")
	var se *smtp.SMTPError
	if err := send(t, s, tc, "", "", raw); !errors.As(err, &se) || se.Code != 502 {
		t.Errorf("without AUTH: err = %v, want 502", err)
	}
	if err := send(t, s, tc, "bannin", "nope", raw); !errors.As(err, &se) || se.Code != 535 {
		t.Errorf("wrong password: err = %v, want 535", err)
	}
	if err := send(t, s, tc, "bannin", "pw", raw); err != nil {
		t.Fatal(err)
	}
	got, err := s.WaitFor(1, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].User != "bannin" {
		t.Errorf("user = %q", got[0].User)
	}
}

func TestDirAndClock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	at := time.Date(2026, 3, 10, 2, 15, 0, 0, time.UTC)
	s := start(t, Options{Dir: dir, Now: func() time.Time { return at }})
	raw := crlf("Subject: x\n\nbody\n")
	if err := send(t, s, nil, "", "", raw); err != nil {
		t.Fatal(err)
	}
	got, err := s.WaitFor(1, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].At.Equal(at) {
		t.Errorf("At = %v, want the injected clock's %v", got[0].At, at)
	}
	b, err := os.ReadFile(filepath.Join(dir, "000001.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != raw {
		t.Errorf(".eml = %q", b)
	}
}

func TestWaitForAndClose(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.WaitFor(1, time.Millisecond); err == nil {
		t.Error("WaitFor returned without a message")
	}
	done := make(chan []Received)
	go func() {
		got, _ := s.WaitFor(1, waitTimeout)
		done <- got
	}()
	if err := send(t, s, nil, "", "", crlf("Subject: late\n\nbody\n")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; len(got) != 1 || got[0].Subject != "late" {
		t.Errorf("waiter got %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := smtp.Dial(s.Addr()); err == nil {
		t.Error("sink still accepts connections after Close")
	}
}
