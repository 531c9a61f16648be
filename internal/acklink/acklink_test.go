package acklink

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	key = DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	now = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
)

func TestRoundTrip(t *testing.T) {
	c := Claim{Tenant: "hokuto", Incident: 42, Contact: "ciso", Expires: now.Add(DefaultTTL)}
	tok, err := Sign(key, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(key, tok, now)
	if err != nil || got != c {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, c)
	}
}

func TestRefused(t *testing.T) {
	c := Claim{Tenant: "hokuto", Incident: 42, Contact: "ciso", Expires: now.Add(time.Hour)}
	tok, _ := Sign(key, c)
	other, _ := Sign(key, Claim{Tenant: "minato", Incident: 42, Contact: "ciso", Expires: now.Add(time.Hour)})
	body, sig, _ := strings.Cut(tok, ".")
	_, otherSig, _ := strings.Cut(other, ".")
	tests := []struct {
		name  string
		token string
		key   []byte
		at    time.Time
		want  error
	}{
		{"expired", tok, key, now.Add(time.Hour), ErrExpired},
		{"other key", tok, DeriveKey([]byte("another secret")), now, ErrForged},
		{"another tenant's signature", body + "." + otherSig, key, now, ErrForged},
		{"no signature", body, key, now, ErrForged},
		{"truncated signature", body + "." + sig[:10], key, now, ErrForged},
		{"empty", "", key, now, ErrForged},
		{"not base64", "!!!.???", key, now, ErrForged},
		{"too long", strings.Repeat("a", 3000) + "." + sig, key, now, ErrForged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(tc.key, tc.token, tc.at); !errors.Is(err, tc.want) {
				t.Errorf("Verify: err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefusesBadClaims(t *testing.T) {
	for _, c := range []Claim{{Tenant: "", Incident: 1}, {Tenant: "a", Incident: 0}, {Tenant: "a\nb", Incident: 1}} {
		if _, err := Sign(key, c); err == nil {
			t.Errorf("Sign(%+v) succeeded", c)
		}
	}
}

// FuzzVerify: no token, however mangled, panics or verifies unless it is
// exactly one bannin signed.
func FuzzVerify(f *testing.F) {
	tok, _ := Sign(key, Claim{Tenant: "hokuto", Incident: 7, Contact: "it-ml", Expires: now.Add(time.Hour)})
	f.Add(tok)
	f.Add("")
	f.Add(".")
	f.Add("aG9rdXRvCjcKaXQtbWwKMA.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify(key, s, now)
		if err != nil {
			return
		}
		again, _ := Sign(key, c)
		if again != s {
			t.Errorf("token %q verified as %+v but bannin signs that claim as %q", s, c, again)
		}
	})
}
