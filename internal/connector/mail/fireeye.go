package mail

import (
	"bytes"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// FireEye severities and their scores.
var fireeyeScores = map[string]int{"crit": 90, "majr": 70, "minr": 40}

// fireeyeUnknownScore is the score of a FireEye alert whose severity is
// missing or not one of crit, majr, minr.
const fireeyeUnknownScore = 50

// reFireEyeText recognises FireEye's text notification by its alert line.
var reFireEyeText = regexp.MustCompile(`(?m)^\s*alert\s*\(\s*id\s*:`)

// fireeyeNotifications finds FireEye notifications in a mail: JSON or XML
// attachments or bodies, or the text format in a body. It returns the trees
// whose alerts should be decoded, or nil when the mail is not FireEye's.
func fireeyeNotifications(m *mailMessage) []*node {
	var roots []*node
	try := func(b []byte) {
		b = bytes.TrimSpace(b)
		var root *node
		switch {
		case len(b) == 0:
		case b[0] == '{':
			root, _ = jsonTree(b)
		case b[0] == '<':
			root, _ = xmlTree(b)
		case reFireEyeText.Match(b):
			root = textTree(string(b))
		}
		if root != nil && isFireEye(root) {
			roots = append(roots, root)
		}
	}
	for _, f := range m.Files {
		try(f.Body)
	}
	if len(roots) == 0 {
		for _, t := range m.Texts {
			try([]byte(t))
		}
	}
	return roots
}

// isFireEye reports whether a tree holds at least one FireEye alert: an
// "alert" element with an id, a name or a severity.
func isFireEye(root *node) bool {
	for _, a := range root.all("alert") {
		if a.str("id", "name", "severity") != "" {
			return true
		}
	}
	return false
}

// decodeFireEye turns each alert of a notification into an Alert.
func decodeFireEye(root *node, m *mailMessage) []alert.Alert {
	var out []alert.Alert
	for _, a := range root.all("alert") {
		if a.str("id", "name", "severity") == "" {
			continue
		}
		out = append(out, fireeyeAlert(root, a, m))
	}
	return out
}

func fireeyeAlert(root, a *node, m *mailMessage) alert.Alert {
	kind := a.str("name")
	sev := strings.ToLower(a.str("severity"))
	malware := a.child("explanation").child("malware-detected").all("malware")
	names := malwareNames(malware)
	out := alert.Alert{
		Vendor:         VendorName,
		VendorID:       fireeyeID(root, a, m),
		Rule:           "fireeye:" + kind,
		Product:        fireeyeProduct(firstNonEmpty(a.str("product"), root.str("product"))),
		EventTime:      fireeyeTime(a.str("occurred", "attack-time")),
		Link:           a.str("alert-url"),
		VendorSeverity: a.str("severity"),
		Score:          fireeyeUnknownScore,
		Action:         alert.ActionNone,
	}
	if s, ok := fireeyeScores[sev]; ok {
		out.Score = s
	}
	if len(names) > 0 {
		out.Rule += ":" + names[0]
	}
	out.Title = strings.TrimSpace(kind + ": " + strings.Join(names, ", "))
	if strings.EqualFold(a.str("action"), "blocked") {
		out.Action = alert.ActionBlocked
	}
	fireeyeEndpoints(&out, a)
	fireeyeHashes(&out, malware)
	if appliance := root.str("appliance"); appliance != "" {
		out.Description = "appliance " + appliance
	}
	if subj := a.child("smtp-message").str("subject"); subj != "" {
		out.Description = strings.TrimSpace(out.Description + "; mail subject: " + subj)
	}
	return out
}

func malwareNames(ms []*node) []string {
	var names []string
	for _, mw := range ms {
		if n := mw.str("name", "sname"); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// fireeyeID is unique across appliances: the alert id counts per appliance.
func fireeyeID(root, a *node, m *mailMessage) string {
	id := a.str("id", "uuid")
	if id == "" {
		return m.MessageID
	}
	app := firstNonEmpty(root.str("appliance-id"), a.str("appliance-id"), root.str("appliance"))
	if app == "" {
		return "fireeye:" + id
	}
	return "fireeye:" + app + ":" + id
}

// fireeyeEndpoints fills the host and the remote side. On NX the source is
// the internal host that called out and the destination (and any CnC
// service) is the remote side; on EX the source is the sending address and
// the destination the recipient, who becomes the alert's user.
func fireeyeEndpoints(out *alert.Alert, a *node) {
	src, dst := a.child("src"), a.child("dst")
	if to := dst.str("smtp-to"); to != "" {
		out.User = to
		return
	}
	out.Host.Name = src.str("host", "hostname")
	if ip := src.str("ip", "ipv4", "ipv6"); ip != "" {
		out.Host.IPs = []string{ip}
	}
	if ip := dst.str("ip", "ipv4", "ipv6"); ip != "" {
		port, _ := strconv.Atoi(dst.str("port"))
		out.Network = append(out.Network, alert.Network{IP: ip, Port: port, Domain: dst.str("host")})
	}
	for _, c := range a.child("explanation").child("cnc-services").all("cnc-service") {
		addr := c.str("address", "host")
		if addr == "" {
			continue
		}
		port, _ := strconv.Atoi(c.str("port"))
		n := alert.Network{Port: port}
		if net.ParseIP(addr) != nil {
			n.IP = addr
		} else {
			n.Domain = addr
		}
		if !hasNetwork(out.Network, n) {
			out.Network = append(out.Network, n)
		}
	}
}

func hasNetwork(ns []alert.Network, n alert.Network) bool {
	for _, x := range ns {
		if (n.IP != "" && x.IP == n.IP || n.Domain != "" && x.Domain == n.Domain) && x.Port == n.Port {
			return true
		}
	}
	return false
}

// fireeyeHashes takes the first malware object's hashes and file name.
func fireeyeHashes(out *alert.Alert, ms []*node) {
	for _, mw := range ms {
		md5, sha256 := mw.str("md5sum", "md5"), mw.str("sha256")
		if md5 == "" && sha256 == "" {
			continue
		}
		out.Process.MD5 = strings.ToLower(md5)
		out.Process.SHA256 = strings.ToLower(sha256)
		out.Process.SHA1 = strings.ToLower(mw.str("sha1"))
		out.Process.Name = mw.str("original")
		return
	}
}

// fireeyeProduct names the appliance line from the notification's product.
func fireeyeProduct(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "web mps", "mps", "nx":
		return "FireEye NX"
	case "email mps", "email_mps", "emps", "ex":
		return "FireEye EX"
	case "file mps", "fmps", "fx":
		return "FireEye FX"
	case "mas", "ax":
		return "FireEye AX"
	case "cms", "cm":
		return "FireEye CM"
	case "hx":
		return "FireEye HX"
	case "":
		return "FireEye"
	}
	return "FireEye " + p
}

// fireeyeTime reads "occurred": RFC 3339 (JSON), "2006-01-02 15:04:05 +0000"
// (text and older JSON), "2006-01-02 15:04:05" in UTC (XML) or epoch
// milliseconds.
func fireeyeTime(s string) time.Time {
	if t := jsonfield.ParseTime(s); !t.IsZero() {
		return t
	}
	for _, l := range []string{"2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST", "2006-01-02T15:04:05 -0700"} {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil && t.Year() >= 1970 && t.Year() <= 9999 {
			return t.UTC()
		}
	}
	return time.Time{}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
