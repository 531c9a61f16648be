package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/bannin-soc/bannin/internal/connector"
)

var _ connector.Framer = Decoder{}

// octetStart recognises a captured octet-counting stream: "123 <PRI>".
var octetStart = regexp.MustCompile(`^[1-9][0-9]{0,8} <[0-9]{1,3}>`)

// Frame cuts a file into payloads for `bannin normalize` and replay: the
// Listener's envelopes (NDJSON or a JSON array), a captured RFC 6587
// octet-counting stream, or — anything else — one syslog message per line.
func (Decoder) Frame(body []byte) ([][]byte, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(bytes.TrimSpace(trimmed)) == 0:
		return nil, fmt.Errorf("%w: syslog: empty input", connector.ErrBadPayload)
	case trimmed[0] == '{' || trimmed[0] == '[':
		return connector.Split(trimmed)
	case octetStart.Match(trimmed):
		return frameOctets(trimmed)
	}
	var out [][]byte
	for line := range bytes.SplitSeq(trimmed, []byte("\n")) {
		if line = bytes.TrimRight(line, "\r"); len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
	}
	return out, nil
}

func frameOctets(b []byte) ([][]byte, error) {
	fr := newFramer(bytes.NewReader(b), len(b))
	var out [][]byte
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: syslog: message %d: %v", connector.ErrBadPayload, len(out)+1, err)
		}
		out = append(out, f.Msg)
	}
}
