package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Hook posts a notice as JSON to a contact's own endpoint (via: webhook in
// the tenant file) — a ticketing system, a SOAR, a chat bridge. With a secret
// each body is signed in SignatureHeader like the phone channel's.
type Hook struct {
	secret []byte
	wh     webhook
}

// NewHook returns the generic webhook channel.
func NewHook(secret []byte) *Hook { return &Hook{secret: secret, wh: newWebhook()} }

// WithClient replaces the HTTP client (tests; nil keeps the default).
func (h *Hook) WithClient(c *http.Client) *Hook {
	if c != nil {
		h.wh.client = c
	}
	return h
}

// Name implements Channel.
func (h *Hook) Name() string { return "webhook" }

// HookRequest is the JSON body of a generic webhook notification.
type HookRequest struct {
	Incident string `json:"incident"`
	Language string `json:"language"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	Short    string `json:"short"`
	URL      string `json:"url,omitempty"`
}

// Send implements Channel: 2xx delivered, 429/5xx retryable, other 4xx
// permanent.
func (h *Hook) Send(ctx context.Context, to Address, m Message) (Receipt, error) {
	target := strings.TrimSpace(to.URL)
	if u, err := url.Parse(target); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Receipt{}, permanentf("webhook: contact %q has no http(s) URL", to.Name)
	}
	body, err := json.Marshal(HookRequest{Incident: m.IncidentID, Language: m.Language, Subject: m.Subject,
		Text: m.Text, Short: m.Short, URL: m.URL})
	if err != nil {
		return Receipt{}, permanentf("webhook: encode: %v", err)
	}
	var hd http.Header
	if len(h.secret) > 0 {
		hd = http.Header{SignatureHeader: {Sign(h.secret, body)}}
	}
	return h.wh.post(ctx, "webhook", target, body, hd)
}
