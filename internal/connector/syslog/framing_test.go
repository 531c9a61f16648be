package syslog

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readAll frames a whole stream; it returns the frames and the error that
// ended it (nil for a clean end).
func readAll(in string, max int) ([]frame, error) {
	fr := newFramer(strings.NewReader(in), max)
	var out []frame
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func TestFramer(t *testing.T) {
	ok := func(msg string) frame { return frame{Msg: []byte(msg), Size: len(msg)} }
	tests := []struct {
		name, in string
		max      int
		want     []frame
		err      string
	}{
		{"octet counting", "5 <13>a4 <1>b", 100, []frame{ok("<13>a"), ok("<1>b")}, ""},
		{"octet counting with stray line ends", "5 <13>a\n\r\n4 <1>b\n", 100, []frame{ok("<13>a"), ok("<1>b")}, ""},
		{"octet counting keeps embedded newlines", "7 <13>a\nb", 100, []frame{ok("<13>a\nb")}, ""},
		{"octet counting too long", "10 <13>abcdef3 <1>", 8, []frame{{Msg: []byte("<13>abcdef"), Size: 10, TooLong: true}, ok("<1>")}, ""},
		{"newline", "<13>a\n<1>b\r\n\n<2>c", 100, []frame{ok("<13>a"), ok("<1>b"), ok(""), ok("<2>c")}, ""},
		{"newline too long", "<13>abcdefghij\n<1>b\n", 8, []frame{{Msg: []byte("<13>abcdefghij\n")[:10], Size: 14, TooLong: true}, ok("<1>b")}, ""},
		{"exactly the limit", "<13>a\n", 5, []frame{ok("<13>a")}, ""},
		{"bad length", "5 <13>ax <1>", 100, []frame{ok("<13>a")}, "byte 'x' where a length was expected"},
		{"zero length", "0 ", 100, nil, "byte ' ' where a length was expected"},
		{"length too long", "1234567890 x", 100, nil, "byte '0' where a length was expected"},
		{"stream ends inside a frame", "10 <13>a", 100, nil, "stream ended inside a frame"},
		{"stream ends inside a length", "12", 100, nil, "stream ended inside a frame"},
		{"empty stream", "", 100, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.in, tt.max)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if tt.err != "" && !errors.Is(err, errFraming) {
				t.Errorf("error %v does not wrap errFraming", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFramerLongLine: a newline-delimited message longer than the read
// buffer is measured whole and refused with its head.
func TestFramerLongLine(t *testing.T) {
	long := "<13>" + strings.Repeat("z", 200<<10)
	got, err := readAll(long+"\n<1>ok\n", 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].TooLong || got[0].Size != len(long) || len(got[0].Msg) != headBytes || string(got[1].Msg) != "<1>ok" {
		t.Errorf("frames: %d; first too long %v size %d head %d", len(got), got[0].TooLong, got[0].Size, len(got[0].Msg))
	}
}
