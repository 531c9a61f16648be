// Package jsonfield reads vendor JSON objects leniently: a field of an
// unexpected JSON type reads as empty instead of failing the whole payload,
// because vendors change the type of minor fields ("cloud_indicator":"false")
// more often than they change the alert itself.
//
// The connectors decode alerts with it; it keeps each field's raw bytes and
// converts on access, so numbers such as 19-digit process ids keep every
// digit.
package jsonfield

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotObject is returned by Parse for input that does not begin with '{'.
var ErrNotObject = errors.New("it does not begin with {")

// Object is one JSON object read leniently: each key maps to the field's
// raw JSON value. Accessors return the zero value for a missing field, a
// null, or a value of a type they cannot read.
type Object map[string]json.RawMessage

// Parse reads b as one JSON object. It fails for anything else (arrays,
// scalars, trailing data); input that does not begin with '{' (after white
// space) fails with ErrNotObject.
func Parse(b []byte) (Object, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, ErrNotObject
	}
	if !Valid(b) {
		var f Object
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, err // encoding/json's own error
		}
		return f, nil // not reached: Valid and Unmarshal agree
	}
	return split(bytes.Clone(b)), nil
}

// ParseDistinct is Parse that also reports whether every key is distinct.
// A repeated key keeps its last value here, while json.Unmarshal into a
// struct works through every occurrence; a caller that must read an object
// exactly as encoding/json would falls back to it when distinct is false.
func ParseDistinct(b []byte) (obj Object, distinct bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false, ErrNotObject
	}
	if !Valid(b) {
		obj, err = Parse(b) // encoding/json's own error
		return nil, false, err
	}
	obj, n := splitCounted(bytes.Clone(b))
	return obj, n == len(obj), nil
}

// split reads a valid JSON object into its fields as encoding/json does
// (the last of repeated keys wins; keys are unescaped), with each value a
// slice of b rather than a copy, in one pass that builds no other values.
// It is what made decoding twice as fast: json.Unmarshal into a map of raw
// messages validates, scans again and copies every value.
func split(b []byte) Object {
	f, _ := splitCounted(b)
	return f
}

// splitCounted is split that also counts the members read, repeated keys
// included.
func splitCounted(b []byte) (f Object, members int) {
	f = Object{}
	i := skipSpace(b, 1)
	for ; i < len(b) && b[i] == '"'; members++ {
		end := skipString(b, i)
		key := unquote(b[i:end])
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // the colon
		vend := skipValue(b, i)
		f[key] = json.RawMessage(b[i:vend:vend])
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return f, members
}

// Objects cuts b into the JSON objects it holds one after the other,
// separated by white space only (NDJSON, concatenated or pretty-printed
// objects), each a copy. ok is false when b is anything else: no object,
// an invalid one, or something that is not an object; the caller then
// reads b with encoding/json to say what is wrong.
func Objects(b []byte) (objs [][]byte, ok bool) {
	b = bytes.TrimSpace(b)
	for i := 0; i < len(b); i = skipSpace(b, i) {
		if b[i] != '{' {
			return nil, false
		}
		end := skipValue(b, i)
		if !Valid(b[i:end]) {
			return nil, false
		}
		objs = append(objs, bytes.Clone(b[i:end]))
		i = end
	}
	return objs, len(objs) > 0
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the (valid) value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// unquote decodes a JSON string literal as encoding/json does.
func unquote(raw []byte) string {
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 && isPlain(body) {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // raw is valid
	return s
}

// Obj returns the nested object under k, or an empty one.
func (f Object) Obj(k string) Object {
	raw := bytes.TrimSpace(f[k])
	if len(raw) == 0 || raw[0] != '{' || !Valid(raw) {
		return Object{}
	}
	// The value is a slice of a cloned payload (Parse) or the caller's own:
	// either way its fields may share its bytes.
	return split(raw)
}

// Has reports whether k is present with a non-null value.
func (f Object) Has(k string) bool {
	raw := bytes.TrimSpace(f[k])
	return len(raw) > 0 && string(raw) != "null"
}

// Str returns a string field with surrounding white space trimmed; numbers
// and booleans come back as their JSON text, so 19-digit process ids keep
// every digit. Objects, arrays and null read as "".
func (f Object) Str(k string) string {
	return text(f[k])
}

// text converts one raw JSON value as Str does.
func text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		// Most values have no escapes: slice them out instead of running
		// the JSON decoder (a third of decode time went here).
		if len(raw) >= 2 && raw[len(raw)-1] == '"' {
			if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 && isPlain(body) {
				return strings.TrimSpace(string(body))
			}
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	case 't', 'f':
		return string(raw)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw)
	}
	return ""
}

// isPlain reports whether a JSON string body holds only printable ASCII or
// UTF-8 without control characters, so that it needs no decoding.
func isPlain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' {
			return false
		}
	}
	return utf8.Valid(b)
}

