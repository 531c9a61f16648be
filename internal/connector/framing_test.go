package connector_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/connector"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // compacted payloads
		says string   // part of the error, when one is wanted
	}{
		{name: "one object", body: ` {"a":1} `, want: []string{`{"a":1}`}},
		{name: "array", body: "[{\"a\":1},\n {\"b\":2} ]", want: []string{`{"a":1}`, `{"b":2}`}},
		{name: "empty array", body: `[]`, want: []string{}},
		{name: "NDJSON", body: "{\"a\":1}\n{\"b\":2}\r\n{\"c\":3}\n", want: []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}},
		{name: "concatenated", body: `{"a":1}{"b":2}`, want: []string{`{"a":1}`, `{"b":2}`}},
		{name: "pretty-printed", body: "{\n  \"a\": [1, 2],\n  \"s\": \"x y\"\n}\n{\n  \"b\": {}\n}",
			want: []string{`{"a":[1,2],"s":"x y"}`, `{"b":{}}`}},
		{name: "nested arrays inside an object", body: `{"a":[[{"b":1}]]}`, want: []string{`{"a":[[{"b":1}]]}`}},
		{name: "empty", body: " \n\t", says: "empty body"},
		{name: "array of non-objects", body: `[{"a":1},2]`, says: "array element 1 is not an object"},
		{name: "array of arrays", body: `[[{"a":1}]]`, says: "array element 0 is not an object"},
		{name: "array with trailing data", body: `[{"a":1}] {"b":2}`, says: "JSON array"},
		{name: "unterminated array", body: `[{"a":1}`, says: "JSON array"},
		{name: "a number", body: `42`, says: "payload 1 is not a JSON object"},
		{name: "null", body: `null`, says: "payload 1 is not a JSON object"},
		{name: "object then a string", body: `{"a":1} "b"`, says: "payload 2 is not a JSON object"},
		{name: "unterminated object", body: `{"a":1}` + "\n" + `{"b":`, says: "payload 2"},
		{name: "garbage after an object", body: `{"a":1}]`, says: "payload 2"},
		{name: "not JSON", body: `alert: mimikatz on pc-1`, says: "payload 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := connector.Split([]byte(tt.body))
			if tt.says != "" {
				if err == nil || !errors.Is(err, connector.ErrBadPayload) || !strings.Contains(err.Error(), tt.says) {
					t.Fatalf("Split = %q, %v; want an ErrBadPayload saying %q", got, err, tt.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compacted := []string{}
			for _, p := range got {
				compacted = append(compacted, compact(t, p))
			}
			if diff := cmp.Diff(tt.want, compacted); diff != "" {
				t.Errorf("payloads (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplitKeepsBytes checks that a payload is passed on as sent: the
// decoder and the quarantine see the vendor's bytes, not a re-encoding.
func TestSplitKeepsBytes(t *testing.T) {
	in := `{"b":2,"a":"\u00e9\u003c","n":1.50,"big":12345678901234567890}`
	got, err := connector.Split([]byte("[" + in + "]\n"))
	if err != nil || len(got) != 1 || string(got[0]) != in {
		t.Fatalf("Split = %q, %v; want the object byte for byte", got, err)
	}
}

func compact(t *testing.T, p []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		t.Fatalf("payload %q is not JSON: %v", p, err)
	}
	return b.String()
}

// FuzzSplit feeds arbitrary bodies: Split never panics; it either fails
// with ErrBadPayload or returns JSON objects only, which split again, one
// per line, give the same payloads.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `[{"a":1},{"b":[1,2]}]`, "{\"a\":1}\n{\"b\":2}\n", "{\n \"a\": 1\n}{\"b\":2}",
		``, `[]`, `[1]`, `null`, `{`, `{"a":1} 2`, `[{}]]`, "\xef\xbb\xbf{}", `{"a":"\ud800"}`,
		`[[[[[[[[{}]]]]]]]]`, `{"a":{"b":{"c":{}}}}`, " \t\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		payloads, err := connector.Split(body)
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] != '[' {
			if want, ok := decoderSplit(trimmed); ok != (err == nil) || ok && !cmp.Equal(payloads, want) {
				t.Fatalf("Split = %q, %v; encoding/json's decoder reads %q (ok %v)", payloads, err, want, ok)
			}
		}
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) || payloads != nil {
				t.Fatalf("Split = %d payloads, %v; a failure must be ErrBadPayload alone", len(payloads), err)
			}
			return
		}
		for i, p := range payloads {
			var m map[string]json.RawMessage
			if len(p) == 0 || p[0] != '{' || !json.Valid(p) || json.Unmarshal(p, &m) != nil {
				t.Fatalf("payload %d = %q, want one JSON object", i, p)
			}
		}
		if len(payloads) == 0 {
			return
		}
		again, err := connector.Split(bytes.Join(payloads, []byte("\n")))
		if err != nil {
			t.Fatalf("the payloads as NDJSON do not split again: %v", err)
		}
		if len(again) != len(payloads) {
			t.Fatalf("the payloads as NDJSON split into %d, want %d", len(again), len(payloads))
		}
		for i := range again {
			if !bytes.Equal(again[i], payloads[i]) {
				t.Fatalf("payload %d changed when split again: %q → %q", i, payloads[i], again[i])
			}
		}
	})
}

// decoderSplit reads a body that is not an array as Split did before it had
// a fast path: with encoding/json's decoder, one value after the other; ok
// is false when that fails or finds a value that is not an object.
func decoderSplit(body []byte) (out [][]byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out, errors.Is(err, io.EOF)
		}
		if raw[0] != '{' {
			return nil, false
		}
		out = append(out, raw)
	}
}
