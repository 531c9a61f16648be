package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// SignatureHeader carries the HMAC-SHA256 of a phone webhook's body, so the
// telephony provider (or the bridge in front of it) can tell bannin's calls
// from anyone else's.
const SignatureHeader = "X-Bannin-Signature"

// Phone asks a telephony webhook to call a contact and read out the short
// form of the message. The provider behind the URL is not bannin's concern:
// any service, or a small bridge to one, that accepts the JSON below will do.
type Phone struct {
	url    string
	secret []byte
	wh     webhook
}

// NewPhone returns a phone channel posting to url. With a secret, each body is
// signed in SignatureHeader as "sha256=<hex HMAC-SHA256 of the body>".
func NewPhone(url string, secret []byte) *Phone {
	return &Phone{url: url, secret: secret, wh: newWebhook()}
}

// WithClient replaces the HTTP client (tests, proxies; nil keeps the
// default) and returns p.
func (p *Phone) WithClient(c *http.Client) *Phone {
	if c != nil {
		p.wh.client = c
	}
	return p
}

// WithClock replaces the clock that stamps receipts and reads HTTP-date
// Retry-After values, and returns p.
func (p *Phone) WithClock(now func() time.Time) *Phone { p.wh.now = now; return p }

// Name implements Channel.
func (p *Phone) Name() string { return "phone" }

// PhoneRequest is the JSON body of a phone webhook call.
type PhoneRequest struct {
	To       string `json:"to"`
	Message  string `json:"message"`
	Language string `json:"language"`
	Incident string `json:"incident"`
}

// phoneNumber accepts international and domestic forms with the usual
// separators ("+81-3-5555-0100", "03 (5555) 0100"); the provider normalises.
var phoneNumber = regexp.MustCompile(`^\+?[0-9][0-9 ()\-]{5,30}$`)

// Send implements Channel. 2xx means the provider accepted the call request;
// whether someone picked up is the provider's report, not this receipt.
func (p *Phone) Send(ctx context.Context, to Address, m Message) (Receipt, error) {
	num := strings.TrimSpace(to.Phone)
	if num == "" {
		return Receipt{}, permanentf("phone: contact %q has no phone number", to.Name)
	}
	if !phoneNumber.MatchString(num) {
		return Receipt{}, permanentf("phone: contact %q: %q is not a phone number", to.Name, num)
	}
	text := m.Short
	if text == "" {
		text = m.Subject
	}
	body, err := json.Marshal(PhoneRequest{To: num, Message: text, Language: m.Language, Incident: m.IncidentID})
	if err != nil {
		return Receipt{}, permanentf("phone: encode: %v", err)
	}
	var h http.Header
	if len(p.secret) > 0 {
		h = http.Header{SignatureHeader: {Sign(p.secret, body)}}
	}
	return p.wh.post(ctx, "phone", p.url, body, h)
}

// Sign returns the SignatureHeader value for body: "sha256=" and the hex
// HMAC-SHA256 under secret. Receivers recompute it over the raw body and
// compare with hmac.Equal.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
