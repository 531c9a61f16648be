package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Slack posts to a Slack incoming webhook (the contact's SlackWebhook). It is
// a plain JSON POST: the webhook needs no SDK, and slack-go would add a
// websocket dependency for nothing.
type Slack struct {
	wh webhook
}

// NewSlack returns a Slack channel with a bounded default HTTP client.
func NewSlack() *Slack { return &Slack{wh: newWebhook()} }

// WithClient replaces the HTTP client (tests, proxies; nil keeps the
// default) and returns s.
func (s *Slack) WithClient(c *http.Client) *Slack {
	if c != nil {
		s.wh.client = c
	}
	return s
}

// WithClock replaces the clock that stamps receipts and returns s.
func (s *Slack) WithClock(now func() time.Time) *Slack { s.wh.now = now; return s }

// Name implements Channel.
func (s *Slack) Name() string { return "slack" }

// Slack's limits on block text; longer text makes the whole post fail with
// invalid_blocks, so it is cut instead.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string     `json:"type"`
	Text     *slackText `json:"text,omitempty"`
	Elements []any      `json:"elements,omitempty"`
}

// slackButton is an interactive button. With a URL, Slack opens it in the
// browser; with a Slack app whose interactivity points at bannin's
// /v1/slack/actions, the click is also posted there, carrying Value.
type slackButton struct {
	Type     string    `json:"type"` // button
	Text     slackText `json:"text"`
	ActionID string    `json:"action_id"`
	Value    string    `json:"value,omitempty"`
	URL      string    `json:"url,omitempty"`
	Style    string    `json:"style,omitempty"`
}

// SlackAckAction is the action_id of the acknowledge button.
const SlackAckAction = "bannin_ack"

type slackPayload struct {
	Text   string       `json:"text"` // shown in push notifications and old clients
	Blocks []slackBlock `json:"blocks"`
}

// Send implements Channel: a header with the subject, the short form as the
// body, and the incident id with the console link underneath.
func (s *Slack) Send(ctx context.Context, to Address, m Message) (Receipt, error) {
	if strings.TrimSpace(to.SlackWebhook) == "" {
		return Receipt{}, permanentf("slack: contact %q has no webhook URL", to.Name)
	}
	body, err := json.Marshal(slackMessage(m))
	if err != nil {
		return Receipt{}, permanentf("slack: encode: %v", err)
	}
	return s.wh.post(ctx, "slack", to.SlackWebhook, body, nil)
}

func slackMessage(m Message) slackPayload {
	text := m.Short
	if text == "" {
		text = m.Subject
	}
	p := slackPayload{Text: slackEscape(text)}
	if m.Subject != "" {
		p.Blocks = append(p.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(m.Subject, slackHeaderMax)}})
	}
	p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(text), slackSectionMax)}})
	ctxLine := "`" + slackEscape(m.IncidentID) + "`"
	if m.URL != "" {
		ctxLine += " · <" + m.URL + ">"
	}
	p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: ctxLine}}})
	if m.AckURL != "" {
		b := slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: truncate(m.AckLabel, 75)},
			ActionID: SlackAckAction, URL: m.AckURL, Style: "primary"}
		if u, err := url.Parse(m.AckURL); err == nil {
			b.Value = u.Query().Get("t")
		}
		if len(b.Value) > 2000 { // Slack's limit on a button value
			b.Value = ""
		}
		p.Blocks = append(p.Blocks, slackBlock{Type: "actions", Elements: []any{b}})
	}
	return p
}

// slackEscape escapes the three characters Slack's mrkdwn treats as markup,
// so a host or file name can never turn into a link or a mention.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
