package sentinelone

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// fields is one JSON object read leniently: a field of an unexpected JSON
// type reads as empty instead of failing the whole payload, because vendors
// change the type of minor fields ("cloud_indicator":"false") more often than
// they change the alert itself.
type fields map[string]json.RawMessage

// parseObject reads b as one JSON object. It fails for anything else
// (arrays, scalars, trailing data).
func parseObject(b []byte) (fields, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errNotObject
	}
	var f fields
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return f, nil
}

// obj returns the nested object under k, or an empty one.
func (f fields) obj(k string) fields {
	raw := bytes.TrimSpace(f[k])
	if len(raw) == 0 || raw[0] != '{' {
		return fields{}
	}
	var o fields
	if json.Unmarshal(raw, &o) != nil {
		return fields{}
	}
	return o
}

// has reports whether k is present with a non-null value.
func (f fields) has(k string) bool {
	raw := bytes.TrimSpace(f[k])
	return len(raw) > 0 && string(raw) != "null"
}

// str returns a string field; numbers and booleans come back as their JSON
// text, so 19-digit process ids keep every digit.
func (f fields) str(k string) string {
	raw := bytes.TrimSpace(f[k])
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		// Most values have no escapes: slice them out instead of running
		// the JSON decoder (a third of decode time went here).
		if body := raw[1 : len(raw)-1]; len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(body, '\\') < 0 && isPlain(body) {
			return strings.TrimSpace(string(body))
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

// first returns the first non-empty string among keys.
func (f fields) first(keys ...string) string {
	for _, k := range keys {
		if s := f.str(k); s != "" {
			return s
		}
	}
	return ""
}

// num returns a numeric field (a JSON number or a numeric string) and whether
// it held one. Fractions are truncated; out-of-range values are rejected.
func (f fields) num(k string) (int, bool) {
	s := f.str(k)
	if s == "" || s == "true" || s == "false" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v > 1e15 || v < -1e15 {
		return 0, false
	}
	return int(v), true
}

// flag returns a boolean field; "true" and non-zero numbers count as true.
func (f fields) flag(k string) bool {
	switch s := strings.ToLower(f.str(k)); s {
	case "true":
		return true
	case "", "false", "0":
		return false
	default:
		v, err := strconv.ParseFloat(s, 64)
		return err == nil && v != 0
	}
}

// strs returns a list of strings from a JSON array of strings, or from a
// comma-separated string (Event Streams sends HostGroups that way).
func (f fields) strs(k string) []string {
	raw := bytes.TrimSpace(f[k])
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		var out []string
		for i := range items {
			if s := (fields{"v": items[i]}).str("v"); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return splitList(f.str(k))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// time returns a time field; see parseTime for the accepted forms.
func (f fields) time(k string) time.Time {
	return parseTime(f.str(k))
}

// firstTime returns the first parseable time among keys.
func (f fields) firstTime(keys ...string) time.Time {
	for _, k := range keys {
		if t := f.time(k); !t.IsZero() {
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

// parseTime reads RFC 3339 with any fraction (with or without a zone), or
// epoch seconds, milliseconds, microseconds or nanoseconds as a number or a
// numeric string; the unit is inferred from the magnitude. It returns the
// zero time for anything else, for zero (a "not set" placeholder) and for
// times outside years 1970–9999, which JSON cannot carry.
func parseTime(s string) time.Time {
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

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// rawArray splits a JSON array into its elements.
func rawArray(raw json.RawMessage) ([]json.RawMessage, bool) {
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

// timeText writes a time as SentinelOne does: RFC 3339 in UTC with
// microseconds.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
