package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"
)

// DefaultMaxMessageBytes is the message size limit when Config leaves it 0.
const DefaultMaxMessageBytes = 10 << 20

// Sink stores received payloads durably and returns once they are committed.
type Sink interface {
	Accept(ctx context.Context, tenant, source string, payloads [][]byte) error
}

// Route says whose mail a recipient address receives and who may send it.
type Route struct {
	Tenant string
	Source string
	// AllowedSenders lists exact addresses (soc@example.co.jp) or whole
	// domains (@example.co.jp). The envelope sender (MAIL FROM) and every
	// header From address must match one. There is no SPF or DKIM check:
	// this list, and who can reach the listener, are the whole trust model.
	AllowedSenders []string
}

// Config is what a Listener needs.
type Config struct {
	Addr            string      // host:port to listen on (ListenAndServe)
	Domain          string      // name in the greeting; "localhost" when empty
	TLS             *tls.Config // offers STARTTLS when set
	MaxMessageBytes int64       // DefaultMaxMessageBytes when 0
	MaxRecipients   int         // per transaction; 0 = no limit
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	// Routes maps a recipient address (any case) to its tenant.
	Routes map[string]Route
	// AllowedPeers, when not empty, restricts which client addresses may
	// connect at all (the customer's relays).
	AllowedPeers []netip.Prefix
	Sink         Sink
	Clock        func() time.Time // time.Now when nil
	Logger       *slog.Logger     // slog.Default when nil
}

// Rejection reasons, as counted by Stats.
const (
	ReasonPeer        = "peer_not_allowed"
	ReasonUnknownRcpt = "unknown_recipient"
	ReasonSender      = "sender_not_allowed"
	ReasonHeaderFrom  = "header_from_not_allowed"
	ReasonOtherRoute  = "recipient_of_other_tenant"
	ReasonTooLarge    = "too_large"
	ReasonBadMessage  = "bad_message"
	ReasonSink        = "sink_failed"
)

// Stats counts what the listener accepted and refused.
type Stats struct {
	Accepted int64            // messages acknowledged with 250
	Rejected map[string]int64 // per reason (Reason* constants)
}

// Envelope is the payload handed to the Sink: the raw message with what the
// SMTP session knew about it.
type Envelope struct {
	Received time.Time `json:"received"`
	Peer     string    `json:"peer"`
	MailFrom string    `json:"mail_from"`
	Rcpt     string    `json:"rcpt"`
	Message  []byte    `json:"message"` // the raw RFC 5322 message; base64 in JSON
}

// MarshalJSON writes received with nanoseconds, as RFC3339Nano.
func (e Envelope) MarshalJSON() ([]byte, error) {
	type plain Envelope
	return json.Marshal(struct {
		Received string `json:"received"`
		plain
	}{e.Received.UTC().Format(time.RFC3339Nano), plain(e)})
}

// Listener is an SMTP server that accepts appliances' alert mail for the
// tenants its routes name and stores each message through the Sink before
// acknowledging it.
type Listener struct {
	cfg    Config
	routes map[string]Route
	srv    *smtp.Server

	mu       sync.Mutex
	accepted int64
	rejected map[string]int64
}

// NewListener checks cfg and builds a listener; Serve or ListenAndServe
// starts it.
func NewListener(cfg Config) (*Listener, error) {
	if cfg.Sink == nil {
		return nil, errors.New("mail listener: no sink")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("mail listener: no routes")
	}
	routes := make(map[string]Route, len(cfg.Routes))
	for addr, r := range cfg.Routes {
		if r.Tenant == "" || len(r.AllowedSenders) == 0 {
			return nil, fmt.Errorf("mail listener: route %s needs a tenant and allowed senders", addr)
		}
		routes[strings.ToLower(strings.TrimSpace(addr))] = r
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Listener{cfg: cfg, routes: routes, rejected: map[string]int64{}}
	s := smtp.NewServer(smtp.BackendFunc(l.newSession))
	s.Addr = cfg.Addr
	s.Domain = cfg.Domain
	s.TLSConfig = cfg.TLS
	s.MaxMessageBytes = cfg.MaxMessageBytes
	s.MaxRecipients = cfg.MaxRecipients
	s.ReadTimeout = cfg.ReadTimeout
	s.WriteTimeout = cfg.WriteTimeout
	s.ErrorLog = slogPrinter{cfg.Logger}
	l.srv = s
	return l, nil
}

// Serve accepts connections on ln until Close or Shutdown.
func (l *Listener) Serve(ln net.Listener) error { return l.srv.Serve(ln) }

// ListenAndServe listens on Config.Addr and serves.
func (l *Listener) ListenAndServe() error { return l.srv.ListenAndServe() }

// Shutdown stops accepting and waits for open sessions to end or ctx.
func (l *Listener) Shutdown(ctx context.Context) error { return l.srv.Shutdown(ctx) }

// Close stops the listener and drops open sessions.
func (l *Listener) Close() error { return l.srv.Close() }

// Stats returns a copy of the counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Accepted: l.accepted, Rejected: make(map[string]int64, len(l.rejected))}
	for k, v := range l.rejected {
		s.Rejected[k] = v
	}
	return s
}

