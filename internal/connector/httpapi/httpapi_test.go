package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
)

var (
	errUnauthorized = errors.New("vendor: unauthorized")
	errNotFound     = errors.New("vendor: not found")
)

func client(t *testing.T, h http.Handler, auth httpapi.Auth) *httpapi.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	base, err := httpapi.BaseURL(srv.URL + "/api/")
	if err != nil {
		t.Fatal(err)
	}
	return &httpapi.Client{Vendor: "vendor", Base: base, Auth: auth, HTTP: srv.Client(),
		Kinds: map[int]error{http.StatusUnauthorized: errUnauthorized, http.StatusNotFound: errNotFound}}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "api.example.com", want: "https://api.example.com"},
		{in: " https://api.example.com/v1/ ", want: "https://api.example.com/v1"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "ftp://api.example.com", bad: true},
		{in: "https://a b", bad: true},
	}
	for _, tt := range tests {
		u, err := httpapi.BaseURL(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("BaseURL(%q) = %v, want an error", tt.in, u)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("BaseURL(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
}

// TestErrors: a refusal carries the status and the vendor's message and
// unwraps to the vendor's sentinel; 429 and 5xx are retryable with the
// wait the API asked for; the API key and idempotency key are sent.
func TestErrors(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Key") != "k1" {
			t.Errorf("X-Key = %q", r.Header.Get("X-Key"))
		}
		switch r.URL.Path {
		case "/api/ok":
			if r.Header.Get(httpapi.IdempotencyHeader) != "idem-1" {
				t.Errorf("idempotency header = %q", r.Header.Get(httpapi.IdempotencyHeader))
			}
			w.Write([]byte(`{"ok":true}`))
		case "/api/missing":
			http.Error(w, "no such device", http.StatusNotFound)
		case "/api/busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	c := client(t, h, httpapi.APIKey{Header: "X-Key", Value: "k1"})
	ctx := context.Background()
	resp, err := c.Do(ctx, httpapi.Request{Method: http.MethodPost, Path: "/ok", JSON: map[string]int{"a": 1}, Key: "idem-1"})
	if err != nil || string(resp.Body) != `{"ok":true}` {
		t.Fatalf("Do = %v, %v", resp, err)
	}
	_, err = c.Do(ctx, httpapi.Request{Method: http.MethodGet, Path: "/missing"})
	var e *httpapi.Error
	if !errors.Is(err, errNotFound) || !errors.As(err, &e) || e.Status != http.StatusNotFound || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("404 = %v; want the vendor's message, status 404 and errNotFound", err)
	}
	var re *connector.RetryableError
	if _, err = c.Do(ctx, httpapi.Request{Method: http.MethodGet, Path: "/busy"}); !errors.As(err, &re) || re.After != 7*time.Second {
		t.Errorf("429 = %v; want retryable after 7 s", err)
	}
	if _, err = c.Do(ctx, httpapi.Request{Method: http.MethodGet, Path: "/broken"}); !errors.As(err, &re) {
		t.Errorf("500 = %v; want retryable", err)
	}
}

// TestOAuth2: the token is fetched once and reused; a refused token is
// fetched again and the call repeated once.
func TestOAuth2(t *testing.T) {
	var tokens, calls atomic.Int32
	h := http.NewServeMux()
	h.HandleFunc("POST /api/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != "id" {
			t.Errorf("token form = %v", r.PostForm)
		}
		n := tokens.Add(1)
		w.Write([]byte(`{"access_token":"t` + string(rune('0'+n)) + `","expires_in":3600}`))
	})
	h.HandleFunc("GET /api/x", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") == "Bearer t1" && calls.Load() == 3 {
			w.WriteHeader(http.StatusUnauthorized) // revoked after two calls
			return
		}
		w.Write([]byte(`{}`))
	})
	c := client(t, h, nil)
	c.Auth = &httpapi.OAuth2{TokenURL: c.Base.String() + "/token", ClientID: "id", ClientSecret: "s"}
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Do(ctx, httpapi.Request{Method: http.MethodGet, Path: "/x"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if tokens.Load() != 2 || calls.Load() != 4 {
		t.Errorf("tokens %d, calls %d; want 2 tokens (one renewed after the 401) and 4 calls", tokens.Load(), calls.Load())
	}
}

// TestSessionExpiredTwice: a session refused again right after a fresh
// login is an error of the unauthorized kind, after exactly two logins.
func TestSessionExpiredTwice(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	s := &httpapi.Session{
		Login: func(context.Context, *httpapi.Client) (string, error) { return "cookie", nil },
		Set:   func(req *http.Request, cred string) { req.Header.Set("Cookie", "s="+cred) },
	}
	c := client(t, h, s)
	_, err := c.Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/x"})
	if !errors.Is(err, errUnauthorized) || s.Logins() != 2 {
		t.Errorf("Do = %v after %d logins; want errUnauthorized after 2", err, s.Logins())
	}
}

// TestLimiter: beyond the burst, calls wait their turn on the given clock.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var waited []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	l := httpapi.NewLimiter(2, time.Second, 2) // 2 per second, 2 at once
	for range 4 {
		if err := l.Wait(context.Background(), func() time.Time { return now }, sleep); err != nil {
			t.Fatal(err)
		}
	}
	if len(waited) != 2 || waited[0] != 500*time.Millisecond || waited[1] != time.Second {
		t.Errorf("waits = %v; want [500ms 1s] for the 3rd and 4th call", waited)
	}
}