// First returns the first non-empty string (see Str) among keys.
func (f Object) First(keys ...string) string {
	for _, k := range keys {
		if s := f.Str(k); s != "" {
			return s
		}
	}
	return ""
}

// Num returns a numeric field (a JSON number or a numeric string) and whether
// it held one. Fractions are truncated; values beyond ±1e15 are rejected.
func (f Object) Num(k string) (int, bool) {
	s := f.Str(k)
	if s == "" || s == "true" || s == "false" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v > 1e15 || v < -1e15 {
		return 0, false
	}
	return int(v), true
}

// Flag returns a boolean field; true, "true" (any case) and non-zero numbers
// or numeric strings count as true, everything else as false.
func (f Object) Flag(k string) bool {
	switch s := strings.ToLower(f.Str(k)); s {
	case "true":
		return true
	case "", "false", "0":
		return false
	default:
		v, err := strconv.ParseFloat(s, 64)
		return err == nil && v != 0
	}
}

// Strs returns a list of strings from a JSON array (each element read as
// Str, empty ones dropped), or from a comma-separated string (CrowdStrike
// Event Streams sends HostGroups that way; see SplitList). A malformed array
// reads as nil.
func (f Object) Strs(k string) []string {
	raw := bytes.TrimSpace(f[k])
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		var out []string
		for i := range items {
			if s := text(items[i]); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return SplitList(f.Str(k))
}

// SplitList splits s at commas, trims each part and drops empty ones; it
// returns nil when nothing is left.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Time returns a time field; see ParseTime for the accepted forms.
func (f Object) Time(k string) time.Time {
	return ParseTime(f.Str(k))
}

// FirstTime returns the first parseable time (see Time) among keys, or the
// zero time.
func (f Object) FirstTime(keys ...string) time.Time {
	for _, k := range keys {
		if t := f.Time(k); !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

var timeLayouts = []string{
	time.RFC3339Nano, // also accepts any number of fraction digits, or none
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// ParseTime reads RFC 3339 with any fraction (with or without a zone, with
// 'T' or a space between date and time), or epoch seconds, milliseconds,
// microseconds or nanoseconds as a number or a numeric string; the unit is
// inferred from the magnitude. The result is in UTC. It returns the zero
// time for anything else, for zero (a "not set" placeholder) and for times
// outside years 1970–9999, which JSON cannot carry.
func ParseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T ") {
		return epoch(s)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return inRange(t.UTC())
		}
	}
	return time.Time{}
}

func epoch(s string) time.Time {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v >= 1e19 {
		return time.Time{}
	}
	var t time.Time
	switch {
	case v >= 1e17:
		t = time.Unix(0, int64(v))
	case v >= 1e14:
		t = time.UnixMicro(int64(v))
	case v >= 1e11:
		t = time.UnixMilli(int64(v))
	default:
		sec, frac := math.Modf(v)
		t = time.Unix(int64(sec), int64(frac*1e9))
	}
	return inRange(t.UTC())
}

func inRange(t time.Time) time.Time {
	if t.Year() < 1970 || t.Year() > 9999 || t.Unix() == 0 {
		return time.Time{}
	}
	return t
}

// IsObject reports whether raw is (or at least begins as) a JSON object.
func IsObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// RawArray splits a JSON array into its elements' raw values. It reports
// false, with no elements, for anything but a well-formed array.
func RawArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	return items, true
}
