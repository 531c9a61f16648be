package simkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFailNext(t *testing.T) {
	var f Faults
	f.FailNext(2, http.StatusTooManyRequests)
	var got []int
	for range 3 {
		st, ok := f.Before(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
		if !ok {
			t.Fatal("not ok without latency")
		}
		got = append(got, st)
	}
	if got[0] != 429 || got[1] != 429 || got[2] != 0 {
		t.Errorf("statuses = %v, want 429, 429, 0", got)
	}
}

func TestLatencyGivesUpWithTheClient(t *testing.T) {
	var f Faults
	f.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("POST", "/", strings.NewReader("{}")).WithContext(ctx)
	if _, ok := f.Before(httptest.NewRecorder(), r, nil); ok {
		t.Error("a request whose client went away must not be answered")
	}
	f.SetLatency(time.Millisecond)
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	if _, ok := f.Before(httptest.NewRecorder(), r, nil); !ok {
		t.Fatal("short latency: want answered")
	}
	var b strings.Builder
	buf := make([]byte, 16)
	n, _ := r.Body.Read(buf)
	b.Write(buf[:n])
	if b.String() != `{"a":1}` {
		t.Errorf("body after latency = %q, want it kept for the handler", b.String())
	}
}
