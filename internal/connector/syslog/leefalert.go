package syslog

import (
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// decodeLEEF maps a LEEF record (s begins with "LEEF:").
func decodeLEEF(s string, h header) (alert.Alert, error) {
	l, err := ParseLEEF(s)
	if err != nil {
		return alert.Alert{}, fmt.Errorf("LEEF: %v", err)
	}
	f := l.Attrs
	a := alert.Alert{
		Rule:           strings.TrimSpace(l.EventID),
		Title:          firstOf(f, "name", "msg", "desc", "cat"),
		Description:    firstOf(f, "desc", "msg"),
		Product:        strings.TrimSpace(l.Vendor + " " + l.Product),
		VendorSeverity: f["sev"],
		EventTime:      leefTime(f["devTime"], f["devTimeFormat"]),
	}
	if a.Title == "" {
		a.Title = a.Rule
	}
	if a.Description == a.Title {
		a.Description = ""
	}
	a.Score, _ = tenScale(f["sev"])
	r := roleOf(l.Vendor, l.Product)
	src := side{Name: firstOf(f, "srcName", "shost", "identHostName"), IP: firstOf(f, "src", "identSrc", "srcPreNAT"), Port: port(f["srcPort"])}
	dst := side{Name: firstOf(f, "dstName", "dhost"), IP: firstOf(f, "dst", "dstPreNAT"), Port: port(f["dstPort"])}
	rep := side{Name: firstOf(f, "dvchost", "target"), IP: f["dvc"]}
	if r == roleEndpoint {
		rep = endpointReporter(rep, src, dst, h)
	}
	a.Host, a.Network = aboutHost(r, src, dst, rep)
	addURLDomain(a.Network, f["url"])
	fillCommon(&a, f)
	return a, nil
}

// leefTime reads devTime: in devTimeFormat (a Java SimpleDateFormat
// pattern) when one is given, else epoch milliseconds, RFC 3339 or the CEF
// text forms.
func leefTime(v, javaFormat string) time.Time {
	if v == "" {
		return time.Time{}
	}
	if javaFormat != "" {
		if t, err := time.Parse(javaLayout(javaFormat), strings.TrimSpace(v)); err == nil && t.Year() >= 1970 {
			return t.UTC()
		}
	}
	return eventTime(v)
}

// javaLayouts translate SimpleDateFormat letters runs into Go layout parts,
// longest first.
var javaLayouts = []struct{ java, gofmt string }{
	{"yyyy", "2006"}, {"yy", "06"}, {"MMMM", "January"}, {"MMM", "Jan"}, {"MM", "01"}, {"M", "1"},
	{"dd", "02"}, {"d", "2"}, {"HH", "15"}, {"hh", "03"}, {"h", "3"}, {"mm", "04"}, {"ss", "05"},
	{"SSS", "000"}, {"a", "PM"}, {"XXX", "Z07:00"}, {"X", "Z07"}, {"Z", "-0700"}, {"z", "MST"}, {"EEE", "Mon"},
}

// javaLayout converts a Java date pattern to a Go layout; text in single
// quotes is literal.
func javaLayout(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] == '\'' {
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				b.WriteString(p[i+1:])
				break
			}
			b.WriteString(p[i+1 : i+1+j])
			i += j + 2
			continue
		}
		matched := false
		for _, l := range javaLayouts {
			if strings.HasPrefix(p[i:], l.java) {
				b.WriteString(l.gofmt)
				i += len(l.java)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(p[i])
			i++
		}
	}
	return b.String()
}
