// Package acklink signs and checks acknowledgement links: the URL in a
// notification mail or Slack message that lets its reader take the
// incident in hand, which stops the incident's escalation chain.
//
// A token names the tenant, the incident, the contact it was sent to and
// when it expires, and carries an HMAC-SHA256 of those over a key only
// bannin holds. Nothing is stored per link: a token that verifies was
// issued by bannin, for that incident, to that contact.
package acklink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultTTL is how long a link stays valid: long enough for a weekend,
// short enough that an old mail cannot silence a new incident's chain
// (each link names one incident anyway).
const DefaultTTL = 7 * 24 * time.Hour

// Errors of Verify. Both mean: change nothing.
var (
	ErrForged  = errors.New("the acknowledgement link is not valid (altered, truncated or not issued by this bannin)")
	ErrExpired = errors.New("the acknowledgement link has expired")
)

// Claim is what a link vouches for.
type Claim struct {
	Tenant   string
	Incident int64
	Contact  string
	Expires  time.Time
}

// DeriveKey turns bannin's secret key into the key for links, so the
// sealing key itself never signs anything that leaves the store.
func DeriveKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bannin acknowledgement link v1"))
	return m.Sum(nil)
}

// Sign returns the token for a claim. The fields may not contain a
// newline (tenant ids and contact names never do).
func Sign(key []byte, c Claim) (string, error) {
	if strings.ContainsAny(c.Tenant+c.Contact, "\n") || c.Tenant == "" || c.Incident <= 0 {
		return "", fmt.Errorf("acknowledgement link: bad claim %+v", c)
	}
	body := strings.Join([]string{c.Tenant, strconv.FormatInt(c.Incident, 10), c.Contact,
		strconv.FormatInt(c.Expires.Unix(), 10)}, "\n")
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(body)) + "." + enc.EncodeToString(mac(key, body)), nil
}

// Verify checks a token's signature, then its expiry against now.
func Verify(key []byte, token string, now time.Time) (Claim, error) {
	enc := base64.RawURLEncoding.Strict()
	b64, sig64, ok := strings.Cut(token, ".")
	if !ok || len(token) > 2048 {
		return Claim{}, ErrForged
	}
	body, err1 := enc.DecodeString(b64)
	sig, err2 := enc.DecodeString(sig64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, mac(key, string(body))) {
		return Claim{}, ErrForged
	}
	f := strings.Split(string(body), "\n")
	if len(f) != 4 {
		return Claim{}, ErrForged
	}
	id, err1 := strconv.ParseInt(f[1], 10, 64)
	exp, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 || f[0] == "" {
		return Claim{}, ErrForged
	}
	c := Claim{Tenant: f[0], Incident: id, Contact: f[2], Expires: time.Unix(exp, 0).UTC()}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}

func mac(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return m.Sum(nil)
}
