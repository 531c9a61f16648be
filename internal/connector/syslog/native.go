package syslog

import (
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// parseKV reads FortiOS's native key=value body: values are bare words or
// double-quoted strings (with \" inside).
func parseKV(s string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		key := s[i : i+eq]
		if sp := strings.LastIndexByte(key, ' '); sp >= 0 {
			key = key[sp+1:] // a stray word without '=' before the key
		}
		i += eq + 1
		var val string
		if i < len(s) && s[i] == '"' {
			val, i = quoted(s, i+1)
		} else {
			end := strings.IndexByte(s[i:], ' ')
			if end < 0 {
				end = len(s) - i
			}
			val, i = s[i:i+end], i+end
		}
		if key != "" {
			out[key] = val
		}
	}
	return out
}

// quoted reads a double-quoted value starting after its opening quote and
// returns it with the index after the closing quote.
func quoted(s string, i int) (string, int) {
	var b strings.Builder
	for ; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			b.WriteByte(s[i])
		case s[i] == '"':
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), i
}

// isFortiGateKV recognises FortiOS's native syslog body.
func isFortiGateKV(body string) bool {
	return strings.Contains(body, "logid=") && strings.Contains(body, "type=") &&
		(strings.Contains(body, "devname=") || strings.Contains(body, "devid="))
}

// fortiLevels maps FortiOS log levels onto 0–100.
var fortiLevels = map[string]int{
	"emergency": 100, "alert": 90, "critical": 80, "error": 70,
	"warning": 50, "notice": 30, "information": 10, "debug": 0,
}

// decodeFortiGate maps a FortiOS native log. IPS logs carry the signature's
// severity (critical…info), which scores them; other logs score by level.
func decodeFortiGate(body string, h header) alert.Alert {
	f := parseKV(body)
	a := alert.Alert{
		Rule:           f["logid"],
		Title:          firstOf(f, "virus", "attack", "msg"),
		Description:    f["msg"],
		Product:        "Fortinet FortiGate",
		VendorSeverity: f["level"],
		EventTime:      fortiTime(f),
	}
	if a.Title == "" {
		a.Title = strings.Trim(f["type"]+":"+f["subtype"], ":")
	}
	if a.Description == a.Title {
		a.Description = ""
	}
	a.Score = fortiLevels[strings.ToLower(f["level"])]
	if sev, ok := severityWords[strings.ToLower(f["severity"])]; ok {
		a.Score, a.VendorSeverity = sev, f["severity"]
	}
	src := side{Name: f["srcname"], IP: f["srcip"], Port: port(f["srcport"])}
	dst := side{Name: firstOf(f, "hostname", "dstname"), IP: f["dstip"], Port: port(f["dstport"])}
	a.Host, a.Network = aboutHost(roleFirewall, src, dst, side{Name: f["devname"]})
	addURLDomain(a.Network, f["url"])
	a.User = firstOf(f, "user", "srcuser", "unauthuser")
	splitPath(&a.Process, f["filename"])
	setHash(&a.Process, f["analyticscksum"])
	setHash(&a.Process, f["filehash"])
	a.Action = action(firstOf(f, "action", "utmaction"))
	return a
}

// fortiTime reads eventtime (epoch s/ms/µs/ns), else date and time with the
// device's tz ("+0800"), UTC when it names none.
func fortiTime(f map[string]string) time.Time {
	if t := eventTime(f["eventtime"]); !t.IsZero() {
		return t
	}
	if f["date"] == "" || f["time"] == "" {
		return time.Time{}
	}
	s := f["date"] + " " + f["time"]
	if tz := strings.TrimSpace(f["tz"]); tz != "" {
		if t, err := time.Parse("2006-01-02 15:04:05 -0700", s+" "+tz); err == nil {
			return t.UTC()
		}
	}
	t, _ := time.Parse("2006-01-02 15:04:05", s)
	return t.UTC()
}

// panThreatRE finds the start of a PAN-OS CSV THREAT log.
var panThreatRE = regexp.MustCompile(`(?:^|[ >:])(\d*,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,THREAT,)`)

func panThreatAt(line string) int {
	m := panThreatRE.FindStringSubmatchIndex(line)
	if m == nil {
		return -1
	}
	return m[2]
}

// PAN-OS THREAT log field positions (PAN-OS 8.1–11 syslog field order).
const (
	panReceive   = 1
	panSerial    = 2
	panSubtype   = 4
	panGenerated = 6
	panSrc       = 7
	panDst       = 8
	panRule      = 11
	panSrcUser   = 12
	panDstUser   = 13
	panSport     = 24
	panDport     = 25
	panAction    = 30
	panURLFile   = 31
	panThreatID  = 32
	panCategory  = 33
	panSeverity  = 34
	panSeq       = 36
	panDigest    = 43
	panDevice    = 59
)

// decodePANThreat maps a PAN-OS CSV THREAT log. The serial number and
// sequence number identify it; times are the firewall's local time, read as
// UTC.
func decodePANThreat(s string, h header) (alert.Alert, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.LazyQuotes, r.FieldsPerRecord = true, -1
	rec, err := r.Read()
	if err != nil {
		return alert.Alert{}, fmt.Errorf("PAN-OS THREAT CSV: %v", err)
	}
	if len(rec) <= panSeverity {
		return alert.Alert{}, fmt.Errorf("PAN-OS THREAT CSV has %d fields, want at least %d", len(rec), panSeverity+1)
	}
	get := func(i int) string {
		if i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	sev := strings.ToLower(get(panSeverity))
	a := alert.Alert{
		Rule:           get(panThreatID),
		Title:          get(panThreatID),
		Description:    strings.TrimSpace(get(panSubtype) + " " + get(panCategory) + " (rule " + get(panRule) + ")"),
		Product:        "Palo Alto Networks PAN-OS",
		VendorSeverity: get(panSeverity),
		Score:          severityWords[sev],
		EventTime:      panTime(get(panGenerated)),
		VendorCreated:  panTime(get(panReceive)),
	}
	if serial, seq := get(panSerial), get(panSeq); serial != "" && seq != "" {
		a.VendorID = serial + ":" + seq
	}
	src := side{IP: get(panSrc), Port: port(get(panSport))}
	dst := side{IP: get(panDst), Port: port(get(panDport))}
	a.Host, a.Network = aboutHost(roleFirewall, src, dst, side{Name: get(panDevice)})
	a.User = firstOf(map[string]string{"s": get(panSrcUser), "d": get(panDstUser)}, "s", "d")
	if target := get(panURLFile); target != "" {
		if st := get(panSubtype); strings.Contains(st, "virus") || st == "file" {
			splitPath(&a.Process, target)
		} else {
			addURLDomain(a.Network, "http://"+strings.TrimPrefix(strings.TrimPrefix(target, "http://"), "https://"))
		}
	}
	setHash(&a.Process, get(panDigest))
	a.Action = action(get(panAction))
	return a, nil
}

func panTime(s string) time.Time {
	t, err := time.Parse("2006/01/02 15:04:05", s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
