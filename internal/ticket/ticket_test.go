package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

var at = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newPCR(t *testing.T) *Ticket {
	t.Helper()
	tk := &Ticket{ID: 7, Ref: TicketRef(7), Tenant: "a", Kind: KindPCR, Title: "allow backup agent",
		PCR: &AllowRequest{Reason: "our backup tool"}}
	tk.PCR.SHA256 = "5f0b2d7e8c1a4b3f9e6d0c7a2b8f1e4d3c6a9b0e7f2d5c8a1b4e7f0a3d6c9b2E"
	if err := NewTicket(tk, at); err != nil {
		t.Fatalf("NewTicket: %v", err)
	}
	return tk
}

func TestNewTicketRefusesBadInput(t *testing.T) {
	for name, tk := range map[string]*Ticket{
		"unknown kind":    {Kind: "complaint", Title: "x"},
		"no title":        {Kind: KindInquiry, Title: " "},
		"pcr without req": {Kind: KindPCR, Title: "x"},
		"req on inquiry":  {Kind: KindInquiry, Title: "x", PCR: &AllowRequest{SHA256: "00", Reason: "r"}},
		"bad hash":        {Kind: KindPCR, Title: "x", PCR: &AllowRequest{SHA256: "xyz", Reason: "r"}},
		"host glob only":  {Kind: KindPCR, Title: "x", PCR: &AllowRequest{HostGlob: "web*", Reason: "r"}},
		"no reason":       {Kind: KindPCR, Title: "x", PCR: &AllowRequest{PathGlob: `C:\a\*`}},
		"bad glob":        {Kind: KindPCR, Title: "x", PCR: &AllowRequest{PathGlob: `C:\a\[`, Reason: "r"}},
	} {
		if err := NewTicket(tk, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	tk := &Ticket{Ref: "TKT-000001", Kind: KindInquiry, Title: "how do I read the report?"}
	if err := NewTicket(tk, at); err != nil {
		t.Fatal(err)
	}
	for _, s := range []State{StateInProgress, StateWaitingCustomer, StateInProgress, StateResolved, StateClosed} {
		if err := tk.Move(s, at); err != nil {
			t.Fatalf("move to %s: %v", s, err)
		}
	}
	for _, s := range []State{StateReceived, StateInProgress, StateResolved, "bogus"} {
		if err := tk.Move(s, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("closed → %s: got %v, want ErrInvalid", s, err)
		}
	}
	if tk.State != StateClosed {
		t.Errorf("state %s after refused moves, want closed", tk.State)
	}
}

func TestPCRDecision(t *testing.T) {
	tk := newPCR(t)
	if tk.PCR.SHA256[63] != 'e' {
		t.Errorf("sha256 not lower-cased: %s", tk.PCR.SHA256)
	}
	if err := tk.Move(StateResolved, at); !errors.Is(err, ErrInvalid) {
		t.Errorf("resolving a PCR without a decision: got %v", err)
	}
	if err := tk.Decide(DecisionRefused, " ", "alice", at); !errors.Is(err, ErrInvalid) {
		t.Errorf("refusing without a reason: got %v", err)
	}
	if tk.PCR.Decision != DecisionNone || tk.State != StateReceived {
		t.Fatalf("a refused decision changed the ticket: %+v", tk)
	}
	if err := tk.Decide(DecisionApplied, "", "alice", at); err != nil {
		t.Fatal(err)
	}
	if tk.State != StateResolved || tk.PCR.DecidedBy != "alice" {
		t.Errorf("after apply: %+v %+v", tk, tk.PCR)
	}
	if err := tk.Decide(DecisionRefused, "late", "bob", at); !errors.Is(err, ErrInvalid) {
		t.Errorf("deciding twice: got %v", err)
	}
	inq := &Ticket{Kind: KindInquiry, Title: "q"}
	_ = NewTicket(inq, at)
	if err := inq.Decide(DecisionApplied, "", "alice", at); !errors.Is(err, ErrInvalid) {
		t.Errorf("deciding an inquiry: got %v", err)
	}
}

func TestAllowRequestMatches(t *testing.T) {
	a := &alert.Alert{Host: alert.Host{Name: "WEB01.corp.example"},
		Process: alert.Process{Name: "agent.exe", Path: `C:\Program Files\Backup`, SHA256: "aa"}}
	for _, tc := range []struct {
		r    AllowRequest
		want bool
	}{
		{AllowRequest{SHA256: "AA"}, true},
		{AllowRequest{SHA256: "bb"}, false},
		{AllowRequest{PathGlob: `c:\program files\backup\*.exe`}, true},
		{AllowRequest{PathGlob: `C:/Program Files/Backup/agent.exe`}, true},
		{AllowRequest{PathGlob: `C:\Windows\*`}, false},
		{AllowRequest{SHA256: "aa", HostGlob: "web*"}, true},
		{AllowRequest{SHA256: "aa", HostGlob: "*.corp.example"}, true},
		{AllowRequest{SHA256: "aa", HostGlob: "db*"}, false},
		{AllowRequest{HostGlob: "web*"}, false}, // never a whole host
	} {
		if got := tc.r.Matches(a); got != tc.want {
			t.Errorf("%+v: got %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestParseTicketRef(t *testing.T) {
	for in, want := range map[string]int64{"TKT-000123": 123, "42": 42} {
		if got, err := ParseTicketRef(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"INC-000001", "0", "x", "12abc"} {
		if _, err := ParseTicketRef(in); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func TestNotesAreBilingual(t *testing.T) {
	n := VerdictNote(VerdictFalsePositive, "alice", "backup tool")
	for _, s := range []string{"誤検知", "False Positive", "backup tool"} {
		if !strings.Contains(n, s) {
			t.Errorf("verdict note %q lacks %q", n, s)
		}
	}
	p := PCRMatchNote("TKT-000001", AllowRequest{SHA256: "aa"})
	for _, s := range []string{"許可リスト", "Allowlist request", "TKT-000001", "sha256=aa"} {
		if !strings.Contains(p, s) {
			t.Errorf("PCR note %q lacks %q", p, s)
		}
	}
}
