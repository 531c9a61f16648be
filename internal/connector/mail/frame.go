package mail

import (
	"bytes"
	"fmt"

	"github.com/bannin-soc/bannin/internal/connector"
)

var _ connector.Framer = Decoder{}

// Frame cuts a file into payloads for `bannin normalize` and replay: JSON
// (the listener's envelopes, one per line or as an array) as
// connector.Split does; an mbox ("From " separator lines, mboxrd quoting)
// into its messages; anything else is one RFC 5322 message (an .eml file).
func (Decoder) Frame(body []byte) ([][]byte, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(trimmed) == 0:
		return nil, fmt.Errorf("%w: mail: empty input", connector.ErrBadPayload)
	case trimmed[0] == '{' || trimmed[0] == '[':
		return connector.Split(trimmed)
	case bytes.HasPrefix(trimmed, []byte("From ")):
		return splitMbox(trimmed), nil
	}
	return [][]byte{body}, nil
}

// splitMbox returns the messages of an mbox, without their "From " lines and
// with one '>' taken off quoted ">From " lines.
func splitMbox(b []byte) [][]byte {
	var (
		out [][]byte
		cur []byte
		in  bool
	)
	flush := func() {
		if in {
			out = append(out, cur)
		}
		cur, in = nil, true
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("From ")):
			flush()
		case isQuotedFrom(line):
			cur = append(cur, line[1:]...)
		default:
			cur = append(cur, line...)
		}
	}
	flush()
	return out
}

func isQuotedFrom(line []byte) bool {
	rest := bytes.TrimLeft(line, ">")
	return len(rest) < len(line) && bytes.HasPrefix(rest, []byte("From "))
}
