package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// fakeSink commits a whole batch or nothing, like a database transaction.
type fakeSink struct {
	mu     sync.Mutex
	fail   error
	stored []stored
}

type stored struct {
	tenant, source string
	payload        []byte
}

func (s *fakeSink) Accept(_ context.Context, tenant, source string, payloads [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, p := range payloads {
		s.stored = append(s.stored, stored{tenant, source, p})
	}
	return nil
}

func (s *fakeSink) all() []stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stored(nil), s.stored...)
}

func (s *fakeSink) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

var testClock = time.Date(2026, 10, 20, 5, 5, 41, 123456789, time.UTC)

func testRoutes() map[string]Route {
	return map[string]Route{
		"SOC+acme@bannin.example":   {Tenant: "acme", Source: "mail", AllowedSenders: []string{"@acme.example.co.jp", "fireeye@nx01.example.co.jp"}},
		"soc+acme-2@bannin.example": {Tenant: "acme", Source: "mail", AllowedSenders: []string{"@acme.example.co.jp"}},
		"soc+globex@bannin.example": {Tenant: "globex", Source: "mail", AllowedSenders: []string{"av@globex.example"}},
	}
}

// startListener serves cfg (with test routes and a fake sink unless set)
// on a free local port and returns its address.
func startListener(t *testing.T, cfg Config) (*Listener, string, *fakeSink) {
	t.Helper()
	sink := &fakeSink{}
	if cfg.Sink == nil {
		cfg.Sink = sink
	}
	if cfg.Routes == nil {
		cfg.Routes = testRoutes()
	}
	cfg.Clock = func() time.Time { return testClock }
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.ReadTimeout, cfg.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := NewListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); l.Serve(ln) }()
	t.Cleanup(func() { l.Close(); <-done })
	return l, ln.Addr().String(), sink
}

// smtpCode returns the SMTP reply code and enhanced code of err, or 250 for nil.
func smtpCode(t *testing.T, err error) (int, smtp.EnhancedCode) {
	t.Helper()
	if err == nil {
		return 250, smtp.EnhancedCode{2, 0, 0}
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("not an SMTP reply: %v", err)
	}
	return se.Code, se.EnhancedCode
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestListenerReplies(t *testing.T) {
	trend := readTestdata(t, "trend-ja-iso2022jp.eml")
	forged := []byte(strings.Replace(string(trend), "From: ApexOne <apexone@acme.example.co.jp>", "From: ApexOne <apexone@evil.example>", 1))
	tests := []struct {
		name       string
		from       string
		to         []string
		msg        []byte
		maxBytes   int64
		wantCode   int
		wantEnh    smtp.EnhancedCode
		wantStored int
		wantReason string
	}{
		{"accepted", "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example"}, trend, 0, 250, smtp.EnhancedCode{2, 0, 0}, 1, ""},
		{"From with an ISO-2022-JP display name", "vbcorp@acme.example.co.jp", []string{"soc+acme@bannin.example"}, readTestdata(t, "virusbuster-ja-base64.eml"), 0, 250, smtp.EnhancedCode{2, 0, 0}, 1, ""},
		{"recipient in other case", "ApexOne@ACME.example.co.jp", []string{"SOC+ACME@Bannin.Example"}, trend, 0, 250, smtp.EnhancedCode{2, 0, 0}, 1, ""},
		{"two recipients of one tenant stored once", "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example", "soc+acme-2@bannin.example"}, trend, 0, 250, smtp.EnhancedCode{2, 0, 0}, 1, ""},
		{"unknown recipient", "apexone@acme.example.co.jp", []string{"nobody@bannin.example"}, trend, 0, 550, smtp.EnhancedCode{5, 1, 1}, 0, ReasonUnknownRcpt},
		{"envelope sender not allowed", "x@evil.example", []string{"soc+acme@bannin.example"}, trend, 0, 550, smtp.EnhancedCode{5, 7, 1}, 0, ReasonSender},
		{"sender of another tenant", "av@globex.example", []string{"soc+acme@bannin.example"}, trend, 0, 550, smtp.EnhancedCode{5, 7, 1}, 0, ReasonSender},
		{"header From not allowed", "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example"}, forged, 0, 550, smtp.EnhancedCode{5, 7, 1}, 0, ReasonHeaderFrom},
		{"oversize", "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example"}, trend, 256, 552, smtp.EnhancedCode{5, 3, 4}, 0, ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, addr, sink := startListener(t, Config{MaxMessageBytes: tt.maxBytes})
			err := Send(ctx(t), addr, tt.from, tt.to, tt.msg)
			code, enh := smtpCode(t, err)
			if code != tt.wantCode || enh != tt.wantEnh {
				t.Fatalf("reply %d %v (%v), want %d %v", code, enh, err, tt.wantCode, tt.wantEnh)
			}
			if got := len(sink.all()); got != tt.wantStored {
				t.Errorf("sink holds %d payloads, want %d", got, tt.wantStored)
			}
			st := l.Stats()
			if tt.wantReason != "" && st.Rejected[tt.wantReason] != 1 {
				t.Errorf("rejections %v, want one %s", st.Rejected, tt.wantReason)
			}
			if wantAcc := int64(tt.wantStored); st.Accepted != wantAcc {
				t.Errorf("accepted %d, want %d", st.Accepted, wantAcc)
			}
		})
	}
}

