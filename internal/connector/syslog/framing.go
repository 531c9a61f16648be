package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// frame is one message read off a stream. A message over the limit is not
// kept: TooLong is set, Size says how long it was and Msg holds its first
// bytes, so the envelope can say what was refused.
type frame struct {
	Msg     []byte
	Size    int
	TooLong bool
}

// headBytes is how much of an over-long message is kept to identify it.
const headBytes = 128

// maxLengthDigits bounds an octet-counting length prefix (up to 999,999,999).
const maxLengthDigits = 9

// errFraming is a stream that is neither octet-counted nor newline-delimited
// syslog; the connection is closed.
var errFraming = errors.New("syslog framing")

// framer reads syslog messages from a TCP or TLS stream in either RFC 6587
// framing, chosen by the stream's first byte: a digit means octet counting
// ("123 <34>1 …"), anything else newline-delimited (LF, with an optional CR
// before it).
type framer struct {
	r       *bufio.Reader
	max     int
	decided bool
	octets  bool
}

func newFramer(r io.Reader, max int) *framer {
	return &framer{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next message. It returns io.EOF at a clean end of stream
// and an error wrapping errFraming when the stream breaks its framing.
func (f *framer) Next() (frame, error) {
	if !f.decided {
		b, err := f.r.Peek(1)
		if err != nil {
			return frame{}, err
		}
		f.decided, f.octets = true, b[0] >= '0' && b[0] <= '9'
	}
	if f.octets {
		return f.nextCounted()
	}
	return f.nextLine()
}

func (f *framer) nextCounted() (frame, error) {
	n, err := f.readLength()
	if err != nil {
		return frame{}, err
	}
	if n > f.max {
		head := make([]byte, min(n, headBytes))
		if _, err := io.ReadFull(f.r, head); err != nil {
			return frame{}, unexpected(err)
		}
		if _, err := f.r.Discard(n - len(head)); err != nil {
			return frame{}, unexpected(err)
		}
		return frame{Msg: head, Size: n, TooLong: true}, nil
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(f.r, msg); err != nil {
		return frame{}, unexpected(err)
	}
	return frame{Msg: msg, Size: n}, nil
}

// readLength reads "MSG-LEN SP". Stray line ends between frames (some
// senders add one) are skipped.
func (f *framer) readLength() (int, error) {
	n, digits := 0, 0
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			if digits == 0 {
				return 0, err // io.EOF between frames is a clean end
			}
			return 0, unexpected(err)
		}
		switch {
		case c >= '0' && c <= '9' && digits < maxLengthDigits:
			n, digits = n*10+int(c-'0'), digits+1
		case (c == '\n' || c == '\r') && digits == 0:
		case c == ' ' && digits > 0 && n > 0:
			return n, nil
		default:
			return 0, fmt.Errorf("%w: octet-counting frame: byte %q where a length was expected", errFraming, c)
		}
	}
}

func (f *framer) nextLine() (frame, error) {
	var msg []byte
	size := 0
	for {
		chunk, err := f.r.ReadSlice('\n')
		size += len(chunk)
		if room := f.max + 2 - len(msg); room > 0 { // +2: the line end, trimmed below
			msg = append(msg, chunk[:min(len(chunk), room)]...)
		}
		switch {
		case err == nil:
			msg = trimLineEnd(msg)
			size -= lineEndLen(chunk)
			if size > f.max {
				return frame{Msg: msg[:min(len(msg), headBytes)], Size: size, TooLong: true}, nil
			}
			return frame{Msg: msg, Size: size}, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && size > 0:
			// The last message of a stream needs no line end.
			if size > f.max {
				return frame{Msg: msg[:min(len(msg), headBytes)], Size: size, TooLong: true}, nil
			}
			return frame{Msg: msg, Size: size}, nil
		default:
			return frame{}, err
		}
	}
}

func lineEndLen(chunk []byte) int {
	n := len(chunk)
	switch {
	case n >= 2 && chunk[n-2] == '\r' && chunk[n-1] == '\n':
		return 2
	case n >= 1 && chunk[n-1] == '\n':
		return 1
	}
	return 0
}

func trimLineEnd(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: stream ended inside a frame: %w", errFraming, io.ErrUnexpectedEOF)
	}
	return err
}
