package jsonfield

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) Object {
	t.Helper()
	f, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return f
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
		notObj  bool
		keys    int
	}{
		{`{}`, false, false, 0},
		{"  \n{\"a\":1,\"b\":{\"c\":[1,2]}}\t", false, false, 2},
		{`{"a":1,"a":2}`, false, false, 1},
		{``, true, true, 0},
		{`   `, true, true, 0},
		{`[]`, true, true, 0},
		{`"x"`, true, true, 0},
		{`null`, true, true, 0},
		{`12`, true, true, 0},
		{`{`, true, false, 0},
		{`{"a":1}{}`, true, false, 0},
		{`{"a":1} x`, true, false, 0},
		{`{"a":}`, true, false, 0},
	}
	for _, tt := range tests {
		f, err := Parse([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got := errors.Is(err, ErrNotObject); got != tt.notObj {
			t.Errorf("Parse(%q) error %v is ErrNotObject = %v, want %v", tt.in, err, got, tt.notObj)
		}
		if err == nil && len(f) != tt.keys {
			t.Errorf("Parse(%q) has %d keys, want %d", tt.in, len(f), tt.keys)
		}
	}
	if _, err := Parse(nil); err == nil || err.Error() != "it does not begin with {" {
		t.Errorf("Parse(nil) error = %v", err)
	}
	if f, _ := Parse([]byte(`{"a":2,"a":3}`)); f.Str("a") != "3" {
		t.Errorf("duplicate key: got %q, want the last value", f.Str("a"))
	}
}

func TestStr(t *testing.T) {
	f := mustParse(t, `{
		"s": "plain",
		"pad": "  padded \t",
		"esc": "a\"b\\c\u00e9\n",
		"escpad": " \u0020x\n",
		"utf": "café ✓",
		"empty": "",
		"pid": 1234567890123456789,
		"neg": -12.5e3,
		"t": true,
		"f": false,
		"null": null,
		"obj": {"a": 1},
		"arr": ["a"],
		"ws": "   "
	}`)
	tests := []struct{ key, want string }{
		{"s", "plain"},
		{"pad", "padded"},
		{"esc", "a\"b\\cé"},
		{"escpad", "x"},
		{"utf", "café ✓"},
		{"empty", ""},
		{"pid", "1234567890123456789"},
		{"neg", "-12.5e3"},
		{"t", "true"},
		{"f", "false"},
		{"null", ""},
		{"obj", ""},
		{"arr", ""},
		{"ws", ""},
		{"missing", ""},
	}
	for _, tt := range tests {
		if got := f.Str(tt.key); got != tt.want {
			t.Errorf("Str(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	// Hand-built objects may hold invalid JSON: it reads as empty.
	bad := Object{"q": json.RawMessage(`"`), "u": json.RawMessage("\"\xff\""), "x": json.RawMessage(`"a`)}
	for k, want := range map[string]string{"q": "", "u": "\ufffd", "x": ""} {
		if got := bad.Str(k); got != want {
			t.Errorf("invalid %q: Str = %q, want %q", bad[k], got, want)
		}
	}
}

func TestObjHasFirst(t *testing.T) {
	f := mustParse(t, `{"o":{"x":"1","n":{"y":2}},"s":"str","null":null,"e":"","arr":[{}],"bad":"{"}`)
	if got := f.Obj("o").Obj("n").Str("y"); got != "2" {
		t.Errorf("nested Str = %q", got)
	}
	for _, k := range []string{"s", "null", "e", "arr", "bad", "missing"} {
		if o := f.Obj(k); o == nil || len(o) != 0 {
			t.Errorf("Obj(%q) = %v, want an empty non-nil object", k, o)
		}
	}
	if o := (Object{"b": json.RawMessage(`{"a":`)}).Obj("b"); o == nil || len(o) != 0 {
		t.Errorf("Obj of a broken object = %v, want empty", o)
	}
	for k, want := range map[string]bool{"o": true, "s": true, "e": true, "arr": true, "null": false, "missing": false} {
		if got := f.Has(k); got != want {
			t.Errorf("Has(%q) = %v, want %v", k, got, want)
		}
	}
	if got := f.First("missing", "null", "e", "o", "s", "x"); got != "str" {
		t.Errorf("First = %q, want str", got)
	}
	if got := f.First(); got != "" {
		t.Errorf("First() = %q", got)
	}
	if got := f.First("missing"); got != "" {
		t.Errorf("First(missing) = %q", got)
	}
}

func TestNum(t *testing.T) {
	f := mustParse(t, `{"i":42,"neg":-7,"frac":3.9,"negfrac":-3.9,"s":"30","sp":" 12 ","exp":"1e3",
		"big":1e16,"edge":1e15,"nan":"NaN","inf":"Inf","t":true,"f":"false","word":"x","null":null,"obj":{}}`)
	tests := []struct {
		key  string
		want int
		ok   bool
	}{
		{"i", 42, true},
		{"neg", -7, true},
		{"frac", 3, true},
		{"negfrac", -3, true},
		{"s", 30, true},
		{"sp", 12, true},
		{"exp", 1000, true},
		{"edge", 1e15, true},
		{"big", 0, false},
		{"nan", 0, false},
		{"inf", 0, false},
		{"t", 0, false},
		{"f", 0, false},
		{"word", 0, false},
		{"null", 0, false},
		{"obj", 0, false},
		{"missing", 0, false},
	}
	for _, tt := range tests {
		if got, ok := f.Num(tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("Num(%q) = (%d, %v), want (%d, %v)", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFlag(t *testing.T) {
	f := mustParse(t, `{"t":true,"f":false,"st":"true","sT":"TRUE","sf":"false","one":1,"zero":0,"s1":"1",
		"s0":"0","half":0.5,"zf":0.0,"word":"yes","null":null,"obj":{"a":true}}`)
	for k, want := range map[string]bool{
		"t": true, "st": true, "sT": true, "one": true, "s1": true, "half": true,
		"f": false, "sf": false, "zero": false, "s0": false, "zf": false, "word": false,
		"null": false, "obj": false, "missing": false,
	} {
		if got := f.Flag(k); got != want {
			t.Errorf("Flag(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestStrs(t *testing.T) {
	f := mustParse(t, `{"arr":["a"," b ","",null,3,true,{"x":1},["y"]],"csv":"g1, g2,,g3 ","one":"solo",
		"empty":[],"blank":"","broken":"[","num":7}`)
	tests := []struct {
		key  string
		want []string
	}{
		{"arr", []string{"a", "b", "3", "true"}},
		{"csv", []string{"g1", "g2", "g3"}},
		{"one", []string{"solo"}},
		{"empty", nil},
		{"blank", nil},
		{"broken", []string{"["}},
		{"num", []string{"7"}},
		{"missing", nil},
	}
	for _, tt := range tests {
		if got := f.Strs(tt.key); !slices.Equal(got, tt.want) {
			t.Errorf("Strs(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	if got := (Object{"b": json.RawMessage(`["a",`)}).Strs("b"); got != nil {
		t.Errorf("Strs of a broken array = %q, want nil", got)
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a ,b,, c", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		if got := SplitList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 2, 11, 3, 14, 9, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-02-11T03:14:09Z", want},
		{"2026-02-11T03:14:09.904213377Z", want.Add(904213377)},
		{"2026-02-11T03:14:09.1234567Z", want.Add(123456700)},
		{"2026-02-11T04:14:09+01:00", want},
		{"2026-02-11T03:14:09", want},
		{"2026-02-11 03:14:09", want},
		{"1770779649", want},
		{"1770779649000", want},
		{"1770779649000000", want},
		{"1770779649000000000", want},
		{"1770779649.5", want.Add(500 * time.Millisecond)},
		{"0", time.Time{}},
		{"1970-01-01T00:00:00Z", time.Time{}},
		{"-5", time.Time{}},
		{"yesterday", time.Time{}},
		{"99999999999999999999999", time.Time{}},
		// Beyond the original cases:
		{" 2026-02-11T03:14:09Z ", want},
		{"2026-02-11 04:14:09+01:00", want},
		{"", time.Time{}},
		{"1e3", time.Unix(1000, 0)},
		{"0001-01-01T00:00:00Z", time.Time{}},
	}
	for _, tt := range tests {
		got := ParseTime(tt.in)
		if !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) is in %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestTimeAndFirstTime(t *testing.T) {
	want := time.Date(2026, 2, 11, 3, 14, 9, 0, time.UTC)
	f := mustParse(t, `{"iso":"2026-02-11T03:14:09Z","ms":1770779649000,"sec":"1770779649","zero":0,"bad":"soon","obj":{}}`)
	for _, k := range []string{"iso", "ms", "sec"} {
		if got := f.Time(k); !got.Equal(want) {
			t.Errorf("Time(%q) = %v, want %v", k, got, want)
		}
	}
	for _, k := range []string{"zero", "bad", "obj", "missing"} {
		if got := f.Time(k); !got.IsZero() {
			t.Errorf("Time(%q) = %v, want zero", k, got)
		}
	}
	if got := f.FirstTime("missing", "zero", "bad", "ms", "iso"); !got.Equal(want) {
		t.Errorf("FirstTime = %v, want %v", got, want)
	}
	if got := f.FirstTime("zero", "bad"); !got.IsZero() {
		t.Errorf("FirstTime of no times = %v, want zero", got)
	}
}

func TestIsObject(t *testing.T) {
	for in, want := range map[string]bool{`{}`: true, ` {"a":1}`: true, `{`: true, `[]`: false, `""`: false, `null`: false, ``: false, `  `: false} {
		if got := IsObject(json.RawMessage(in)); got != want {
			t.Errorf("IsObject(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRawArray(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, []string{}, true},
		{` [1, "a" ,{"b":[2]}, null] `, []string{`1`, `"a"`, `{"b":[2]}`, `null`}, true},
		{`[1,`, nil, false},
		{`{}`, nil, false},
		{`"[]"`, nil, false},
		{``, nil, false},
		{`null`, nil, false},
	}
	for _, tt := range tests {
		items, ok := RawArray(json.RawMessage(tt.in))
		got := make([]string, len(items))
		for i, it := range items {
			got[i] = string(it)
		}
		if ok != tt.ok || (tt.want == nil) != (items == nil) || !slices.Equal(got, tt.want) {
			t.Errorf("RawArray(%q) = (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParse checks that Parse and every accessor accept any input without
// panicking, that a parsed object is what encoding/json makes of the input,
// and that accessors agree with each other.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `"x"`, ` {"a":"b"} `, `{"a":1}{}`,
		`{"s":" x ","n":1234567890123456789,"f":1.5,"t":true,"z":null,"o":{"p":{"q":"r"}},"a":["x",2,"y,z"]}`,
		`{"e":"a\"b\u00e9\n","c":"g1, g2","ts":"2026-02-11T03:14:09.5Z","ms":1770779649000,"big":1e400}`,
		"{\"bad\":\"\xff\xfe\",\"ctl\":\"\\u0000\"}",
		`{"a":1,"a":2}`, `{"a":{"a":1},"b":[{"a":2}],"a":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		obj, err := Parse(b)
		if err != nil {
			if obj != nil {
				t.Fatalf("Parse failed (%v) but returned %v", err, obj)
			}
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(bytes.TrimSpace(b), &m) != nil || len(m) != len(obj) {
			t.Fatalf("Parse accepted %q, which encoding/json reads differently", b)
		}
		if _, distinct, err := ParseDistinct(b); err != nil || distinct != (topKeys(t, bytes.TrimSpace(b)) == len(obj)) {
			t.Fatalf("ParseDistinct(%q): distinct %v, err %v; encoding/json counts %d keys, %d distinct", b, distinct, err, topKeys(t, bytes.TrimSpace(b)), len(obj))
		}
		keys := []string{"missing"}
		for k := range obj {
			keys = append(keys, k)
		}
		for _, k := range keys {
			s := obj.Str(k)
			if s != strings.TrimSpace(s) {
				t.Fatalf("Str(%q) = %q is not trimmed", k, s)
			}
			if obj.Has(k) != (k != "missing" && string(bytes.TrimSpace(obj[k])) != "null") {
				t.Fatalf("Has(%q) = %v for %s", k, obj.Has(k), obj[k])
			}
			if s != "" && !obj.Has(k) {
				t.Fatalf("Str(%q) = %q but Has is false", k, s)
			}
			if s != "" && obj.First("missing", k) != s {
				t.Fatalf("First disagrees with Str for %q", k)
			}
			if n, ok := obj.Num(k); ok && (n > 1e15 || n < -1e15) {
				t.Fatalf("Num(%q) = %d out of range", k, n)
			}
			for _, v := range obj.Strs(k) {
				if v == "" || v != strings.TrimSpace(v) {
					t.Fatalf("Strs(%q) holds %q", k, v)
				}
			}
			if tm := obj.Time(k); !tm.IsZero() && (tm.Year() < 1970 || tm.Year() > 9999 || tm.Location() != time.UTC) {
				t.Fatalf("Time(%q) = %v", k, tm)
			}
			if !obj.Time(k).Equal(obj.FirstTime(k)) {
				t.Fatalf("Time and FirstTime disagree for %q", k)
			}
			_ = obj.Flag(k)
			if IsObject(obj[k]) {
				sub := obj.Obj(k)
				for sk := range sub {
					_ = sub.Str(sk)
				}
			}
			if items, ok := RawArray(obj[k]); ok {
				for _, it := range items {
					if !json.Valid(it) {
						t.Fatalf("RawArray(%s) gave invalid element %s", obj[k], it)
					}
				}
			}
		}
	})
}

// topKeys counts the members of a valid JSON object with encoding/json's
// tokenizer, repeated keys included.
func topKeys(t *testing.T, b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the key
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
