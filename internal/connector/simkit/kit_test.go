package simkit

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tk := NewTokens("id", "secret", "tok", time.Minute, func() time.Time { return now })
	if tk.Check("id", "wrong") || !tk.Check("id", "secret") {
		t.Fatal("Check accepts the wrong pair or refuses the right one")
	}
	a := tk.Mint()
	if !tk.Valid(a) || tk.Valid("tok-999999") {
		t.Fatal("Valid wrong")
	}
	now = now.Add(2 * time.Minute)
	if tk.Valid(a) {
		t.Error("expired token still valid")
	}
	b := tk.Mint()
	tk.ExpireAll()
	if tk.Valid(b) || tk.Issued() != 2 {
		t.Errorf("after ExpireAll: valid=%v issued=%d", tk.Valid(b), tk.Issued())
	}
	tk.Deny("Machine.Isolate")
	if !tk.Denied("Machine.Isolate") || tk.Denied("Alert.Read.All") {
		t.Error("Deny/Denied wrong")
	}
}

func TestClientCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		basic      bool
		id         string
		err        bool
	}{
		{"form", "grant_type=client_credentials&client_id=a&client_secret=b", false, "a", false},
		{"basic", "grant_type=client_credentials", true, "u", false},
		{"wrong grant", "grant_type=password", false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/token", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic {
				r.SetBasicAuth("u", "p")
			}
			id, _, err := ClientCredentials(httptest.NewRecorder(), r)
			if (err != nil) != tc.err || id != tc.id {
				t.Errorf("id=%q err=%v", id, err)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "bearer abc ")
	if Bearer(r) != "abc" {
		t.Errorf("Bearer = %q", Bearer(r))
	}
}

func TestFeedPagesExactlyWhileItemsArrive(t *testing.T) {
	var f Feed
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if err := f.Add(Item{ID: fmt.Sprint(i + 8), Created: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if f.Add(Item{ID: "8"}) == nil {
		t.Error("duplicate id accepted")
	}
	var got []string
	cur := ""
	for round := 0; ; round++ {
		p, err := f.Read(Query{Cursor: cur, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			got = append(got, it.ID)
		}
		cur = p.Next
		if round == 0 { // an item arrives mid-paging, later than the cursor
			_ = f.Add(Item{ID: "100", Created: t0.Add(time.Hour)})
		}
		if !p.More {
			break
		}
	}
	want := "8 9 10 11 12 100"
	if strings.Join(got, " ") != want {
		t.Errorf("paged %v, want %s", got, want)
	}
	p, _ := f.Read(Query{Cursor: cur})
	if len(p.Items) != 0 || p.Next != cur {
		t.Errorf("past the end: %d items, next changed=%v", len(p.Items), p.Next != cur)
	}
	if _, err := f.Read(Query{Cursor: "!!"}); err == nil {
		t.Error("bad cursor accepted")
	}
	items, total := f.ReadOffset(func(it Item) bool { return it.ID != "9" }, 1, 2)
	if total != 5 || len(items) != 2 || items[0].ID != "10" {
		t.Errorf("ReadOffset = %v, %d", items, total)
	}
}

func TestLedgerCountsAcceptedCalls(t *testing.T) {
	var l Ledger
	l.Record(Entry{HostID: "h1", Action: "isolate", Key: "k1", Status: 200})
	l.Record(Entry{HostID: "h1", Action: "isolate", Key: "k1", Status: 429})
	l.Record(Entry{HostID: "h2", Action: "isolate", Status: 201})
	l.SetContained("h1", true)
	c := l.Calls()
	if c["k1"] != 1 || c["isolate:h2"] != 1 || len(l.Entries()) != 3 || !l.Contained("h1") || l.Contained("h2") {
		t.Errorf("calls=%v entries=%d", c, len(l.Entries()))
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := RateLimit{Max: 2, Window: time.Minute, Now: func() time.Time { return now }}
	ok1, _ := l.Allow()
	ok2, _ := l.Allow()
	ok3, wait := l.Allow()
	if !ok1 || !ok2 || ok3 || wait != time.Minute {
		t.Errorf("%v %v %v wait=%v", ok1, ok2, ok3, wait)
	}
	now = now.Add(time.Minute)
	if ok, _ := l.Allow(); !ok {
		t.Error("new window refused")
	}
	w := httptest.NewRecorder()
	SetRetryAfter(w, 1500*time.Millisecond)
	if w.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q", w.Header().Get("Retry-After"))
	}
}
