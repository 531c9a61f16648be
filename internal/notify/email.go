package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// IncidentHeader names the incident a notification mail is about, so that
// mail rules, ticket systems and bannin's own inbound mail can file replies.
const IncidentHeader = "X-Bannin-Incident"

// EmailConfig is the outbound SMTP relay.
type EmailConfig struct {
	Host string
	// Port defaults to 587 (submission) when Username is set, else 25.
	Port int
	// From is the sender, "番人 SOC <soc@example.jp>" or a bare address.
	From string
	// Username and Password enable SMTP AUTH. go-mail picks the strongest
	// mechanism the server offers and sends PLAIN or LOGIN only over TLS.
	Username, Password string
	// TLSPolicy is "opportunistic" (the default: STARTTLS when the server
	// offers it), "mandatory" (fail without STARTTLS) or "none".
	TLSPolicy string
	// TLSConfig verifies the server; nil means the system roots and Host as
	// the server name.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP command; default 30 s.
	Timeout time.Duration
}

// Email sends notifications as multipart/alternative (text and HTML) mail.
type Email struct {
	cfg    EmailConfig
	from   *mail.Address
	domain string // of From, for Message-IDs
	policy gomail.TLSPolicy
	now    func() time.Time
}

// NewEmail checks the configuration, so that a typo fails at start-up rather
// than at the first incident.
func NewEmail(cfg EmailConfig) (*Email, error) {
	if strings.TrimSpace(cfg.Host) == "" {
		return nil, errors.New("email: host is empty")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q: %w", cfg.From, err)
	}
	e := &Email{cfg: cfg, from: from, now: time.Now}
	e.domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	switch strings.ToLower(cfg.TLSPolicy) {
	case "", "opportunistic":
		e.policy = gomail.TLSOpportunistic
	case "mandatory":
		e.policy = gomail.TLSMandatory
	case "none":
		e.policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("email: tls policy %q: want opportunistic, mandatory or none", cfg.TLSPolicy)
	}
	if e.cfg.Port == 0 {
		e.cfg.Port = 25
		if cfg.Username != "" {
			e.cfg.Port = 587
		}
	}
	if e.cfg.Port < 1 || e.cfg.Port > 65535 {
		return nil, fmt.Errorf("email: port %d out of range", cfg.Port)
	}
	if e.cfg.Timeout <= 0 {
		e.cfg.Timeout = 30 * time.Second
	}
	if e.cfg.TLSConfig != nil && e.cfg.TLSConfig.ServerName == "" {
		// Without a server name Go cannot verify the certificate at all.
		e.cfg.TLSConfig = e.cfg.TLSConfig.Clone()
		e.cfg.TLSConfig.ServerName = cfg.Host
	}
	return e, nil
}

// WithClock replaces the clock for the Date header and receipts, and returns e.
func (e *Email) WithClock(now func() time.Time) *Email { e.now = now; return e }

// Name implements Channel.
func (e *Email) Name() string { return "email" }

// Send implements Channel. One connection per message: notifications are
// rare and a pooled connection would mostly be found closed by the relay.
func (e *Email) Send(ctx context.Context, to Address, m Message) (Receipt, error) {
	msg, err := e.message(to, m)
	if err != nil {
		return Receipt{}, err
	}
	c, err := gomail.NewClient(e.cfg.Host, e.clientOptions()...)
	if err != nil {
		return Receipt{}, fmt.Errorf("email: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return Receipt{}, classifySMTP(fmt.Errorf("email to %s via %s:%d: %w", msg.GetToString(), e.cfg.Host, e.cfg.Port, err))
	}
	detail := "250"
	if r := msg.ServerResponse(); r != "" {
		detail += " " + r
	}
	return Receipt{At: e.now(), Detail: detail}, nil
}

func (e *Email) clientOptions() []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(e.cfg.Port),
		gomail.WithTLSPolicy(e.policy),
		gomail.WithTimeout(e.cfg.Timeout),
	}
	if e.cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(e.cfg.TLSConfig))
	}
	if e.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(e.cfg.Username),
			gomail.WithPassword(e.cfg.Password))
	}
	return opts
}

// message builds the MIME message. Japanese goes base64 (body and encoded
// words), as Japanese mailers expect and because quoted-printable triples
// its size; English stays quoted-printable, readable in the raw source.
func (e *Email) message(to Address, m Message) (*gomail.Msg, error) {
	if strings.TrimSpace(to.Email) == "" {
		return nil, permanentf("email: contact %q has no e-mail address", to.Name)
	}
	rcpt, err := mail.ParseAddress(to.Email)
	if err != nil {
		return nil, permanentf("email: contact %q: address %q: %v", to.Name, to.Email, err)
	}
	if m.Text == "" && m.HTML == "" {
		return nil, permanentf("email: message for incident %s has no body", m.IncidentID)
	}
	enc := gomail.EncodingQP
	if m.Language == "ja" {
		enc = gomail.EncodingB64
	}
	msg := gomail.NewMsg(gomail.WithEncoding(enc), gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(e.from)
	name := to.Name
	if name == "" {
		name = rcpt.Name
	}
	if err := msg.AddToFormat(name, rcpt.Address); err != nil {
		return nil, permanentf("email: contact %q: %v", to.Name, err)
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(e.now())
	msg.SetMessageIDWithValue(e.messageID(m.IncidentID))
	msg.SetGenHeader(IncidentHeader, oneLine(m.IncidentID))
	if m.Language != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Language)
	}
	// RFC 3834: out-of-office and other robots must not answer an alert.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetUserAgent("bannin")
	if m.Text != "" {
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		if m.HTML != "" {
			msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
		}
	} else {
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageID is unique per attempt and starts with the incident id, so the
// relay's logs can be searched by incident.
func (e *Email) messageID(incident string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '.' || r == '_' || ('0' <= r && r <= '9') || ('A' <= r && r <= 'Z') || ('a' <= r && r <= 'z')) {
			return r
		}
		return -1
	}, incident)
	return fmt.Sprintf("%s.%s@%s", strings.Trim(id, "."), hex.EncodeToString(b[:]), e.domain)
}

// classifySMTP marks SMTP 5xx replies (and recipients go-mail itself found
// invalid) as permanent. Everything else, connection trouble and 4xx
// included, stays retryable.
func classifySMTP(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c >= 500 && c < 600 {
			return &PermanentError{Err: err}
		}
		if se.ErrorCode() == 0 && !se.IsTemp() && (se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts) {
			return &PermanentError{Err: err}
		}
		return err
	}
	// Refusals during the dialogue before MAIL FROM (EHLO, AUTH) arrive as
	// plain protocol errors.
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return &PermanentError{Err: err}
	}
	return err
}
