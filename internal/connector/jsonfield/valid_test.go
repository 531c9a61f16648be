package jsonfield

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	``, ` `, `{}`, `[]`, ` { } `, `[ ]`, `null`, `true`, `false`, `nul`, `truex`, `"x"`, `"`, `"\`, `"\"`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-05`, `1e`, `1e+`, `-1.5e10`, `2.`, `0x1`,
	`{"a":1}`, `{"a":1,}`, `{"a" : [1, 2, {"b": null}] }`, `{a:1}`, `{"a"}`, `{"a":}`, `{"a":1 "b":2}`,
	`[1,]`, `[,1]`, `[1 2]`, `[1,2]]`, `[[1,2]`, `{"a":1}}`, `{"a":[}`, `{"a":{]}`, `[}`, `{]`,
	`"\u00e9"`, `"\u00g9"`, `"\u00e"`, `"\ud800"`, `"\x"`, "\"a\tb\"", "\"\xff\xfe\"", "\"\x7f\"",
	`{"a":1}{}`, `{} {}`, "\t\r\n{}\n", `[true,false,null]`, `[tru]`, `{"":""}`, `"\/\b\f\n\r\t\\\""`,
	`{"a":"b"`, `{"a":"b",`, `{"a":"b","c"`, `{"a"::1}`, `[1]x`, `1 2`, `-01`, `-a`, `[-]`, `{"a":-}`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

func TestValidDepth(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		for _, inner := range []string{"", "1", `{}`} {
			for _, open := range []string{"[", `{"a":`} {
				close := "]"
				if open != "[" {
					close = "}"
				}
				s := strings.Repeat(open, n) + inner + strings.Repeat(close, n)
				if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
					t.Errorf("depth %d of %q around %q: Valid = %v, encoding/json says %v", n, open, inner, got, want)
				}
			}
		}
	}
}

// FuzzValid holds Valid equal to encoding/json's Valid on any input.
func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	payload := []byte(`{"composite_id":"a:ind:b","device":{"device_id":"4f2a","hostname":"fs01","local_ip":"10.0.0.5",` +
		`"platform_name":"Windows","tags":["a","b"]},"severity":70,"tactic":"Credential Access","cmdline":"C:\\Windows\\x.exe -k \"q\"",` +
		`"sha256":"` + strings.Repeat("ab", 32) + `","timestamp":"2026-02-11T03:14:09.5Z","pattern_id":10197,"ok":true,"n":null,"f":-1.5e3}`)
	b.Run("jsonfield", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			Valid(payload)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			json.Valid(payload)
		}
	})
}
