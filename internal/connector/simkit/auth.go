package simkit

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Tokens is a simulated OAuth2 client-credentials server: it checks a
// client id and secret, mints bearer tokens that expire, and answers which
// scopes are withheld. Vendors differ in the token endpoint's path and
// answer, not in this; each simulator wraps it in its own handler. The
// zero value is not usable; call NewTokens. Safe for concurrent use.
type Tokens struct {
	mu     sync.Mutex
	id     string
	secret string
	ttl    time.Duration
	now    func() time.Time
	prefix string
	issued int
	live   map[string]time.Time
	denied map[string]bool
}

// NewTokens returns an issuer that accepts id and secret and mints tokens
// valid for ttl on the clock now (time.Now when nil). prefix starts every
// token, so that a token of one simulator is not mistaken for another's.
func NewTokens(id, secret, prefix string, ttl time.Duration, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{id: id, secret: secret, prefix: prefix, ttl: ttl, now: now,
		live: map[string]time.Time{}, denied: map[string]bool{}}
}

// Credentials returns the client id and secret the issuer accepts.
func (t *Tokens) Credentials() (id, secret string) { return t.id, t.secret }

// TTL is how long a minted token lives.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Check reports whether id and secret are the accepted pair, in constant
// time.
func (t *Tokens) Check(id, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(id), []byte(t.id)) == 1 &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(t.secret)) == 1
}

// Mint issues a new token.
func (t *Tokens) Mint() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.issued++
	tok := fmt.Sprintf("%s-%06d", t.prefix, t.issued)
	t.live[tok] = t.now().Add(t.ttl)
	return tok
}

// Issued counts the tokens minted so far (a client that refreshes too
// often shows here).
func (t *Tokens) Issued() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.issued
}

// Valid reports whether tok was minted here and has not expired.
func (t *Tokens) Valid(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.live[strings.TrimSpace(tok)]
	return ok && t.now().Before(exp)
}

// ExpireAll makes every token minted so far invalid, as a vendor does when
// a token times out or is revoked; the client must fetch a new one.
func (t *Tokens) ExpireAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.live)
}

// Deny withholds a scope (permission, role) from the client: calls that
// need it answer 403.
func (t *Tokens) Deny(scope string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.denied[scope] = true
}

// Denied reports whether scope is withheld.
func (t *Tokens) Denied(scope string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.denied[scope]
}

// ClientCredentials reads an OAuth2 client-credentials token request:
// the form's grant_type (empty or client_credentials), and the client id
// and secret from HTTP Basic auth or the form (RFC 6749 §2.3.1). It fails
// with a message fit for a 400 answer.
func ClientCredentials(w http.ResponseWriter, r *http.Request) (id, secret string, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		return "", "", fmt.Errorf("invalid form body")
	}
	if g := r.PostForm.Get("grant_type"); g != "" && g != "client_credentials" {
		return "", "", fmt.Errorf("unsupported_grant_type %s", g)
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id, secret, nil
}

// Bearer returns the token of an "Authorization: Bearer …" header, or "".
func Bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}
