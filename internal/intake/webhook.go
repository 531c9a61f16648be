package intake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" made with
// the source's webhook secret.
const SignatureHeader = "X-Bannin-Signature"

// MaxBodyBytes limits one webhook request body.
const MaxBodyBytes = 8 << 20

// Webhook serves POST /v1/ingest/{tenant}/{source}.
type Webhook struct {
	Dir       Directory
	Committer *Committer
	Clock     func() time.Time
	Log       *slog.Logger
}

// Sign returns the signature header value for a body, for senders and tests.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func verify(secret, body []byte, header string) bool {
	want := Sign(secret, body)
	return len(secret) > 0 && hmac.Equal([]byte(want), []byte(strings.TrimSpace(header)))
}

// ServeHTTP accepts one alert object, a JSON array or NDJSON, and answers
// 202 only after every payload is durable.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenantID, source := r.PathValue("tenant"), r.PathValue("source")
	src, err := h.Dir.Source(tenantID, source)
	if err != nil || src.Secret == nil {
		// One answer for "no such tenant", "no such source" and "webhook off",
		// so the endpoint does not reveal which tenants exist.
		writeError(w, http.StatusNotFound, "no webhook for tenant "+tenantID+" source "+source)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "body exceeds 8 MiB; send smaller batches")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body failed")
		return
	}
	if !verify(src.Secret, body, r.Header.Get(SignatureHeader)) {
		h.Log.Warn("webhook signature rejected", "tenant", tenantID, "source", source, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "missing or wrong "+SignatureHeader+" (want sha256=<hex HMAC-SHA256 of the body>)")
		return
	}
	now := h.Clock().UTC()
	items, quarantined, splitErr := h.items(tenantID, source, now, body)
	if splitErr != nil {
		// Nothing usable: kept whole in quarantine with the reason, so it can
		// be fixed and re-run (`bannin quarantine retry`).
		item := sqlstore.InboxItem{Tenant: tenantID, Source: source, ReceivedAt: now, Payload: body,
			State: sqlstore.InboxQuarantined, Error: splitErr.Error()}
		if err := h.Committer.Submit(r.Context(), []sqlstore.InboxItem{item}); err != nil {
			h.fail(w, err)
			return
		}
		writeError(w, http.StatusBadRequest, splitErr.Error()+" (kept in quarantine)")
		return
	}
	if err := h.Committer.Submit(r.Context(), items); err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	reply := map[string]any{"accepted": len(items) - len(quarantined)}
	if len(quarantined) > 0 {
		reply["quarantined"] = quarantined
	}
	json.NewEncoder(w).Encode(reply)
}

// items cuts a body into inbox rows. When the body as a whole is not valid
// but is line-separated (NDJSON with a broken line), every good line is
// accepted and every bad one kept in quarantine with its reason, so one bad
// line neither loses nor blocks the others; quarantined lists those reasons.
// Only a body with no usable payload at all is an error.
func (h *Webhook) items(tenantID, source string, now time.Time, body []byte) (items []sqlstore.InboxItem, quarantined []string, err error) {
	row := func(p []byte) sqlstore.InboxItem {
		return sqlstore.InboxItem{Tenant: tenantID, Source: source, ReceivedAt: now, Payload: p}
	}
	payloads, err := connector.Split(body)
	if err == nil {
		for _, p := range payloads {
			items = append(items, row(p))
		}
		return items, nil, nil
	}
	lines := bytes.Split(body, []byte("\n"))
	if len(lines) < 2 {
		return nil, nil, err
	}
	good := 0
	for n, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ps, lerr := connector.Split(line)
		if lerr != nil {
			reason := fmt.Sprintf("line %d: %v", n+1, lerr)
			it := row(bytes.Clone(line))
			it.State, it.Error = sqlstore.InboxQuarantined, reason
			items = append(items, it)
			quarantined = append(quarantined, reason)
			continue
		}
		for _, p := range ps {
			items, good = append(items, row(p)), good+1
		}
	}
	if good == 0 {
		return nil, nil, err
	}
	return items, quarantined, nil
}

func (h *Webhook) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrBusy) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, ErrBusy.Error())
		return
	}
	h.Log.Error("webhook commit failed", "err", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "could not store the alerts; nothing was accepted, retry")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]string{"error": msg})
}