func (l *Listener) count(reason string) {
	l.mu.Lock()
	l.rejected[reason]++
	l.mu.Unlock()
}

func (l *Listener) reject(reason string, code int, enh smtp.EnhancedCode, msg string) error {
	l.count(reason)
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

func (l *Listener) newSession(c *smtp.Conn) (smtp.Session, error) {
	peer := c.Conn().RemoteAddr().String()
	if len(l.cfg.AllowedPeers) > 0 && !peerAllowed(peer, l.cfg.AllowedPeers) {
		l.cfg.Logger.Warn("mail: connection from a peer outside the allowed networks", "peer", peer)
		return nil, l.reject(ReasonPeer, 554, smtp.EnhancedCode{5, 7, 1}, "Your address may not send mail to this service")
	}
	return &session{l: l, peer: peer}, nil
}

func peerAllowed(peer string, nets []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		return false
	}
	for _, p := range nets {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// senderAllowed reports whether addr matches an exact address or an @domain
// entry of allowed, ignoring case.
func senderAllowed(addr string, allowed []string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return false
	}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == addr || (strings.HasPrefix(a, "@") && a == addr[at:]) {
			return true
		}
	}
	return false
}

// session is one SMTP connection's transaction state. Every recipient of a
// transaction must belong to the same route, so that one Sink call stores
// the message whole; a recipient of another route is told to try again
// (451 4.5.3), which makes the sending MTA deliver it in its own transaction.
type session struct {
	l     *Listener
	peer  string
	from  string
	rcpt  string
	route *Route
}

func (s *session) Reset() { s.from, s.rcpt, s.route = "", "", nil }

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	r, ok := s.l.routes[strings.ToLower(strings.TrimSpace(to))]
	if !ok {
		return s.l.reject(ReasonUnknownRcpt, 550, smtp.EnhancedCode{5, 1, 1}, fmt.Sprintf("No such recipient here: %s", to))
	}
	if s.route != nil {
		if r.Tenant != s.route.Tenant || r.Source != s.route.Source {
			return s.l.reject(ReasonOtherRoute, 451, smtp.EnhancedCode{4, 5, 3}, "One tenant per message: send to this recipient separately")
		}
		return nil // same route: the message is stored once
	}
	if !senderAllowed(s.from, r.AllowedSenders) {
		return s.l.reject(ReasonSender, 550, smtp.EnhancedCode{5, 7, 1},
			fmt.Sprintf("Sender %q is not on the allow-list for %s; ask the SOC to add it", s.from, to))
	}
	s.rcpt, s.route = to, &r
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			s.l.count(ReasonTooLarge)
		}
		return err // go-smtp answers 552 5.3.4 for ErrDataTooLarge
	}
	if err := s.checkHeaderFrom(raw); err != nil {
		return err
	}
	env, err := json.Marshal(Envelope{Received: s.l.cfg.Clock(), Peer: s.peer, MailFrom: s.from, Rcpt: s.rcpt, Message: raw})
	if err != nil {
		return fmt.Errorf("encode envelope: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sinkTimeout)
	defer cancel()
	if err := s.l.cfg.Sink.Accept(ctx, s.route.Tenant, s.route.Source, [][]byte{env}); err != nil {
		s.l.cfg.Logger.Error("mail: sink refused a message; the sender will retry",
			"tenant", s.route.Tenant, "source", s.route.Source, "err", err)
		return s.l.reject(ReasonSink, 451, smtp.EnhancedCode{4, 3, 0}, "Message not stored, try again later")
	}
	s.l.mu.Lock()
	s.l.accepted++
	s.l.mu.Unlock()
	return nil
}

// sinkTimeout bounds one Sink call, so that a stuck store answers 451 before
// the sending MTA gives up on the connection (RFC 5321 allows it 10 minutes).
const sinkTimeout = 2 * time.Minute

// checkHeaderFrom requires every header From address to be allowed too:
// the envelope sender alone is trivial to set to an allowed one by anyone
// who can reach the listener, and the From header is what the decoder and
// the analyst read.
func (s *session) checkHeaderFrom(raw []byte) error {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return s.l.reject(ReasonBadMessage, 550, smtp.EnhancedCode{5, 6, 0}, "Message header cannot be parsed")
	}
	addrs, err := (&gomail.Header{Header: message.Header{Header: h}}).AddressList("From")
	if err != nil || len(addrs) == 0 {
		return s.l.reject(ReasonHeaderFrom, 550, smtp.EnhancedCode{5, 7, 1}, "Message has no readable From header")
	}
	for _, a := range addrs {
		if !senderAllowed(a.Address, s.route.AllowedSenders) {
			return s.l.reject(ReasonHeaderFrom, 550, smtp.EnhancedCode{5, 7, 1},
				fmt.Sprintf("Header From %q is not on the allow-list for %s; ask the SOC to add it", a.Address, s.rcpt))
		}
	}
	return nil
}

// slogPrinter lets go-smtp's internal errors reach slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.l.Warn("smtp: " + fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.l.Warn("smtp: " + strings.TrimSpace(fmt.Sprintln(v...))) }