func TestListenerMessageNamesWhatToFix(t *testing.T) {
	_, addr, _ := startListener(t, Config{})
	err := Send(ctx(t), addr, "x@evil.example", []string{"soc+acme@bannin.example"}, readTestdata(t, "trend-ja-iso2022jp.eml"))
	if err == nil || !strings.Contains(err.Error(), "x@evil.example") || !strings.Contains(err.Error(), "allow-list") {
		t.Fatalf("rejection should name the sender and the allow-list: %v", err)
	}
}

// TestListenerEnvelope checks the stored payload: the JSON envelope with
// the raw message, which the decoder reads back.
func TestListenerEnvelope(t *testing.T) {
	_, addr, sink := startListener(t, Config{})
	msg := readTestdata(t, "trend-ja-iso2022jp.eml")
	if err := Send(ctx(t), addr, "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example"}, msg); err != nil {
		t.Fatal(err)
	}
	got := sink.all()
	if len(got) != 1 || got[0].tenant != "acme" || got[0].source != "mail" {
		t.Fatalf("stored %+v, want one payload for acme/mail", got)
	}
	var env struct {
		Received string `json:"received"`
		Peer     string `json:"peer"`
		MailFrom string `json:"mail_from"`
		Rcpt     string `json:"rcpt"`
		Message  []byte `json:"message"`
	}
	if err := json.Unmarshal(got[0].payload, &env); err != nil {
		t.Fatal(err)
	}
	if env.Received != "2026-10-20T05:05:41.123456789Z" || env.MailFrom != "apexone@acme.example.co.jp" ||
		env.Rcpt != "soc+acme@bannin.example" || !strings.HasPrefix(env.Peer, "127.0.0.1:") {
		t.Errorf("envelope %+v", env)
	}
	// SMTP sends CRLF; the message is otherwise what was sent.
	if strings.ReplaceAll(string(env.Message), "\r\n", "\n") != strings.ReplaceAll(string(msg), "\r\n", "\n") {
		t.Errorf("stored message differs from the sent one")
	}
	a := decodeOne(t, got[0].payload)
	if a.Host.Name != "経理部-PC05" || !a.Received.Equal(testClock) {
		t.Errorf("decoded host %q received %v", a.Host.Name, a.Received)
	}
}

// TestListenerSinkFailure: a sink error is a temporary failure, nothing is
// stored, and the sender's retry is stored exactly once.
func TestListenerSinkFailure(t *testing.T) {
	l, addr, sink := startListener(t, Config{})
	msg := readTestdata(t, "fireeye-nx-text.eml")
	sink.setFail(errors.New("database is locked"))
	err := Send(ctx(t), addr, "fireeye@nx01.example.co.jp", []string{"soc+acme@bannin.example"}, msg)
	if code, enh := smtpCode(t, err); code != 451 || enh != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("reply %d %v, want 451 4.3.0", code, enh)
	}
	if strings.Contains(err.Error(), "database is locked") {
		t.Errorf("the sender learns the internal cause: %v", err)
	}
	if n := len(sink.all()); n != 0 {
		t.Fatalf("%d payloads stored after a failed accept", n)
	}
	sink.setFail(nil)
	if err := Send(ctx(t), addr, "fireeye@nx01.example.co.jp", []string{"soc+acme@bannin.example"}, msg); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(sink.all()); n != 1 {
		t.Fatalf("%d payloads stored after the retry, want 1", n)
	}
	if st := l.Stats(); st.Accepted != 1 || st.Rejected[ReasonSink] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestListenerOtherTenantRecipient: a recipient of a second tenant in the
