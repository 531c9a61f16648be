package syslog

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// role says which side of an event a product's alert is about.
type role int

const (
	roleGeneric  role = iota // the source host, else the destination, else the reporter
	roleFirewall             // the internal side of the flow (source when both are)
	roleWAF                  // the protected server: the destination
	roleEndpoint             // the reporting agent's host (dvchost/dvc)
)

// side is one end of an event as a format names it.
type side struct {
	Name, IP string
	Port     int
}

// aboutHost picks the host an alert is about and the remote end it names.
// reporter is the device that logged it (an endpoint agent's host).
func aboutHost(r role, src, dst, reporter side) (alert.Host, []alert.Network) {
	var host, remote side
	switch r {
	case roleEndpoint:
		host = first(reporter, dst, src)
		if host == reporter {
			remote = dst
			if remote.Name == "" && remote.IP == "" {
				remote = src
			}
		}
	case roleWAF:
		host, remote = first(dst, reporter), src
	case roleFirewall:
		host, remote = src, dst
		if !isInternal(src.IP) && isInternal(dst.IP) {
			host, remote = dst, src
		}
		if host.Name == "" && host.IP == "" {
			host, remote = first(dst, reporter), side{}
		}
	default:
		host, remote = first(src, dst, reporter), dst
		if host == dst {
			remote = src
		}
	}
	h := alert.Host{Name: host.Name}
	if ip := canonicalIP(host.IP); ip != "" {
		h.IPs = []string{ip}
	}
	if h.Name == "" && len(h.IPs) > 0 {
		h.Name = h.IPs[0] // hosts are matched by name; an address is the best name here
	}
	var net []alert.Network
	if ip := canonicalIP(remote.IP); ip != "" || remote.Name != "" {
		net = append(net, alert.Network{IP: ip, Port: remote.Port, Domain: domainOf(remote.Name)})
	}
	return h, net
}

func first(sides ...side) side {
	for _, s := range sides {
		if s.Name != "" || s.IP != "" {
			return s
		}
	}
	return side{}
}

func canonicalIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// isInternal reports whether s is a private, loopback or link-local address.
func isInternal(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	return err == nil && (a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast())
}

// domainOf keeps a remote name that looks like a DNS name, not an address.
func domainOf(name string) string {
	if canonicalIP(name) != "" || !strings.Contains(name, ".") {
		return ""
	}
	return name
}

func port(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 || n > 65535 {
		return 0
	}
	return n
}

// setHash puts a hex hash into the field its length says it is.
func setHash(p *alert.Process, h string) {
	h = strings.ToLower(strings.TrimSpace(h))
	if strings.Trim(h, "0123456789abcdef") != "" {
		return
	}
	switch len(h) {
	case 64:
		p.SHA256 = h
	case 40:
		p.SHA1 = h
	case 32:
		p.MD5 = h
	}
}

// splitPath fills a process's path and name from a full file path.
func splitPath(p *alert.Process, full string) {
	full = strings.TrimSpace(full)
	if full == "" {
		return
	}
	i := strings.LastIndexAny(full, `/\`)
	if p.Name == "" {
		p.Name = full[i+1:]
	}
	if p.Path == "" && i > 0 {
		p.Path = full
	}
}

// action reads what the product did from its action word.
func action(words ...string) alert.Action {
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(w))
		switch {
		case w == "":
			continue
		case strings.Contains(w, "quarantin"), strings.Contains(w, "delete"), strings.Contains(w, "clean"), w == "removed":
			return alert.ActionQuarantined
		case strings.Contains(w, "kill"), strings.Contains(w, "terminat"):
			return alert.ActionKilled
		case strings.Contains(w, "block"), strings.Contains(w, "deny"), strings.Contains(w, "denied"),
			strings.Contains(w, "drop"), strings.Contains(w, "reset"), strings.Contains(w, "reject"),
			strings.Contains(w, "prevent"):
			return alert.ActionBlocked
		default:
			return alert.ActionNone
		}
	}
	return alert.ActionNone
}

// named severity words (CEF string severities, PAN-OS, FortiGate IPS).
var severityWords = map[string]int{
	"unknown": 0, "informational": 10, "information": 10, "info": 10,
	"low": 30, "medium": 50, "high": 70, "very-high": 90, "very high": 90, "critical": 90,
}

// tenScale maps a 0–10 (CEF) or 1–10 (LEEF) rating, or a severity word, to
// 0–100; ok is false when s is neither.
func tenScale(s string) (score int, ok bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return min(max(n, 0), 10) * 10, true
	}
	score, ok = severityWords[strings.ToLower(s)]
	return score, ok
}

var techniqueRE = regexp.MustCompile(`\bT\d{4}(?:\.\d{3})?\b`)
var tacticRE = regexp.MustCompile(`\bTA\d{4}\b`)

// attack collects ATT&CK ids from the values of fields whose name or label
// mentions MITRE, technique or tactic.
func attack(fields map[string]string) (tactics, techniques []string) {
	for k, v := range fields {
		lk := strings.ToLower(k)
		if !strings.Contains(lk, "technique") && !strings.Contains(lk, "tactic") && !strings.Contains(lk, "mitre") && !strings.Contains(lk, "attack") {
			continue
		}
		tactics = appendNew(tactics, tacticRE.FindAllString(v, -1)...)
		techniques = appendNew(techniques, techniqueRE.FindAllString(v, -1)...)
	}
	slices.Sort(tactics)
	slices.Sort(techniques)
	return tactics, techniques
}

func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// textTimeLayouts are the CEF date forms (rt, start, end) besides epoch
// milliseconds and RFC 3339.
var textTimeLayouts = []string{
	"Jan 2 2006 15:04:05.000 MST", "Jan 2 2006 15:04:05.000 -0700", "Jan 2 2006 15:04:05.000",
	"Jan 2 2006 15:04:05 MST", "Jan 2 2006 15:04:05 -0700", "Jan 2 2006 15:04:05",
	"Jan 02 2006 15:04:05", "2006/01/02 15:04:05", "02-01-2006, 15:04:05",
}

// eventTime reads a CEF/LEEF time: epoch milliseconds (or seconds), RFC 3339,
// or the CEF text forms ("MMM dd yyyy HH:mm:ss[.SSS zzz]"), UTC when no zone.
func eventTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 1e17 {
		// Epoch nanoseconds (FortiOS eventtime): exact, where a float
		// would round them.
		return time.Unix(0, n).UTC()
	}
	if t := jsonfield.ParseTime(s); !t.IsZero() {
		return t
	}
	s = strings.Join(strings.Fields(s), " ")
	for _, l := range textTimeLayouts {
		if t, err := time.Parse(l, s); err == nil && t.Year() >= 1970 {
			return t.UTC()
		}
	}
	return time.Time{}
}
