package syslog

import (
	"strconv"
	"strings"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// header is what the syslog framing of one message says: RFC 5424, RFC 3164,
// or nothing at all (a bare CEF/LEEF line from a file).
type header struct {
	Severity int // 0–7, or -1 when the message carries no PRI
	Time     time.Time
	Hostname string
	App      string
	ProcID   string
	Body     string // the MSG part: the whole line when no header parsed
}

// severityNames are the RFC 5424 severity names by code.
var severityNames = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// parseHeader reads the syslog header of line. ref is when the message was
// received: RFC 3164 stamps carry no year, so they take ref's, or the year
// before when that would put them more than two days after ref. Stamps
// without a zone are read as UTC.
func parseHeader(line string, ref time.Time) header {
	h := header{Severity: -1, Body: line}
	pri, rest, ok := cutPRI(line)
	if ok {
		h.Severity, h.Body = pri%8, rest
	}
	switch {
	case ok && strings.HasPrefix(rest, "1 "):
		parse5424(&h, line)
	case ok:
		parse3164(&h, line, rest, ref)
	case len(line) > 0 && (line[0] >= 'A' && line[0] <= 'Z' || line[0] >= '0' && line[0] <= '9'):
		// A file line without PRI ("Feb  5 10:00:00 host …"): parse with a
		// stand-in PRI, which is not reported.
		parse3164(&h, "<13>"+line, line, ref)
	}
	return h
}

// cutPRI reads "<N>" (N 0–191) from the start of s.
func cutPRI(s string) (pri int, rest string, ok bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, s, false
	}
	end := strings.IndexByte(s[:min(len(s), 5)], '>')
	if end < 2 {
		return 0, s, false
	}
	n, err := strconv.Atoi(s[1:end])
	if err != nil || n < 0 || n > 191 || s[1] == '+' || s[1] == '-' {
		return 0, s, false
	}
	return n, s[end+1:], true
}

func parse5424(h *header, line string) {
	m, err := rfc5424.NewParser(rfc5424.WithBestEffort()).Parse([]byte(line))
	sm, ok := m.(*rfc5424.SyslogMessage)
	if !ok || sm == nil || (err != nil && sm.Message == nil) {
		return
	}
	fill(h, sm.Timestamp, sm.Hostname, sm.Appname, sm.ProcID, sm.Message)
}

func parse3164(h *header, line, afterPRI string, ref time.Time) {
	year := ref.Year()
	if ref.IsZero() {
		year = time.Now().Year()
	}
	m, err := rfc3164.NewParser(
		rfc3164.WithBestEffort(), rfc3164.WithRFC3339(), rfc3164.WithLenientDay(),
		rfc3164.WithSecondFractions(), rfc3164.WithTimezone(time.UTC),
		rfc3164.WithYear(rfc3164.Year{YYYY: year}),
	).Parse([]byte(line))
	sm, ok := m.(*rfc3164.SyslogMessage)
	if err != nil || !ok || sm == nil || sm.Message == nil || sm.Timestamp == nil {
		return
	}
	fill(h, sm.Timestamp, sm.Hostname, sm.Appname, sm.ProcID, sm.Message)
	// A stamp ("Dec 31 23:59:59") has no year: one received early in
	// January belongs to the year before.
	if !ref.IsZero() && afterPRI != "" && afterPRI[0] >= 'A' && afterPRI[0] <= 'Z' && h.Time.Sub(ref) > 48*time.Hour {
		h.Time = h.Time.AddDate(-1, 0, 0)
	}
}

func fill(h *header, ts *time.Time, host, app, pid, msg *string) {
	if ts != nil && !ts.IsZero() {
		h.Time = ts.UTC()
	}
	h.Hostname, h.App, h.ProcID = deref(host), deref(app), deref(pid)
	if msg != nil {
		h.Body = *msg
	} else {
		h.Body = ""
	}
}

func deref(p *string) string {
	if p == nil || *p == "-" {
		return ""
	}
	return *p
}

// severityName names a syslog severity, or "" for none.
func severityName(sev int) string {
	if sev < 0 || sev > 7 {
		return ""
	}
	return severityNames[sev]
}
