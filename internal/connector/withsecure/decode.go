// Package withsecure is bannin's WithSecure Elements integration: it
// decodes security events (items of POST /security-events/v1/security-events,
// EPP, EDR and ECP engines); pulls them with anchor paging and a
// persistenceTimestamp checkpoint; isolates devices from the network and
// releases them through POST /devices/v1/operations; and simulates those APIs
// for demos, replays and tests.
package withsecure

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "withsecure"

// Scores maps a security event's severity onto bannin's 0–100 score.
// SeverityScale says the same in one line.
var Scores = map[string]int{
	"info":        10,
	"warning":     40,
	"error":       60,
	"fatal_error": 80,
	"critical":    90,
}

// Decoder turns one WithSecure Elements payload into alerts. It takes a
// security event (an item of the security-events list: id, severity,
// engine, action, device, details{…}) or a whole list answer
// {"items":[…],"nextAnchor":…}, whose items keep their own bytes as Raw.
//
// Every value in details is a string, numbers and booleans included; the
// event's times are RFC 3339, details.clientTimestamp is epoch
// milliseconds. Severity becomes a score by Scores; an event with no
// severity in that table, or naming no device, is refused (ErrBadPayload).
// EPP events carry no ATT&CK ids. The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: withsecure: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	if !f.Has("id") && f.Has("items") {
		return decodeList(f)
	}
	a, err := decodeEvent(f, payload)
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: withsecure: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// decodeList decodes a list answer {"items":[…]}.
func decodeList(f jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(f["items"])
	if !ok {
		return nil, bad("items is not an array")
	}
	out := make([]alert.Alert, 0, len(raws))
	for i, raw := range raws {
		item, err := jsonfield.Parse(raw)
		if err != nil {
			return nil, bad("items[%d] is not an object", i)
		}
		a, err := decodeEvent(item, raw)
		if err != nil {
			return nil, fmt.Errorf("%w (items[%d])", err, i)
		}
		out = append(out, a)
	}
	return out, nil
}

// decodeEvent maps one security event.
func decodeEvent(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("id")
	if id == "" {
		return alert.Alert{}, bad("security event has no id")
	}
	d, dev, tgt := f.Obj("details"), f.Obj("device"), f.Obj("target")
	engine := f.Str("engine")
	sev := strings.ToLower(f.Str("severity"))
	score, known := Scores[sev]
	a := alert.Alert{
		Vendor:         VendorName,
		VendorID:       id,
		Rule:           rule(engine, d.Str("alertType")),
		Title:          title(engine, d),
		Description:    d.First("ruleName", "errorMessage", "reason", "appliedRule", "settingName"),
		Product:        engine,
		EventTime:      eventTime(f, d),
		VendorCreated:  f.FirstTime("serverTimestamp", "persistenceTimestamp"),
		VendorSeverity: f.Str("severity"),
		Score:          score,
		Action:         action(f.Str("action"), d.Str("action")),
		Host: alert.Host{
			ID:   dev.First("id"),
			Name: firstNonEmpty(dev.Str("name"), tgt.Str("name"), d.Str("computerName")),
			IPs:  hostIPs(d),
		},
		User:    firstNonEmpty(f.Str("userName"), d.Str("userName"), d.Str("userPrincipalName")),
		Process: process(engine, d),
		Parent:  parent(d),
		Network: network(d),
		Raw:     slices.Clone(raw),
	}
	if a.Host.ID == "" {
		a.Host.ID = tgt.Str("id")
	}
	switch {
	case !known:
		return alert.Alert{}, bad("security event %s has no severity of info, warning, error, fatal_error, critical (got %q)", id, sev)
	case a.Host.ID == "" && a.Host.Name == "":
		return alert.Alert{}, bad("security event %s names no device (device.id, device.name)", id)
	}
	return a, nil
}

// rule names the detection logic: the engine and the alert type, since an
// alertType such as "file" is shared by several engines.
func rule(engine, alertType string) string {
	switch {
	case alertType == "":
		return engine
	case engine == "":
		return alertType
	}
	return engine + ":" + alertType
}

// title is the detection's name (infection, DeepGuard rule), else the
// engine and alert type.
func title(engine string, d jsonfield.Object) string {
	if t := d.First("infectionName", "name"); t != "" {
		return t
	}
	if t := rule(engine, d.Str("alertType")); t != "" {
		return "WithSecure " + t
	}
	return "WithSecure security event"
}

// eventTime is when the endpoint saw the event: the event's
// clientTimestamp, else details.clientTimestamp (epoch ms), else when the
// server received it.
func eventTime(f, d jsonfield.Object) time.Time {
	if t := f.Time("clientTimestamp"); !t.IsZero() {
		return t
	}
	if t := d.Time("clientTimestamp"); !t.IsZero() {
		return t
	}
	return f.FirstTime("serverTimestamp", "persistenceTimestamp")
}

