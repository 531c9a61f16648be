package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/acklink"
	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// ackVias are the channels an acknowledgement may be recorded as coming by.
var ackVias = []string{"email", "slack", "phone", "webhook", "console", "api", "cli"}

// ackRoutes adds acknowledgement by signed link and by Slack button, and
// the API's acknowledge call.
func (s *Server) ackRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/ack", s.ackPage)
	mux.HandleFunc("POST /v1/ack", s.ackSubmit)
	mux.HandleFunc("POST /v1/slack/actions", s.slackAction)
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/ack", s.authed(s.ackAPI))
}

// ackPage shows what the link acknowledges and a button to do it. Opening
// the link changes nothing: mail scanners and link previews fetch links,
// and must not silence an escalation.
func (s *Server) ackPage(w http.ResponseWriter, r *http.Request) {
	c, lang, ok := s.checkAck(w, r.URL.Query().Get("t"))
	if !ok {
		return
	}
	inc, err := s.Store.Incident(r.Context(), c.Tenant, c.Incident)
	if err != nil {
		ackError(w, http.StatusNotFound, "not_found")
		return
	}
	ack, err := s.Store.IncidentAck(r.Context(), c.Tenant, c.Incident)
	if err != nil {
		ackError(w, http.StatusInternalServerError, "internal")
		return
	}
	writeAckPage(w, http.StatusOK, lang, ackView{Incident: inc, Ack: ack, Token: r.URL.Query().Get("t"),
		Via: via(r.URL.Query().Get("via")), Contact: c.Contact})
}

// ackSubmit acknowledges the incident the link names, as its contact.
func (s *Server) ackSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		ackError(w, http.StatusBadRequest, "bad_request")
		return
	}
	c, lang, ok := s.checkAck(w, r.PostForm.Get("t"))
	if !ok {
		return
	}
	ack, fresh, err := s.Store.Acknowledge(r.Context(), c.Tenant, c.Incident, c.Contact, via(r.PostForm.Get("via")), s.Clock().UTC())
	if errors.Is(err, fault.ErrNotFound) {
		ackError(w, http.StatusNotFound, "not_found")
		return
	}
	if err != nil {
		s.Log.Error("acknowledge", "tenant", c.Tenant, "incident", c.Incident, "err", err)
		ackError(w, http.StatusInternalServerError, "internal")
		return
	}
	inc, err := s.Store.Incident(r.Context(), c.Tenant, c.Incident)
	if err != nil {
		ackError(w, http.StatusInternalServerError, "internal")
		return
	}
	writeAckPage(w, http.StatusOK, lang, ackView{Incident: inc, Ack: ack, Fresh: fresh, Contact: c.Contact})
}

// checkAck verifies a token and finds its contact's language; on failure
// it has answered with a page in both languages.
func (s *Server) checkAck(w http.ResponseWriter, tok string) (acklink.Claim, string, bool) {
	key := s.Escalation.AckKey()
	if key == nil {
		ackError(w, http.StatusNotFound, "disabled")
		return acklink.Claim{}, "", false
	}
	c, err := acklink.Verify(key, tok, s.Clock())
	switch {
	case errors.Is(err, acklink.ErrExpired):
		ackError(w, http.StatusGone, "expired")
		return c, "", false
	case err != nil:
		ackError(w, http.StatusForbidden, "forged")
		return c, "", false
	}
	rt, ok := s.Tenants.Tenant(c.Tenant)
	if !ok {
		ackError(w, http.StatusNotFound, "not_found")
		return c, "", false
	}
	lang := rt.Triage.Tenant.Language
	if ct, ok := rt.Triage.Tenant.Contacts[c.Contact]; ok && ct.Language != "" {
		lang = ct.Language
	}
	return c, lang, true
}

func via(s string) string {
	if slices.Contains(ackVias, s) {
		return s
	}
	return "email"
}

// slackAction takes a click on the acknowledge button from a Slack app
// whose interactivity request URL is bannin's /v1/slack/actions. The
// request must carry Slack's signature over the body with the app's
// signing secret, made within five minutes.
func (s *Server) slackAction(w http.ResponseWriter, r *http.Request) {
	if len(s.SlackSigningSecret) == 0 || s.Escalation.AckKey() == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Slack interactivity is not configured (--slack-signing-secret-file)"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "request too large"})
		return
	}
	if err := verifySlack(s.SlackSigningSecret, r.Header, body, s.Clock()); err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want a form with a payload field"})
		return
	}
	var p struct {
		Type string `json:"type"`
		User struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
		Actions []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.PostForm.Get("payload")), &p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "payload: " + err.Error()})
		return
	}
	for _, act := range p.Actions {
		if act.ActionID != notify.SlackAckAction {
			continue
		}
		c, err := acklink.Verify(s.Escalation.AckKey(), act.Value, s.Clock())
		if err != nil {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
			return
		}
		by := c.Contact
		if p.User.Username != "" {
			by += " (Slack " + p.User.Username + ")"
		}
		if _, _, err := s.Store.Acknowledge(r.Context(), c.Tenant, c.Incident, by, "slack", s.Clock().UTC()); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, fault.ErrNotFound) {
				code = http.StatusNotFound
			}
			writeJSON(w, code, map[string]string{"error": "acknowledge: " + err.Error()})
			return
		}
	}
	w.WriteHeader(http.StatusOK) // Slack wants an empty 200 within 3 s
}

