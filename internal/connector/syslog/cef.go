package syslog

import (
	"errors"
	"fmt"
	"strings"
)

// CEF is one ArcSight Common Event Format record:
//
//	CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
//
// Header fields are unescaped (\| and \\); the extension is split into its
// key=value pairs with \= \\ \n \r unescaped in values.
type CEF struct {
	Version   string
	Vendor    string
	Product   string
	DevVer    string
	Signature string
	Name      string
	Severity  string
	Ext       map[string]string
}

// errNotCEF says a body does not begin with "CEF:".
var errNotCEF = errors.New("not a CEF record")

// ParseCEF reads a CEF record; s must begin with "CEF:". A record with
// fewer than seven header fields is an error; an empty extension is not.
func ParseCEF(s string) (CEF, error) {
	rest, ok := strings.CutPrefix(s, "CEF:")
	if !ok {
		return CEF{}, errNotCEF
	}
	var head [7]string
	for i := range head {
		field, tail, found := cutUnescaped(rest, '|')
		if !found {
			if i == 6 {
				// The last header field may end the record when the
				// extension is missing together with its separator.
				head[i], rest = unescapeHeader(field), ""
				break
			}
			return CEF{}, fmt.Errorf("CEF header has %d of 7 fields", i)
		}
		head[i], rest = unescapeHeader(field), tail
	}
	c := CEF{
		Version:   strings.TrimSpace(head[0]),
		Vendor:    head[1],
		Product:   head[2],
		DevVer:    head[3],
		Signature: head[4],
		Name:      head[5],
		Severity:  strings.TrimSpace(head[6]),
		Ext:       parseExtension(rest),
	}
	return c, nil
}

// cutUnescaped cuts s at the first sep not preceded by a backslash escape.
func cutUnescaped(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // skip the escaped byte
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func unescapeHeader(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseExtension splits "k1=v one k2=v2" into pairs. A value runs to the
// space before the next key=; an '=' whose preceding word is not a valid key
// (a URL query, a base64 pad) stays in the value.
func parseExtension(s string) map[string]string {
	out := map[string]string{}
	key, start := "", -1 // the pending key and where its value starts
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			continue
		case '=':
		default:
			continue
		}
		ks := keyStart(s, i)
		if ks < 0 || (start >= 0 && ks <= start) {
			continue // not a key: the '=' belongs to the value
		}
		if start >= 0 {
			out[key] = unescapeValue(strings.TrimRight(s[start:ks], " "))
		}
		key, start = s[ks:i], i+1
	}
	if start >= 0 {
		out[key] = unescapeValue(strings.TrimSpace(s[start:]))
	}
	return out
}

// keyStart returns where the key ending just before s[eq] begins, or -1 when
// the word before '=' is not a key (empty, or not at the start of s or after
// a space).
func keyStart(s string, eq int) int {
	j := eq
	for j > 0 && isKeyByte(s[j-1]) {
		j--
	}
	if j == eq || (j > 0 && s[j-1] != ' ') {
		return -1
	}
	return j
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
}

func unescapeValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '=', '\\', '|':
				c = s[i+1]
				i++
			case 'n':
				c = '\n'
				i++
			case 'r':
				c = '\r'
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Labeled returns the custom fields (cs1..cs6, cn1..cn3, flexString1..2,
// deviceCustomDate1..2, …) by their label: "cs1Label=Policy cs1=Block" gives
// Policy → Block.
func (c CEF) Labeled() map[string]string {
	out := map[string]string{}
	for k, v := range c.Ext {
		base, ok := strings.CutSuffix(k, "Label")
		if !ok || v == "" {
			continue
		}
		if val, ok := c.Ext[base]; ok {
			out[v] = val
		}
	}
	return out
}
