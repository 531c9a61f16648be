package syslog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LEEF is one IBM QRadar Log Event Extended Format record:
//
//	LEEF:1.0|Vendor|Product|Version|EventID|k1=v1<TAB>k2=v2
//	LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|k1=v1<Delimiter>k2=v2
//
// The LEEF 2.0 delimiter is one character or its hex code (x09, 0x5E);
// when the field is missing or empty the delimiter is a tab.
type LEEF struct {
	Version string
	Vendor  string
	Product string
	DevVer  string
	EventID string
	Attrs   map[string]string
}

// errNotLEEF says a body does not begin with "LEEF:".
var errNotLEEF = errors.New("not a LEEF record")

// ParseLEEF reads a LEEF 1.0 or 2.0 record; s must begin with "LEEF:".
func ParseLEEF(s string) (LEEF, error) {
	rest, ok := strings.CutPrefix(s, "LEEF:")
	if !ok {
		return LEEF{}, errNotLEEF
	}
	var head [5]string
	for i := range head {
		field, tail, found := cutUnescaped(rest, '|')
		if !found {
			if i == 4 { // "…|EventID" with no attributes at all
				head[i], rest = unescapeHeader(field), ""
				break
			}
			return LEEF{}, fmt.Errorf("LEEF header has %d of 5 fields", i)
		}
		head[i], rest = unescapeHeader(field), tail
	}
	l := LEEF{
		Version: strings.TrimSpace(head[0]),
		Vendor:  head[1],
		Product: head[2],
		DevVer:  head[3],
		EventID: head[4],
	}
	delim := "\t"
	if strings.HasPrefix(l.Version, "2") {
		// The delimiter field is optional in practice (Trend Micro sends
		// LEEF:2.0 without it): a sixth field holding '=' is attributes.
		if field, tail, found := strings.Cut(rest, "|"); found && !strings.Contains(field, "=") {
			d, err := leefDelimiter(field)
			if err != nil {
				return LEEF{}, err
			}
			delim, rest = d, tail
		}
	}
	l.Attrs = splitAttrs(rest, delim)
	return l, nil
}

// leefDelimiter reads the LEEF 2.0 delimiter field: one character, or its
// code as x09 / 0x09 / \t.
func leefDelimiter(f string) (string, error) {
	switch {
	case f == "":
		return "\t", nil
	case f == `\t`:
		return "\t", nil
	case len(f) >= 2 && (f[0] == 'x' || f[0] == 'X'), len(f) >= 3 && f[0] == '0' && (f[1] == 'x' || f[1] == 'X'):
		hex := f[strings.IndexAny(f, "xX")+1:]
		n, err := strconv.ParseUint(hex, 16, 8)
		if err != nil || n == 0 {
			return "", fmt.Errorf("LEEF delimiter %q is not a character code", f)
		}
		return string(rune(n)), nil
	case len([]rune(f)) == 1:
		return f, nil
	}
	return "", fmt.Errorf("LEEF delimiter %q is not one character", f)
}

// splitAttrs splits LEEF attributes. Some relays turn the tab into spaces;
// when the delimiter is a tab and none is present, the attributes are read
// as a CEF-style extension instead.
func splitAttrs(s, delim string) map[string]string {
	if delim == "\t" && !strings.Contains(s, "\t") && strings.Count(s, "=") > 1 {
		return parseExtension(s)
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, delim) {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}