// same transaction is deferred (451 4.5.3) so that each tenant's copy is
// stored by its own transaction; the first tenant's copy is stored.
func TestListenerOtherTenantRecipient(t *testing.T) {
	_, addr, sink := startListener(t, Config{})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("apexone@acme.example.co.jp", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("soc+acme@bannin.example", nil); err != nil {
		t.Fatal(err)
	}
	code, enh := smtpCode(t, c.Rcpt("soc+globex@bannin.example", nil))
	if code != 451 || enh != (smtp.EnhancedCode{4, 5, 3}) {
		t.Fatalf("second tenant's recipient: %d %v, want 451 4.5.3", code, enh)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(readTestdata(t, "trend-ja-iso2022jp.eml"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sink.all(); len(got) != 1 || got[0].tenant != "acme" {
		t.Fatalf("stored %+v, want acme's copy only", got)
	}
}

func TestListenerPeerNotAllowed(t *testing.T) {
	l, addr, sink := startListener(t, Config{AllowedPeers: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	err := Send(ctx(t), addr, "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example"}, readTestdata(t, "trend-ja-iso2022jp.eml"))
	if code, _ := smtpCode(t, err); code != 554 {
		t.Fatalf("reply %d (%v), want 554", code, err)
	}
	if len(sink.all()) != 0 || l.Stats().Rejected[ReasonPeer] != 1 {
		t.Errorf("stored %d, stats %+v", len(sink.all()), l.Stats())
	}
}

func TestListenerPeerAllowed(t *testing.T) {
	_, addr, sink := startListener(t, Config{AllowedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err := Send(ctx(t), addr, "apexone@acme.example.co.jp", []string{"soc+acme@bannin.example"}, readTestdata(t, "trend-ja-iso2022jp.eml")); err != nil {
		t.Fatal(err)
	}
	if len(sink.all()) != 1 {
		t.Fatal("not stored")
	}
}

func TestListenerSTARTTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	_, addr, sink := startListener(t, Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	c, err := smtp.DialStartTLS(addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	msg := readTestdata(t, "fireeye-nx-json.eml")
	if err := c.SendMail("fireeye@nx01.example.co.jp", []string{"soc+acme@bannin.example"}, strings.NewReader(string(msg))); err != nil {
		t.Fatal(err)
	}
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("the mail did not travel under TLS")
	}
	if got := sink.all(); len(got) != 1 {
		t.Fatalf("stored %d, want 1", len(got))
	}
	if a := decodeOne(t, sink.all()[0].payload); a.Rule != "fireeye:malware-callback:Trojan.Gootkit" {
		t.Errorf("decoded rule %q", a.Rule)
	}
}

func TestNewListenerChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no sink", Config{Routes: testRoutes()}},
		{"no routes", Config{Sink: &fakeSink{}}},
		{"route without senders", Config{Sink: &fakeSink{}, Routes: map[string]Route{"a@b": {Tenant: "t"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewListener(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestSenderAllowed(t *testing.T) {
	allowed := []string{"@acme.example.co.jp", "Alerts@FireEye.example"}
	tests := []struct {
		addr string
		want bool
	}{
		{"apexone@acme.example.co.jp", true},
		{"APEXONE@ACME.EXAMPLE.CO.JP", true},
		{"alerts@fireeye.example", true},
		{"other@fireeye.example", false},
		{"x@sub.acme.example.co.jp", false},
		{"x@notacme.example.co.jp", false},
		{"acme.example.co.jp", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := senderAllowed(tt.addr, allowed); got != tt.want {
			t.Errorf("senderAllowed(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// selfSigned makes a certificate for localhost and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
