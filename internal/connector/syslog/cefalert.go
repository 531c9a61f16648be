package syslog

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
)

// roleOf says which side of an event a product's alerts are about, by its
// CEF/LEEF Vendor and Product.
func roleOf(vendor, product string) role {
	v, p := strings.ToLower(vendor), strings.ToLower(product)
	switch {
	case strings.Contains(p, "fortiweb"), strings.Contains(v, "imperva"), strings.Contains(p, "securesphere"):
		return roleWAF
	case strings.Contains(p, "fortigate"), strings.Contains(v, "palo alto"), strings.Contains(p, "pan-os"):
		return roleFirewall
	case strings.Contains(v, "trend micro"), strings.Contains(v, "symantec"), strings.Contains(p, "endpoint"):
		return roleEndpoint
	}
	return roleGeneric
}

// decodeCEF maps a CEF record (s begins with "CEF:").
func decodeCEF(s string, h header) (alert.Alert, error) {
	c, err := ParseCEF(s)
	if err != nil {
		return alert.Alert{}, fmt.Errorf("CEF: %v", err)
	}
	e := c.Ext
	for long, short := range cefAliases {
		if v, ok := e[long]; ok && e[short] == "" {
			e[short] = v
		}
	}
	fields := c.Labeled()
	for k, v := range e {
		fields[k] = v
	}
	a := alert.Alert{
		Rule:           strings.TrimSpace(c.Signature),
		Title:          strings.TrimSpace(c.Name),
		Description:    firstOf(e, "msg", "reason", "FTNTFGTmsg"),
		Product:        strings.TrimSpace(c.Vendor + " " + c.Product),
		VendorSeverity: c.Severity,
		EventTime:      eventTime(firstOf(e, "rt", "end", "start", "deviceReceiptTime")),
		VendorCreated:  eventTime(e["rt"]),
	}
	a.Score, _ = tenScale(c.Severity)
	r := roleOf(c.Vendor, c.Product)
	src := side{Name: e["shost"], IP: firstOf(e, "src", "sourceTranslatedAddress"), Port: port(e["spt"])}
	dst := side{Name: e["dhost"], IP: e["dst"], Port: port(e["dpt"])}
	rep := side{Name: e["dvchost"], IP: e["dvc"]}
	if r == roleEndpoint {
		rep = endpointReporter(rep, src, dst, h)
	}
	a.Host, a.Network = aboutHost(r, src, dst, rep)
	addURLDomain(a.Network, e["request"])
	fillCommon(&a, fields)
	adjustCEFProduct(&a, c)
	return a, nil
}

// hashKeys name hash fields (lower-cased keys or custom-field labels), in
// order of preference: the first of each length wins.
var hashKeys = []string{
	"filehash", "trendmicrodsfilesha256", "trendmicrodsfilesha1", "trendmicrodsfilemd5", "ftntfgtanalyticscksum",
	"analyticscksum", "sha256", "sha-256", "file sha256", "sha1", "sha-1", "file sha1", "md5", "file md5", "file hash", "hash",
}

// cefAliases maps CEF's full key names, which some senders use, to the
// short ones read here.
var cefAliases = map[string]string{
	"sourceAddress": "src", "destinationAddress": "dst", "deviceAddress": "dvc",
	"sourceHostName": "shost", "destinationHostName": "dhost", "deviceHostName": "dvchost",
	"sourcePort": "spt", "destinationPort": "dpt", "sourceUserName": "suser", "destinationUserName": "duser",
	"deviceAction": "act", "fileName": "fname", "sourceProcessName": "sproc", "sourceProcessId": "spid",
	"deviceReceiptTime": "rt", "endTime": "end", "startTime": "start", "message": "msg", "requestUrl": "request",
}

// adjustCEFProduct applies what a known product means by its CEF fields.
func adjustCEFProduct(a *alert.Alert, c CEF) {
	switch roleOf(c.Vendor, c.Product) {
	case roleFirewall:
		if !strings.Contains(strings.ToLower(c.Vendor), "palo alto") {
			// FortiGate: Name is "type:subtype action"; the detection
			// itself is in the FTNTFGT fields.
			if d := firstOf(c.Ext, "FTNTFGTvirus", "FTNTFGTattack", "FTNTFGTmsg"); d != "" {
				a.Description = d
			}
			return
		}
		// PAN-OS: Signature is the threat subtype, Name the log type
		// (THREAT); the threat name and id are in cat. Severity is PAN-OS's
		// number-of-severity, 1 (informational) to 5 (critical).
		if cat := strings.TrimSpace(c.Ext["cat"]); cat != "" {
			a.Rule, a.Title = cat, cat
		}
		if n, ok := panSeverityNumber(c.Severity); ok {
			a.Score = n
		}
	}
}

// fillCommon maps the keys CEF and LEEF share (and the vendors' own) onto
// the alert: user, process and file, hashes, action, ATT&CK ids.
func fillCommon(a *alert.Alert, f map[string]string) {
	if a.User == "" {
		a.User = firstOf(f, "suser", "usrName", "duser", "sourceUserName", "destinationUserName", "user")
	}
	p := &a.Process
	p.Name = firstOf(f, "sproc", "sourceProcessName", "dproc")
	p.PID = firstOf(f, "spid", "sourceProcessId", "dpid", "TrendMicroDsProcessPid")
	if cmd := firstOf(f, "TrendMicroDsProcessCommandLine", "Command Line", "cmdline"); cmd != "" {
		p.CommandLine = cmd
	}
	splitPath(p, firstOf(f, "filePath", "TrendMicroDsProcess", "fname", "fileName"))
	lower := make(map[string]string, len(f))
	for k, v := range f {
		lower[strings.ToLower(k)] = v
	}
	for _, k := range hashKeys {
		setHash(p, lower[k])
	}
	a.Action = action(firstOf(f, "act", "action", "result", "Action", "deviceAction", "outcome"))
	a.Tactics, a.Techniques = attack(f)
}

// addURLDomain names the remote end's domain from a request URL.
func addURLDomain(net []alert.Network, request string) {
	if len(net) == 0 || net[0].Domain != "" || request == "" {
		return
	}
	if u, err := url.Parse(request); err == nil && u.Hostname() != "" && canonicalIP(u.Hostname()) == "" {
		net[0].Domain = u.Hostname()
	}
}

// firstOf returns the first set value among keys; placeholders ("n/a",
// "-", "N/A") are not values.
func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		switch v := strings.TrimSpace(m[k]); strings.ToLower(v) {
		case "", "-", "n/a", "none", "null", "(no user)", "unknown":
		default:
			return v
		}
	}
	return ""
}

// endpointReporter is the reporting agent's host: the one the record names,
// else — when it names no host on either side — the syslog header's, as an
// agent sending its own events names itself there.
func endpointReporter(rep, src, dst side, h header) side {
	if rep.Name == "" && rep.IP == "" && src == (side{}) && dst == (side{}) {
		rep.Name = h.Hostname
	}
	return rep
}

// panSeverityNumber maps PAN-OS's number-of-severity (1–5) onto 0–100.
func panSeverityNumber(s string) (int, bool) {
	switch strings.TrimSpace(s) {
	case "1":
		return 10, true
	case "2":
		return 30, true
	case "3":
		return 50, true
	case "4":
		return 70, true
	case "5":
		return 90, true
	}
	return 0, false
}
