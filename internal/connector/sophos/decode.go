// Package sophos is bannin's Sophos Central integration: it decodes SIEM
// alerts (GET /siem/v1/alerts items); pulls them with Sophos's cursor;
// isolates and releases endpoints through the Endpoint API; asks Sophos to
// clean up a threat (Common API alert actions) and blocks SHA-256 hashes
// (Endpoint API blocked items); and simulates those APIs for demos, replays
// and tests.
package sophos

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "sophos"

// Scores of Sophos's three severities; an unknown or missing severity
// counts as medium.
const (
	scoreLow    = 30
	scoreMedium = 50
	scoreHigh   = 80
)

// Decoder turns one Sophos Central payload into alerts. It recognises:
//
//   - a SIEM alert, an item of GET /siem/v1/alerts (id, type, severity,
//     location, source, when, created_at, data{endpoint_id, …});
//   - a whole list answer {"items":[…],"has_more":…,"next_cursor":…}; each
//     item keeps its own bytes as Raw.
//
// Severity becomes a score by this table (SeverityScale says the same in
// one line): low 30, medium 50, high 80; anything else 50. Sophos sends no
// ATT&CK ids. The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: sophos: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	if !f.Has("id") && f.Has("items") {
		return decodeList(f)
	}
	a, err := decodeAlert(f, payload)
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: sophos: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// decodeList decodes a SIEM list answer {"items":[…]}.
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
		a, err := decodeAlert(item, raw)
		if err != nil {
			return nil, fmt.Errorf("%w (items[%d])", err, i)
		}
		out = append(out, a)
	}
	return out, nil
}

// decodeAlert maps one SIEM alert.
func decodeAlert(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("id")
	if id == "" {
		return alert.Alert{}, bad("alert has no id")
	}
	typ := f.Str("type")
	if typ == "" && !f.Has("severity") && !f.Has("when") {
		return alert.Alert{}, bad("alert %s has none of type, severity, when: not a SIEM alert", id)
	}
	d := f.Obj("data")
	sev, score := severity(f.Str("severity"))
	a := alert.Alert{
		Vendor:         VendorName,
		VendorID:       id,
		Rule:           typ,
		Title:          title(typ, f.Str("threat")),
		Description:    f.Str("description"),
		Product:        product(d),
		EventTime:      f.FirstTime("when", "created_at"),
		VendorCreated:  f.FirstTime("created_at"),
		Host:           host(f, d),
		User:           user(f.Str("source")),
		Process:        process(d),
		Network:        network(d.Obj("ips_threat")),
		VendorSeverity: sev,
		Score:          score,
		Action:         action(typ),
		Raw:            slices.Clone(raw),
	}
	if a.EventTime.IsZero() {
		a.EventTime = d.FirstTime("created_at", "inserted_at")
	}
	return a, nil
}

// severity maps Sophos's low/medium/high.
func severity(s string) (string, int) {
	switch strings.ToLower(s) {
	case "low":
		return s, scoreLow
	case "high":
		return s, scoreHigh
	}
	return s, scoreMedium
}

// title is the last part of the event type, with the threat's name:
// "PuaCleanupFailed: PUAqsw3kby31j".
func title(typ, threat string) string {
	short := typ[strings.LastIndex(typ, "::")+1:]
	short = strings.TrimPrefix(short, ":")
	switch {
	case short == "":
		return threat
	case threat == "":
		return short
	}
	return short + ": " + threat
}

// product names the Sophos component that raised the alert (data.app_id,
// e.g. HMPA for Intercept X exploit prevention).
func product(d jsonfield.Object) string {
	if app := d.First("app_id", "source_app_id"); app != "" {
		return "Sophos Central " + app
	}
	return "Sophos Central"
}

// host reads the endpoint: data.endpoint_id is the id the isolation API
// takes, location the host name.
func host(f, d jsonfield.Object) alert.Host {
	h := alert.Host{
		ID:   d.First("endpoint_id", "endpoint_java_id"),
		Name: f.Str("location"),
		OS:   d.Str("endpoint_platform"),
		Role: d.Str("endpoint_type"),
	}
	if ip := d.Obj("source_info").Str("ip"); ip != "" {
		h.IPs = []string{ip}
	}
	return h
}

// user keeps Sophos's "Domain\User" whole (other vendors send it the same
// way); "n/a" and empty mean none.
func user(s string) string {
	if strings.EqualFold(s, "n/a") {
		return ""
	}
	return s
}

// process reads the process an exploit-prevention (data.hmpa_exploit) or
// intrusion-prevention (data.ips_threat) alert names. When both are there
// the exploit's process wins, as in Elastic's pipeline; the IPS executable's
// hash is then not attached to it (it is another program).
func process(d jsonfield.Object) alert.Process {
	if hm := d.Obj("hmpa_exploit"); hm.Has("process_name") || hm.Has("process_path") {
		return alert.Process{Name: hm.Str("process_name"), Path: hm.Str("process_path"), PID: hm.Str("process_pid")}
	}
	ips := d.Obj("ips_threat")
	if !ips.Has("executable_name") && !ips.Has("executable_path") {
		return alert.Process{}
	}
	p := alert.Process{Name: ips.Str("executable_name"), Path: ips.Str("executable_path"), PID: ips.Str("executable_pid")}
	if p.Path != "" {
		p.Name = alert.FileName(p.Path)
	}
	p.SHA256 = strings.ToLower(rawField(ips.Str("raw_data"), "SHA-256"))
	return p
}

// rawField reads "Key:   value" from the text block ips_threat.raw_data.
func rawField(text, key string) string {
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// network reads the remote end of an intrusion-prevention alert.
func network(ips jsonfield.Object) []alert.Network {
	ip := ips.Str("remote_ip")
	if ip == "" {
		return nil
	}
	port, _ := ips.Num("remote_port")
	if port < 0 || port > 65535 {
		port = 0
	}
	return []alert.Network{{IP: ip, Port: port}}
}

// action reads what Sophos already did from the event type: "…Blocked",
// "…Prevented" (blocked), "…Cleaned…" and "…Quarantined" (quarantined);
// a failed clean-up ("…CleanupFailed") and plain detections did nothing.
func action(typ string) alert.Action {
	t := strings.ToLower(typ)
	switch {
	case strings.Contains(t, "failed"):
		return alert.ActionNone
	case strings.Contains(t, "blocked"), strings.Contains(t, "prevented"):
		return alert.ActionBlocked
	case strings.Contains(t, "cleaned"), strings.Contains(t, "quarantined"):
		return alert.ActionQuarantined
	}
	return alert.ActionNone
}
