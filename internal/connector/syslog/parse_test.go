package syslog

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseCEF(t *testing.T) {
	tests := []struct {
		name, in string
		want     CEF
		err      string
	}{
		{
			name: "escapes in header and extension",
			in:   `CEF:0|Ac\|me|Sen\\sor|1.0|100|Port\|scan|5|msg=a\=b c\\d src=10.0.0.1 request=http://x/?q\=1`,
			want: CEF{Version: "0", Vendor: "Ac|me", Product: `Sen\sor`, DevVer: "1.0", Signature: "100", Name: "Port|scan", Severity: "5",
				Ext: map[string]string{"msg": `a=b c\d`, "src": "10.0.0.1", "request": "http://x/?q=1"}},
		},
		{
			name: "values with spaces, an unescaped = inside a value, newline escape",
			in:   `CEF:0|V|P|1|sig|Name|High|cs1Label=Rule Name cs1=Block all traffic url=http://h/p?a=1&b=2 msg=line1\nline2`,
			want: CEF{Version: "0", Vendor: "V", Product: "P", DevVer: "1", Signature: "sig", Name: "Name", Severity: "High",
				Ext: map[string]string{"cs1Label": "Rule Name", "cs1": "Block all traffic", "url": "http://h/p?a=1&b=2", "msg": "line1\nline2"}},
		},
		{
			name: "pipes in the extension need no escape",
			in:   `CEF:0|V|P|1|s|n|3|cs6=a | b | c`,
			want: CEF{Version: "0", Vendor: "V", Product: "P", DevVer: "1", Signature: "s", Name: "n", Severity: "3", Ext: map[string]string{"cs6": "a | b | c"}},
		},
		{
			name: "no extension and no last pipe",
			in:   `CEF:1|V|P|1|s|n|3`,
			want: CEF{Version: "1", Vendor: "V", Product: "P", DevVer: "1", Signature: "s", Name: "n", Severity: "3", Ext: map[string]string{}},
		},
		{name: "too few header fields", in: `CEF:0|V|P|1|s`, err: "CEF header has 4 of 7 fields"},
		{name: "not CEF", in: `LEEF:1.0|V|P|1|e|`, err: "not a CEF record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCEF(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseCEF error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCEF (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCEFLabeled(t *testing.T) {
	c, err := ParseCEF(`CEF:0|V|P|1|s|n|3|cs1Label=Policy cs1=Default Web cn1Label=Host ID cn1=7 cs2=unlabelled`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Policy": "Default Web", "Host ID": "7"}
	if diff := cmp.Diff(want, c.Labeled()); diff != "" {
		t.Errorf("Labeled (-want +got):\n%s", diff)
	}
}

func TestParseLEEF(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"1.0 tabs", "LEEF:1.0|V|P|1|ev|src=10.0.0.1\tsev=5\tmsg=a b", map[string]string{"src": "10.0.0.1", "sev": "5", "msg": "a b"}, ""},
		{"2.0 caret", "LEEF:2.0|V|P|1|ev|^|src=10.0.0.1^sev=5", map[string]string{"src": "10.0.0.1", "sev": "5"}, ""},
		{"2.0 hex x09", "LEEF:2.0|V|P|1|ev|x09|src=1\tsev=2", map[string]string{"src": "1", "sev": "2"}, ""},
		{"2.0 hex 0x5E", "LEEF:2.0|V|P|1|ev|0x5E|src=1^sev=2", map[string]string{"src": "1", "sev": "2"}, ""},
		{"2.0 without delimiter field", "LEEF:2.0|V|P|1|ev|src=1\tsev=2", map[string]string{"src": "1", "sev": "2"}, ""},
		{"2.0 empty delimiter field", "LEEF:2.0|V|P|1|ev||src=1\tsev=2", map[string]string{"src": "1", "sev": "2"}, ""},
		{"tabs turned into spaces by a relay", "LEEF:1.0|V|P|1|ev|src=10.0.0.1 sev=5 msg=a b", map[string]string{"src": "10.0.0.1", "sev": "5", "msg": "a b"}, ""},
		{"value with =", "LEEF:1.0|V|P|1|ev|url=http://h/?a=1\tsev=5", map[string]string{"url": "http://h/?a=1", "sev": "5"}, ""},
		{"no attributes", "LEEF:1.0|V|P|1|ev", map[string]string{}, ""},
		{"bad delimiter", "LEEF:2.0|V|P|1|ev|xZZ|a=1", nil, `LEEF delimiter "xZZ"`},
		{"long delimiter", "LEEF:2.0|V|P|1|ev|ab|a=1", nil, "not one character"},
		{"short header", "LEEF:1.0|V|P", nil, "LEEF header has 2 of 5 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLEEF(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseLEEF error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Vendor != "V" || got.Product != "P" || got.EventID != "ev" {
				t.Errorf("header %+v", got)
			}
			if diff := cmp.Diff(tt.want, got.Attrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseKV(t *testing.T) {
	got := parseKV(`date=2026-03-10 time=12:00:00 devname="FGT A" msg="say \"hi\"" empty="" level=warning`)
	want := map[string]string{"date": "2026-03-10", "time": "12:00:00", "devname": "FGT A", "msg": `say "hi"`, "empty": "", "level": "warning"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseKV (-want +got):\n%s", diff)
	}
}

func TestTimes(t *testing.T) {
	want := time.Date(2026, 3, 10, 12, 3, 5, 0, time.UTC)
	tests := []struct{ name, in, format string }{
		{"epoch ms", "1773144185000", ""},
		{"epoch s", "1773144185", ""},
		{"CEF text with zone", "Mar 10 2026 12:03:05 GMT", ""},
		{"CEF text with ms and offset", "Mar 10 2026 13:03:05.000 +0100", ""},
		{"CEF text without zone", "Mar 10 2026 12:03:05", ""},
		{"RFC 3339", "2026-03-10T12:03:05Z", ""},
		{"LEEF devTimeFormat", "10/03/2026 12:03:05", "dd/MM/yyyy HH:mm:ss"},
		{"LEEF devTimeFormat with literal and zone", "2026-03-10T13:03:05.000+0100", "yyyy-MM-dd'T'HH:mm:ss.SSSZ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leefTime(tt.in, tt.format); !got.Equal(want) {
				t.Errorf("time %q (%q) = %v, want %v", tt.in, tt.format, got, want)
			}
		})
	}
	if got := eventTime("1773144185123456789"); got.Nanosecond() != 123456789 {
		t.Errorf("epoch ns lost precision: %v", got)
	}
}

func TestHeader(t *testing.T) {
	ref := time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)
	tests := []struct {
		name, line string
		want       header
	}{
		{"RFC 5424", "<165>1 2026-03-10T12:13:14.003Z host.example app 42 ID47 - body text",
			header{Severity: 5, Time: time.Date(2026, 3, 10, 12, 13, 14, 3e6, time.UTC), Hostname: "host.example", App: "app", ProcID: "42", Body: "body text"}},
		{"RFC 3164 stamp of last year", "<13>Dec 31 23:59:58 host app[7]: body",
			header{Severity: 5, Time: time.Date(2025, 12, 31, 23, 59, 58, 0, time.UTC), Hostname: "host", App: "app", ProcID: "7", Body: "body"}},
		{"PRI only", "<189>date=2026-03-10 time=12:00:00 devname=x", header{Severity: 5, Body: "date=2026-03-10 time=12:00:00 devname=x"}},
		{"no PRI, a file line", "Jan  1 00:01:00 host app: body",
			header{Severity: -1, Time: time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC), Hostname: "host", App: "app", Body: "body"}},
		{"bare CEF", "CEF:0|a|b|c|d|e|1|", header{Severity: -1, Body: "CEF:0|a|b|c|d|e|1|"}},
		{"PRI out of range", "<192>x", header{Severity: -1, Body: "<192>x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseHeader(tt.line, ref)); diff != "" {
				t.Errorf("parseHeader (-want +got):\n%s", diff)
			}
		})
	}
}
