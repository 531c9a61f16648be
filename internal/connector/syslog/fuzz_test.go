package syslog

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bannin-soc/bannin/internal/connector"
)

// seedLines are corpus-like seeds besides testdata/messages.log.
var seedLines = []string{
	"",
	"{}",
	`{"message":"<13>hello"}`,
	`{"error":"message over 10 bytes","size":11}`,
	"<",
	"<999>",
	"<13>1 - - - - - -",
	"<13>1 2026-03-10T12:00:00Z h a p m [sd@1 a=\"b\"] CEF:0|V|P|1|s|n|5|src=1",
	"CEF:0|||||||",
	"CEF:0|V|P|1|s|n|5|=x =y a== b=\\",
	"LEEF:2.0|V|P|1|e|x|a=1",
	"LEEF:2.0|V|P|1|e|0x|a=1",
	"<13>date=1 time=2 devname=\"x logid=1 type=",
	"<14>Mar 10 12:04:10 PA 1,2026/03/10 12:04:10,001,THREAT,virus,,2026/03/10 12:04:10",
}

func FuzzDecode(f *testing.F) {
	for _, l := range append(testLines(f), seedLines...) {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := Decoder{}.Decode(payload)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error %v does not wrap ErrBadPayload", err)
			}
			return
		}
		for _, a := range got {
			if a.Vendor != VendorName || a.VendorID == "" || len(a.Raw) == 0 || a.Score < 0 || a.Score > 100 {
				t.Fatalf("alert %+v: missing vendor, id or raw, or score out of range", a)
			}
			if utf8.RuneCountInString(a.Title) > maxTitle && a.Rule == "syslog:unparsed" {
				t.Fatalf("unparsed title of %d runes", utf8.RuneCountInString(a.Title))
			}
		}
	})
}

func FuzzCEF(f *testing.F) {
	for _, l := range testLines(f) {
		if i := strings.Index(l, "CEF:"); i >= 0 {
			f.Add(l[i:])
		}
	}
	f.Add(`CEF:0|a\|b|c\\|d|e|f|g|k=v\=w k2=\\ k3=x=y`)
	f.Add("CEF:0|V|P|1|s|n|5|")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCEF(s)
		if err != nil {
			return
		}
		for k := range c.Ext {
			if k == "" || strings.ContainsAny(k, " =") {
				t.Fatalf("extension key %q", k)
			}
		}
		c.Labeled()
	})
}

func FuzzLEEF(f *testing.F) {
	for _, l := range testLines(f) {
		if i := strings.Index(l, "LEEF:"); i >= 0 {
			f.Add(l[i:])
		}
	}
	f.Add("LEEF:2.0|V|P|1|e|x09|a=1\tb=2")
	f.Add("LEEF:2.0|V|P|1|e|^|a=1^b=2")
	f.Add("LEEF:1.0|V|P|1|e|devTime=1\tdevTimeFormat='yyyy")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLEEF(s)
		if err != nil {
			return
		}
		leefTime(l.Attrs["devTime"], l.Attrs["devTimeFormat"])
	})
}

func FuzzFraming(f *testing.F) {
	f.Add([]byte("5 <13>a4 <1>b"), 8)
	f.Add([]byte("<13>abc\n<1>b\r\n\n<2>c"), 4)
	f.Add([]byte("10 <13>abcdef3 <1>"), 8)
	f.Add([]byte("999999999 x"), 100)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = 1 + (max%4096+4096)%4096
		fr := newFramer(strings.NewReader(string(in)), max)
		total := 0
		for range len(in) + 1 {
			fm, err := fr.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errFraming) {
					t.Fatalf("error %v is neither EOF nor a framing error", err)
				}
				return
			}
			if !fm.TooLong && len(fm.Msg) > max || fm.TooLong && (fm.Size <= max || len(fm.Msg) > headBytes) {
				t.Fatalf("frame of %d bytes (size %d, too long %v) with limit %d", len(fm.Msg), fm.Size, fm.TooLong, max)
			}
			total += fm.Size
			if total > len(in) {
				t.Fatalf("frames claim %d bytes of a %d-byte stream", total, len(in))
			}
		}
		t.Fatal("framer made no progress")
	})
}