// verifySlack checks Slack's request signature: v0=hex(HMAC-SHA256(secret,
// "v0:" + timestamp + ":" + body)), the timestamp within five minutes.
func verifySlack(secret []byte, h http.Header, body []byte, now time.Time) error {
	ts, err := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil {
		return errors.New("missing or bad X-Slack-Request-Timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("X-Slack-Request-Timestamp is more than five minutes off: replayed or clock skew")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":"))
	m.Write(body)
	want := "v0=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(h.Get("X-Slack-Signature"))) {
		return errors.New("X-Slack-Signature does not match the body")
	}
	return nil
}

// ackAPI acknowledges an incident through the REST API (the console uses
// it with X-Bannin-Via: console). The person is X-Bannin-User or the
// body's "by".
func (s *Server) ackAPI(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var body struct {
		By string `json:"by"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: want {\"by\": \"<who>\"}"})
			return nil
		}
	}
	by := r.Header.Get("X-Bannin-User")
	if by == "" {
		by = body.By
	}
	if strings.TrimSpace(by) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "say who acknowledges: X-Bannin-User header or {\"by\": \"…\"}"})
		return nil
	}
	v := "api"
	if r.Header.Get("X-Bannin-Via") == "console" {
		v = "console"
	}
	ack, fresh, err := s.Escalation.Acknowledge(r.Context(), tenantID, r.PathValue("id"), by, v)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if fresh {
		code = http.StatusCreated
	}
	writeJSON(w, code, map[string]any{"acknowledged": ack, "fresh": fresh})
	return nil
}

// ackView is what the acknowledgement page shows.
type ackView struct {
	Incident *ticket.Incident
	Ack      *escalation.Ack
	Fresh    bool
	Token    string
	Via      string
	Contact  string
}

var ackPages = map[string]*template.Template{
	"ja": template.Must(template.New("ja").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>番人: {{.Incident.Ref}} の確認</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto;">
<h1>{{.Incident.Ref}}</h1>
<p>{{.Incident.Title}}（優先度 {{.Incident.Priority}}、深刻度 {{.Incident.Severity}}）</p>
{{if .Ack}}<p id="status">{{if .Fresh}}確認済みにしました。エスカレーションを停止しました。{{else}}このインシデントは確認済みです。{{end}}
（{{.Ack.By}}、{{.Ack.Via}}、{{.Ack.At.Format "2006-01-02 15:04 MST"}}）</p>
{{else}}<form method="post" action="/v1/ack">
<input type="hidden" name="t" value="{{.Token}}"><input type="hidden" name="via" value="{{.Via}}">
<p>{{.Contact}} として、このインシデントへの対応を開始したことを SOC に知らせます。以降のエスカレーションは停止します。</p>
<button type="submit" id="ack">確認済みにする</button></form>{{end}}
</body></html>`)),
	"en": template.Must(template.New("en").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bannin: acknowledge {{.Incident.Ref}}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto;">
<h1>{{.Incident.Ref}}</h1>
<p>{{.Incident.Title}} (priority {{.Incident.Priority}}, severity {{.Incident.Severity}})</p>
{{if .Ack}}<p id="status">{{if .Fresh}}Acknowledged. Escalation has stopped.{{else}}This incident has already been acknowledged.{{end}}
({{.Ack.By}}, {{.Ack.Via}}, {{.Ack.At.Format "2006-01-02 15:04 MST"}})</p>
{{else}}<form method="post" action="/v1/ack">
<input type="hidden" name="t" value="{{.Token}}"><input type="hidden" name="via" value="{{.Via}}">
<p>Tell the SOC that you, {{.Contact}}, have taken this incident in hand. Further escalation stops.</p>
<button type="submit" id="ack">Acknowledge</button></form>{{end}}
</body></html>`)),
}

func writeAckPage(w http.ResponseWriter, code int, lang string, v ackView) {
	t, ok := ackPages[lang]
	if !ok {
		t = ackPages["ja"]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	t.Execute(w, v)
}

// ackErrors are the refusals of an acknowledgement, in both languages:
// without a valid token bannin does not know the reader's language.
var ackErrors = map[string][2]string{
	"forged":      {"このリンクは無効です（改変されたか、一部が欠けています）。何も変更していません。", "This link is not valid (altered or incomplete). Nothing was changed."},
	"expired":     {"このリンクは有効期限が切れています。何も変更していません。SOC にご連絡ください。", "This link has expired. Nothing was changed; please contact the SOC."},
	"not_found":   {"インシデントが見つかりません。何も変更していません。", "No such incident. Nothing was changed."},
	"disabled":    {"この番人では確認リンクが有効になっていません。", "Acknowledgement links are not enabled on this bannin."},
	"bad_request": {"リクエストを読めませんでした。何も変更していません。", "The request could not be read. Nothing was changed."},
	"internal":    {"内部エラーが発生しました。何も変更していません。時間をおいて再度お試しください。", "Internal error. Nothing was changed; please try again later."},
}

var ackErrorPage = template.Must(template.New("err").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>bannin</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto;">
<p id="error-ja" lang="ja">{{index . 0}}</p><p id="error-en" lang="en">{{index . 1}}</p></body></html>`))

func ackError(w http.ResponseWriter, code int, key string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	ackErrorPage.Execute(w, ackErrors[key])
}
