package mail

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // ISO-2022-JP, Shift_JIS, EUC-JP and the rest for text parts and headers
	gomail "github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// Limits that keep one hostile message from costing more than it is worth.
const (
	maxDepth     = 8       // nested multiparts and attached messages
	maxParts     = 64      // leaf parts read per message
	maxPartBytes = 4 << 20 // bytes read per part
)

// mailMessage is what the decoders read from one mail: decoded headers, the
// text of its bodies (UTF-8, HTML reduced to text) and its attachments.
type mailMessage struct {
	Subject   string
	From      string // first From address
	MessageID string
	Date      time.Time
	Texts     []string // text/plain bodies, then text/html reduced to text
	Files     []mailPart
}

// mailPart is one attachment (or a non-text inline part).
type mailPart struct {
	Name      string
	MediaType string
	Body      []byte
}

// unwrap returns the raw RFC 5322 message a payload carries: the payload
// itself, or the "message" of the listener's JSON envelope.
func unwrap(payload []byte) (Envelope, []byte, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return Envelope{}, nil, errors.New("empty payload")
	}
	if trimmed[0] != '{' {
		return Envelope{}, payload, nil
	}
	var env struct {
		Received string `json:"received"`
		Peer     string `json:"peer"`
		MailFrom string `json:"mail_from"`
		Rcpt     string `json:"rcpt"`
		Message  string `json:"message"`
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return Envelope{}, nil, fmt.Errorf("JSON payload is not a mail envelope: %v", err)
	}
	if env.Message == "" {
		return Envelope{}, nil, errors.New(`JSON payload has no "message" (base64 of the raw mail)`)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Message)
	if err != nil {
		return Envelope{}, nil, fmt.Errorf(`envelope "message" is not base64: %v`, err)
	}
	received, _ := time.Parse(time.RFC3339Nano, env.Received)
	return Envelope{Received: received, Peer: env.Peer, MailFrom: env.MailFrom, Rcpt: env.Rcpt, Message: raw}, raw, nil
}

// parseMessage reads a raw message. It fails only when the header cannot be
// read or names none of From, Subject, Date: then it is not a mail at all.
func parseMessage(raw []byte) (*mailMessage, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		return nil, fmt.Errorf("message header cannot be read: %v", err)
	}
	h := gomail.Header{Header: e.Header}
	if !h.Has("From") && !h.Has("Subject") && !h.Has("Date") {
		return nil, errors.New("message has none of From, Subject, Date: not an RFC 5322 mail")
	}
	m := &mailMessage{}
	m.Subject, _ = h.Subject() // an undecodable encoded word stays as sent
	m.Subject = cleanLine(m.Subject)
	if as, err := h.AddressList("From"); err == nil && len(as) > 0 {
		m.From = as[0].Address
	} else {
		m.From = strings.TrimSpace(h.Get("From"))
	}
	m.MessageID, _ = h.MessageID()
	m.Date, _ = h.Date()
	var htmls []string
	w := walker{m: m, htmls: &htmls}
	w.walk(e, 0)
	m.Texts = append(m.Texts, htmls...)
	return m, nil
}

type walker struct {
	m     *mailMessage
	htmls *[]string
	parts int
}

// walk collects the leaves of e. Read errors (bad base64, an unknown
// charset) keep whatever could be read: a damaged alert mail is still an
// alert.
func (w *walker) walk(e *message.Entity, depth int) {
	if depth > maxDepth || w.parts >= maxParts {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for w.parts < maxParts {
			p, err := mr.NextPart()
			if p == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
				return
			}
			w.walk(p, depth+1)
		}
		return
	}
	w.parts++
	mediaType, params, _ := e.Header.ContentType()
	if mediaType == "" {
		mediaType = "text/plain"
	}
	body, _ := io.ReadAll(io.LimitReader(e.Body, maxPartBytes))
	_, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case mediaType == "message/rfc822":
		if inner, err := message.Read(bytes.NewReader(body)); inner != nil {
			_ = err
			w.walk(inner, depth+1)
		}
	case mediaType == "text/plain" && name == "":
		w.m.Texts = append(w.m.Texts, textOf(body, params["charset"]))
	case mediaType == "text/html" && name == "":
		*w.htmls = append(*w.htmls, htmlToText(textOf(body, params["charset"])))
	default:
		w.m.Files = append(w.m.Files, mailPart{Name: name, MediaType: mediaType, Body: body})
	}
}

var iso2022Escape = []byte("\x1b$B")

// textOf makes a decoded body valid UTF-8. go-message already converted a
// declared charset; Japanese mailers that leave the charset out still send
// ISO-2022-JP, which its escape sequences give away.
func textOf(body []byte, declared string) string {
	if declared == "" && bytes.Contains(body, iso2022Escape) {
		if out, _, err := transform.Bytes(japanese.ISO2022JP.NewDecoder(), body); err == nil {
			body = out
		}
	}
	s := string(body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}

var (
	reBlock = regexp.MustCompile(`(?i)<\s*(br|/p|/div|/tr|/li|/h[1-6]|/table)\b[^>]*>`)
	reCell  = regexp.MustCompile(`(?i)<\s*/t[dh]\s*>`)
	reSpace = regexp.MustCompile(`[ \f\v\x{a0}\x{3000}]+`)
	reDrop  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	reTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlToText keeps an HTML body's text with a line per block and a tab
// between table cells, so that "<td>Computer</td><td>PC01</td>" reads as
// the labelled line "Computer\tPC01".
func htmlToText(s string) string {
	s = reDrop.ReplaceAllString(s, "")
	s = reCell.ReplaceAllString(s, "\t")
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s) // source line breaks are not breaks in HTML
	s = reBlock.ReplaceAllString(s, "\n")
	s = reTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		var cells []string
		for _, c := range strings.Split(line, "\t") {
			if c = strings.TrimSpace(reSpace.ReplaceAllString(c, " ")); c != "" {
				cells = append(cells, c)
			}
		}
		if len(cells) > 0 {
			b.WriteString(strings.Join(cells, "\t"))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// cleanLine folds white space and drops control characters.
func cleanLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\ufffd")), " ")
}
