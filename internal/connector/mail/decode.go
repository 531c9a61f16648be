// Package mail is bannin's inbound alert e-mail integration: an SMTP
// listener that takes appliances' alert mail for the tenants its routes name
// (Listener, durable before acknowledged through a Sink), and a decoder that
// reads FireEye NX/EX notifications (JSON, XML or text) and anti-virus alert
// mails (Trend Micro, Symantec, ESET…, Japanese or English) into alerts.
// Mail is pushed to bannin: there is no pull source, no containment and no
// simulator.
package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
)

// VendorName is the name the integration is registered under.
const VendorName = "mail"

// RuleUnparsed is the rule of a mail that matches no known format. It is
// kept as an alert, with score 0, for an analyst to read.
const RuleUnparsed = "mail:unparsed"

// Decoder turns one mail into alerts. The payload is the listener's JSON
// envelope ({"received","peer","mail_from","rcpt","message": base64}) or a
// raw RFC 5322 message (an .eml file). It recognises, in this order:
//
//   - FireEye NX/EX notifications, as JSON or XML (attached or as the body)
//     or as FireEye's indented text; one alert per <alert>. Severity crit
//     90, majr 70, minr 40, other 50.
//   - anti-virus alert mails, read from labelled lines in English and
//     Japanese ("Computer:"/"コンピュータ名:", "Virus:"/"ウイルス名:", …).
//     A file the product cleaned, deleted or quarantined scores 40 (Action
//     mitigated); one it could not, or a mail that does not say, scores 70.
//   - anything else that is a mail: one alert, Rule "mail:unparsed", Title
//     the decoded Subject, Score 0, Host from a labelled host line.
//
// Only a payload that is not a mail at all fails, with ErrBadPayload.
// The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	env, raw, err := unwrap(payload)
	if err != nil {
		return nil, bad("%v", err)
	}
	m, err := parseMessage(raw)
	if err != nil {
		return nil, bad("%v", err)
	}
	alerts := decodeMessage(m, raw)
	for i := range alerts {
		a := &alerts[i]
		a.Received = env.Received
		if a.EventTime.IsZero() {
			a.EventTime = firstTime(m.Date, env.Received)
		}
		a.Raw = payload
	}
	return alerts, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: mail: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

func decodeMessage(m *mailMessage, raw []byte) []alert.Alert {
	for _, root := range fireeyeNotifications(m) {
		if as := decodeFireEye(root, m); len(as) > 0 {
			return as
		}
	}
	loc := time.UTC
	if !m.Date.IsZero() {
		loc = m.Date.Location()
	}
	f := labelled(m.Texts)
	a, ok := decodeAV(m, f, loc)
	if !ok {
		a = alert.Alert{Vendor: VendorName, Rule: RuleUnparsed, Title: m.Subject, Action: alert.ActionNone}
		fillHost(&a, f)
	}
	a.VendorID = messageID(m, raw)
	return []alert.Alert{a}
}

// messageID is the Message-ID, or a digest of the message when it has none.
func messageID(m *mailMessage, raw []byte) string {
	if m.MessageID != "" {
		return m.MessageID
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t.UTC()
		}
	}
	return time.Time{}
}
