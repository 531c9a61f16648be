// Package smtpsink is a real SMTP server that keeps what it receives in
// memory: the mail relay of `bannin demo` and of tests, so that notification
// mail is checked over the same protocol a customer's relay speaks
// (STARTTLS, AUTH, 4xx/5xx refusals) rather than through a fake sender.
package smtpsink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configures a Sink. The zero value is a plain-text sink that accepts
// everything.
type Options struct {
	// TLS offers STARTTLS with a self-signed certificate made at start;
	// clients verify it with RootCAs.
	TLS bool
	// Dir, when set, also receives each message as <n>.eml.
	Dir string
	// Domain is the name the server greets with; default "localhost".
	Domain string
	// Username and Password, when set, offer AUTH PLAIN (over TLS only, as
	// real relays do) and refuse MAIL FROM without it.
	Username, Password string
	// Now stamps Received.At; default time.Now.
	Now func() time.Time
	// MaxMessageBytes bounds one message; default 10 MiB.
	MaxMessageBytes int64
}

// Received is one message the sink accepted.
type Received struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	Subject string   // decoded from RFC 2047 encoded words
	Text    string   // the first text/plain part, decoded, "\n" line breaks
	HTML    string   // the first text/html part, decoded
	Header  mail.Header
	Raw     []byte
	At      time.Time
	TLS     bool   // the message came over a STARTTLS connection
	User    string // the AUTH user, if any
	// ParseErr is set when the message could not be decoded; Raw still
	// holds it, because a sink that drops odd mail hides bugs.
	ParseErr error
}

// Sink is a running SMTP server. Its methods are safe for concurrent use.
type Sink struct {
	srv   *smtp.Server
	ln    net.Listener
	opts  Options
	roots *x509.CertPool
	done  chan struct{} // closed when Serve has returned

	closeOnce sync.Once
	closeErr  error

	mu         sync.Mutex
	msgs       []Received
	changed    chan struct{} // closed, and replaced, whenever msgs grows
	refuseRcpt refusal
	refuseData refusal
}

// refusal answers the next n commands of one kind with an SMTP error.
type refusal struct {
	n   int
	err *smtp.SMTPError
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves until
// Close.
func Start(addr string, opts Options) (*Sink, error) {
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 10 << 20
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("smtpsink: %w", err)
		}
	}
	s := &Sink{opts: opts, done: make(chan struct{}), changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = opts.Domain
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0) // tests provoke failed handshakes on purpose
	if opts.TLS {
		host, _, _ := net.SplitHostPort(addr)
		cert, roots, err := selfSigned(host)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.roots = roots
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpsink: listen %s: %w", addr, err)
	}
	s.srv, s.ln = srv, ln
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln) // returns when Close closes the listener
	}()
	return s, nil
}

// Addr is the address the sink listens on, "127.0.0.1:52341".
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Host and Port split Addr for configurations that take them apart.
func (s *Sink) Host() string { h, _, _ := net.SplitHostPort(s.Addr()); return h }

// Port is the port the sink listens on.
func (s *Sink) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// RootCAs trusts the sink's self-signed certificate; nil without Options.TLS.
func (s *Sink) RootCAs() *x509.CertPool { return s.roots }

// Close stops the server, drops open connections and waits for it to finish.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		// The server only knows the listener once Serve has run; closing it
		// here too covers a Close that comes first.
		_ = s.ln.Close()
		<-s.done
		if errors.Is(s.closeErr, net.ErrClosed) {
			s.closeErr = nil
		}
	})
	return s.closeErr
}

// Messages returns a copy of what has been received so far, oldest first.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// WaitFor returns the messages once at least n have arrived, or an error
// after timeout. It wakes on each arrival instead of polling on a timer.
func (s *Sink) WaitFor(n int, timeout time.Duration) ([]Received, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			out := slices.Clone(s.msgs)
			s.mu.Unlock()
			return out, nil
		}
		ch, have := s.changed, len(s.msgs)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return nil, fmt.Errorf("smtpsink: %d of %d messages after %s", have, n, timeout)
		}
	}
}

// RefuseNext answers the next n RCPT TO commands with code and msg: 550 for
// a permanent refusal ("no such user"), 451 for a temporary one
// (greylisting, a full queue).
func (s *Sink) RefuseNext(n int, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseRcpt = newRefusal(n, code, msg)
}

// RefuseNextData answers the end of the next n DATA transfers with code and
// msg: the refusal a content filter gives after reading the message.
func (s *Sink) RefuseNextData(n int, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseData = newRefusal(n, code, msg)
}

func newRefusal(n, code int, msg string) refusal {
	return refusal{n: n, err: &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}}
}

// take consumes one refusal of r, if any is left.
func (s *Sink) take(r *refusal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.n <= 0 {
		return nil
	}
	r.n--
	return r.err
}

func (s *Sink) store(m Received) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	seq := len(s.msgs)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.opts.Dir == "" {
		return nil
	}
	// Written after storing, so a demo's mail folder never shows a message
	// the sink itself does not know about.
	name := filepath.Join(s.opts.Dir, fmt.Sprintf("%06d.eml", seq))
	if err := os.WriteFile(name, m.Raw, 0o640); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "cannot write message"}
	}
	return nil
}

func (s *Sink) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{sink: s, conn: c}, nil
}

// session is one SMTP connection's transaction state.
type session struct {
	sink *Sink
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.sink.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.sink.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.sink.opts.Username || password != ss.sink.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.sink.take(&ss.sink.refuseRcpt); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.sink.take(&ss.sink.refuseData); err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := Received{From: ss.from, To: slices.Clone(ss.to), Raw: raw, At: ss.sink.opts.Now(), TLS: isTLS, User: ss.user}
	p, perr := parse(raw)
	m.Header, m.Subject, m.Text, m.HTML, m.ParseErr = p.header, p.subject, p.text, p.html, perr
	return ss.sink.store(m)
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }
