package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHook(t *testing.T) {
	secret := []byte("s3cret")
	var got HookRequest
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig = r.Header.Get(SignatureHeader)
		if sig != Sign(secret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		json.Unmarshal(body, &got)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	h := NewHook(secret)
	m := Message{Subject: "件名", Text: "本文", Short: "短文", Language: "ja", IncidentID: "INC-000001"}
	if _, err := h.Send(context.Background(), Address{Name: "soar", URL: srv.URL}, m); err != nil {
		t.Fatal(err)
	}
	if got.Incident != "INC-000001" || got.Subject != "件名" || got.Language != "ja" {
		t.Errorf("received %+v", got)
	}
	if _, err := h.Send(context.Background(), Address{Name: "nobody"}, m); !IsPermanent(err) {
		t.Errorf("no URL: err = %v, want permanent", err)
	}
	if _, err := NewHook([]byte("wrong")).Send(context.Background(), Address{Name: "soar", URL: srv.URL}, m); !IsPermanent(err) {
		t.Errorf("401 from the receiver: err = %v, want permanent", err)
	}
}
