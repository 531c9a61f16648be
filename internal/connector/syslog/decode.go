// Package syslog is bannin's syslog intake: a Listener that receives syslog
// over UDP, TCP and TLS for one tenant source and hands each message to a
// durable Sink, and a Decoder that turns those messages — CEF, LEEF,
// FortiGate key=value and PAN-OS CSV bodies under an RFC 5424 or RFC 3164
// header — into alerts. It is a push source: it has no pull API, no
// containment and no simulator; Send is the client the demo and tests use.
package syslog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "syslog"

// Envelope is how the Listener hands one received message to the Sink, and
// what the Decoder reads. Error is set instead of Message for a message that
// could not be kept whole (over MaxMessage); the Decoder rejects it with
// that reason so it is quarantined, not lost.
type Envelope struct {
	Received  time.Time `json:"received"`
	Peer      string    `json:"peer,omitempty"`
	Transport string    `json:"transport,omitempty"` // udp, tcp or tls
	Message   string    `json:"message,omitempty"`
	Error     string    `json:"error,omitempty"`
	Size      int       `json:"size,omitempty"` // bytes received, with Error
	Head      string    `json:"head,omitempty"` // the first bytes, with Error
}

// Decoder turns one syslog payload into alerts. A payload is either an
// Envelope (JSON, as the Listener stores it) or raw text: one syslog line, or
// several separated by newlines (a file of lines), each becoming an alert.
//
// Under the RFC 5424 or RFC 3164 header (or none), the body is read as:
//
//   - CEF (CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|ext):
//     Rule is the Signature ID, Title the Name, Score Severity×10 (0–10) or
//     Low 30, Medium 50, High 70, Very-High 90;
//   - LEEF 1.0 / 2.0: Rule is the EventID, Score sev×10 (1–10);
//   - FortiGate's native key=value log (devname=… logid=… type=… level=…);
//   - PAN-OS's native CSV THREAT log;
//   - anything else: kept as Rule "syslog:unparsed", Score 0, Title the first
//     120 characters, VendorSeverity the syslog severity, Host the syslog
//     hostname — stored and searchable, never dropped.
//
// Only a payload that is no syslog message at all (empty, binary, an
// invalid or over-long envelope) fails, with an error wrapping
// connector.ErrBadPayload. VendorID is the vendor's event id where the
// format has one (PAN-OS serial/sequence number), else a digest of the
// message, so a message sent twice (a sender retransmitting after a failed
// batch) decodes to the same id.
type Decoder struct {
	// Now is the clock for raw lines, which carry no received time (the
	// year of an RFC 3164 stamp is taken from it); nil means time.Now.
	Now func() time.Time
}

var _ connector.Decoder = Decoder{}

// maxTitle is how much of an unparsed message becomes its title.
const maxTitle = 120

// Decode implements connector.Decoder.
func (d Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return nil, bad("empty payload")
	}
	if trimmed[0] == '{' {
		env, err := readEnvelope(trimmed)
		if err != nil {
			return nil, err
		}
		a, err := decodeMessage(env, payload)
		if err != nil {
			return nil, err
		}
		return []alert.Alert{a}, nil
	}
	if err := checkText(trimmed); err != nil {
		return nil, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	received := now().UTC()
	var out []alert.Alert
	for line := range strings.SplitSeq(string(trimmed), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		env := Envelope{Received: received, Message: line}
		raw, err := json.Marshal(env)
		if err != nil {
			return nil, fmt.Errorf("syslog: keep raw line: %w", err)
		}
		a, err := decodeMessage(env, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: syslog: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// readEnvelope reads the Listener's JSON envelope.
func readEnvelope(b []byte) (Envelope, error) {
	f, err := jsonfield.Parse(b)
	if err != nil {
		return Envelope{}, bad("envelope is not a JSON object: %v", err)
	}
	if e := f.Str("error"); e != "" {
		return Envelope{}, bad("%s (from %s over %s; first bytes %q)", e, f.Str("peer"), f.Str("transport"), f.Str("head"))
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Envelope{}, bad("envelope: %v", err)
	}
	if strings.TrimSpace(env.Message) == "" {
		return Envelope{}, bad("envelope has no message")
	}
	if err := checkText([]byte(env.Message)); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// checkText rejects what is not text: NUL bytes, or mostly control bytes
// and invalid UTF-8. Latin-1 accents in an otherwise readable line pass.
func checkText(b []byte) error {
	if bytes.IndexByte(b, 0) >= 0 {
		return bad("payload holds NUL bytes: not a syslog message")
	}
	junk := 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			junk++
		}
		i += n
	}
	if junk*4 > len(b) {
		return bad("payload is binary (%d of %d bytes are control bytes or invalid UTF-8): not a syslog message", junk, len(b))
	}
	return nil
}

// decodeMessage decodes one syslog message; raw is what the alert keeps.
func decodeMessage(env Envelope, raw []byte) (alert.Alert, error) {
	line := strings.TrimRight(env.Message, "\r\n\x00")
	h := parseHeader(line, env.Received)
	var (
		a   alert.Alert
		err error
	)
	cef, leef, pan := formatAt(line, "CEF:"), formatAt(line, "LEEF:"), panThreatAt(line)
	switch {
	case cef >= 0 && (leef < 0 || cef < leef):
		a, err = decodeCEF(line[cef:], h)
	case leef >= 0:
		a, err = decodeLEEF(line[leef:], h)
	case isFortiGateKV(h.Body):
		a = decodeFortiGate(h.Body, h)
	case pan >= 0:
		a, err = decodePANThreat(line[pan:], h)
	default:
		a = unparsed(line, h)
	}
	if err != nil {
		// A body that claims a format but breaks it is still a syslog
		// message: keep it, saying why it was not read.
		a = unparsed(line, h)
		a.Description = err.Error()
	}
	a.Vendor = VendorName
	if a.VendorID == "" {
		a.VendorID = digestID(line)
	}
	if a.EventTime.IsZero() {
		a.EventTime = h.Time
	}
	if a.EventTime.IsZero() {
		a.EventTime = env.Received.UTC()
	}
	if a.Host.Name == "" && a.Host.ID == "" && len(a.Host.IPs) == 0 {
		a.Host.Name = h.Hostname
	}
	if !env.Received.IsZero() {
		a.Received = env.Received.UTC()
	}
	if a.Action == "" {
		a.Action = alert.ActionNone
	}
	a.Raw = raw
	return a, nil
}

// formatAt finds marker ("CEF:", "LEEF:") at the start of s or after a space,
// where a syslog header leaves it.
func formatAt(s, marker string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], marker)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || s[i-1] == ' ' || s[i-1] == ':' || s[i-1] == '>' {
			return i
		}
		off = i + len(marker)
	}
}

func digestID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:12])
}

// unparsed keeps a message of no known format as an alert of score 0.
func unparsed(line string, h header) alert.Alert {
	title := strings.TrimSpace(h.Body)
	if title == "" {
		title = strings.TrimSpace(line)
	}
	if r := []rune(title); len(r) > maxTitle {
		title = string(r[:maxTitle])
	}
	return alert.Alert{
		Rule:           "syslog:unparsed",
		Title:          title,
		Product:        h.App,
		VendorSeverity: severityName(h.Severity),
		Host:           alert.Host{Name: h.Hostname},
	}
}