// action maps what the product did. details.action carries it for the
// Linux integrity checker (allow, deny).
func action(top, detail string) alert.Action {
	a := strings.ToLower(top)
	if a == "" || a == "none" {
		a = strings.ToLower(detail)
	}
	switch a {
	case "blocked", "deny", "denied", "block":
		return alert.ActionBlocked
	case "quarantined", "quarantine", "disinfected", "deleted", "renamed":
		return alert.ActionQuarantined
	case "killed", "terminated":
		return alert.ActionKilled
	}
	return alert.ActionNone
}

// process is the program the event is about. Which detail names it depends
// on the engine: application control reports the started application as
// target*, tamper protection and device control the initiator, the
// integrity checker the modifying process (its path is the modified
// file), XFence the process with a SHA-256 processHash. For the others it is
// the scanned or blocked file.
func process(engine string, d jsonfield.Object) alert.Process {
	var p alert.Process
	switch engine {
	case "applicationControl":
		p = alert.Process{Path: d.First("targetPath", "installerPath"), SHA1: hexOf(d.Str("targetSha1"), 40),
			CommandLine: d.Str("targetCommandLine")}
	case "tamperProtection", "deviceControl":
		p = alert.Process{Path: d.Str("initiator"), SHA1: hexOf(d.Str("initiatorHash"), 40), CommandLine: d.Str("command")}
	case "integrityChecker":
		p = alert.Process{Path: d.Str("processPath")}
	default:
		p = alert.Process{Path: d.First("processPath", "filePath", "path", "object", "process"),
			SHA1: hexOf(d.Str("sha1"), 40), CommandLine: d.Str("commandLine")}
	}
	p.PID = d.Str("processId")
	if h := d.Str("processHash"); p.SHA256 == "" {
		p.SHA256 = hexOf(h, 64)
		if p.SHA1 == "" {
			p.SHA1 = hexOf(h, 40)
		}
	}
	if p.Path == "" && engine != "integrityChecker" {
		p.Path = d.Str("process")
	}
	p.Name = baseName(p.Path)
	if p.Path == p.Name && !strings.ContainsAny(p.Path, `\/`) {
		p.Path = "" // a bare image name ("plink.exe") is a name, not a path
	}
	return p
}

// parent is the program that started, created or opened the one the event
// is about.
func parent(d jsonfield.Object) alert.Process {
	var p alert.Process
	switch {
	case d.Str("parentPath") != "":
		p.Path = d.Str("parentPath")
	case d.Str("creator") != "":
		p.Path, p.SHA1 = d.Str("creator"), hexOf(d.Str("creatorSha1"), 40)
	case d.Str("accessorPath") != "":
		p.Path, p.SHA1 = d.Str("accessorPath"), hexOf(d.Str("accessorHash"), 40)
	}
	p.Name = baseName(p.Path)
	return p
}

// network reads the remote end of connection-control, firewall and web
// events. WithSecure defangs some URLs (hxxp://); the host is read anyway.
func network(d jsonfield.Object) []alert.Network {
	var out []alert.Network
	if ip := d.First("ip", "remoteAddress"); ip != "" {
		n := alert.Network{IP: ip}
		if port, ok := d.Num("port"); ok {
			n.Port = port
		} else if port, ok := d.Num("remotePort"); ok {
			n.Port = port
		}
		out = append(out, n)
	}
	if dom := urlHost(d.First("url", "websiteUrl")); dom != "" {
		out = append(out, alert.Network{Domain: dom})
	}
	return out
}

// urlHost returns the host of a URL, defanged (hxxp) or without a scheme.
func urlHost(s string) string {
	if s == "" {
		return ""
	}
	low := strings.ToLower(s)
	if strings.HasPrefix(low, "hxxp") {
		s = "http" + s[4:]
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// hostIPs reads details.hostIpAddress / ipAddress ("10.133.2.220/22"),
// without the prefix length.
func hostIPs(d jsonfield.Object) []string {
	var out []string
	for _, k := range []string{"hostIpAddress", "ipAddress"} {
		for _, v := range jsonfield.SplitList(d.Str(k)) {
			if i := strings.IndexByte(v, '/'); i > 0 {
				v = v[:i]
			}
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// baseName returns the last element of a Windows or POSIX path.
func baseName(p string) string {
	p = strings.TrimRight(p, `\/`)
	if p == "" {
		return ""
	}
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return path.Base(p)
}

// hexOf returns s lower-cased when it is a hex digest of n characters,
// else "" (WithSecure sends placeholders such as "sha1").
func hexOf(s string, n int) string {
	if len(s) != n {
		return ""
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return ""
		}
	}
	return strings.ToLower(s)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
