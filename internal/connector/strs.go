package connector

import (
	"slices"
	"strings"
)

// The decoders' small list helpers: vendors repeat ids, tactics and
// addresses across fields, with blanks where a field is absent.

// NonEmpty returns the non-empty strings, in order.
func NonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Uniq returns the strings trimmed, without blanks and repeats, in order.
func Uniq(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = AppendNew(out, s)
		}
	}
	return out
}

// AppendNew appends s unless the list holds it already.
func AppendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}
