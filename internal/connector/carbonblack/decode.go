// Package carbonblack is bannin's VMware / Broadcom Carbon Black Cloud
// integration: it decodes alerts of the Alerts v7 API
// (/api/alerts/v7/orgs/{org_key}/alerts/_search); pulls them with a
// timestamp checkpoint; quarantines devices and releases them through the
// device actions API; bans hashes through reputation overrides; and
// simulates those APIs for demos, replays and tests.
package carbonblack

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "carbonblack"

// Decoder turns one Carbon Black Cloud payload into alerts. It recognises:
//
//   - an alert of the Alerts v7 API (id, type, severity, device_id, …), of
//     any type (CB_ANALYTICS, WATCHLIST, DEVICE_CONTROL, CONTAINER_RUNTIME,
//     HOST_BASED_FIREWALL, INTRUSION_DETECTION_SYSTEM, …);
//   - a whole search answer {"results":[…],"num_found":N}; each item keeps
//     its own bytes as Raw.
//
// severity is an integer 1–10; the score is severity×10 (1→10 … 10→100).
// An alert without a severity in 1–10, without an id or naming no device is
// refused (ErrBadPayload). device_id, an integer, is kept as its digits: it
// is what the quarantine call takes. The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: carbonblack: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	if !f.Has("id") && f.Has("results") {
		return decodeList(f)
	}
	a, err := decodeAlert(f, payload)
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: carbonblack: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// decodeList decodes a search answer {"results":[…]}.
func decodeList(f jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(f["results"])
	if !ok {
		return nil, bad("results is not an array")
	}
	out := make([]alert.Alert, 0, len(raws))
	for i, raw := range raws {
		item, err := jsonfield.Parse(raw)
		if err != nil {
			return nil, bad("results item %d is not an object", i)
		}
		a, err := decodeAlert(item, raw)
		if err != nil {
			return nil, fmt.Errorf("%w (results item %d)", err, i)
		}
		out = append(out, a)
	}
	return out, nil
}

// decodeAlert maps one v7 alert.
func decodeAlert(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("id")
	if id == "" {
		return alert.Alert{}, bad("payload has no alert id (id)")
	}
	if f.Has("device_id") && !isDigits(f.Str("device_id")) {
		return alert.Alert{}, bad("alert %s: device_id %s is not an integer", id, f["device_id"])
	}
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          f.First("report_id", "rule_id", "reason_code", "type"),
		Title:         f.First("reason", "report_name", "type"),
		Description:   f.Str("report_description"),
		Product:       f.Str("type"),
		EventTime:     f.FirstTime("detection_timestamp", "first_event_timestamp", "backend_timestamp"),
		VendorCreated: f.Time("backend_timestamp"),
		Host: alert.Host{
			ID:     f.Str("device_id"),
			Name:   f.Str("device_name"),
			IPs:    connector.Uniq(f.Str("device_internal_ip"), f.Str("device_external_ip")),
			OS:     f.First("device_os_version", "device_os"),
			Groups: connector.NonEmpty(f.Str("device_policy")),
		},
		User:       f.First("process_username", "device_username"),
		Process:    process(f, "process_"),
		Parent:     process(f, "parent_"),
		Network:    network(f),
		Tactics:    connector.Uniq(jsonfield.SplitList(f.Str("attack_tactic"))...),
		Techniques: techniques(f),
		Action:     sensorAction(f.Str("sensor_action"), f.Str("run_state"), f.Str("policy_applied")),
		Link:       link(f.Str("alert_url")),
		Raw:        slices.Clone(raw),
	}
	sev, ok := f.Num("severity")
	if !ok || sev < 1 || sev > 10 || strconv.Itoa(sev) != f.Str("severity") {
		return alert.Alert{}, bad("alert %s has no severity 1–10 (severity: %s)", id, orNone(f["severity"]))
	}
	a.VendorSeverity = strconv.Itoa(sev)
	a.Score = Score(sev)
	if a.Host.ID == "" && a.Host.Name == "" {
		return alert.Alert{}, bad("alert %s names no device (device_id, device_name)", id)
	}
	return a, nil
}

// Score maps Carbon Black's severity 1–10 onto bannin's 0–100: severity×10.
func Score(severity int) int { return max(0, min(10, severity)) * 10 }

func orNone(raw []byte) string {
	if len(raw) == 0 {
		return "none"
	}
	return string(raw)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// process reads the process_* or parent_* fields. Carbon Black's *_name is
// the image's full path (c:\windows\…\powershell.exe): it becomes Path,
// and its last element Name.
func process(f jsonfield.Object, prefix string) alert.Process {
	name := f.Str(prefix + "name")
	p := alert.Process{
		Name:        alert.FileName(name),
		CommandLine: f.Str(prefix + "cmdline"),
		PID:         f.Str(prefix + "pid"),
		SHA256:      strings.ToLower(f.Str(prefix + "sha256")),
		SHA1:        strings.ToLower(f.Str(prefix + "sha1")),
		MD5:         strings.ToLower(f.Str(prefix + "md5")),
	}
	if strings.ContainsAny(name, `/\`) {
		p.Path = name
	}
	if p.PID == "0" {
		p.PID = ""
	}
	return p
}

// network reads the remote end of a network alert (netconn_remote_*).
func network(f jsonfield.Object) []alert.Network {
	n := alert.Network{IP: f.Str("netconn_remote_ip"), Domain: f.Str("netconn_remote_domain")}
	if p, ok := f.Num("netconn_remote_port"); ok && p > 0 && p < 65536 {
		n.Port = p
	}
	if n.IP == "" && n.Domain == "" {
		return nil
	}
	return []alert.Network{n}
}

// mitreTTP reads an ATT&CK technique from a Carbon Black TTP tag:
// MITRE_T1059_001_POWERSHELL is T1059.001, MITRE_T1059_CMD_LINE_… is T1059.
var mitreTTP = regexp.MustCompile(`^MITRE_(T\d{4})(?:_(\d{3}))?(?:_|$)`)

// techniques collects attack_technique (comma-separated ids) and the
// techniques named by the MITRE_ tags of ttps, without repeats.
func techniques(f jsonfield.Object) []string {
	out := connector.Uniq(jsonfield.SplitList(f.Str("attack_technique"))...)
	for _, tag := range f.Strs("ttps") {
		m := mitreTTP.FindStringSubmatch(strings.ToUpper(tag))
		if m == nil {
			continue
		}
		t := m[1]
		if m[2] != "" {
			t += "." + m[2]
		}
		out = connector.AppendNew(out, t)
	}
	return out
}

// sensorAction says what the sensor did: sensor_action TERMINATE is
// "killed", DENY or BLOCK "blocked"; a process that did not run under an
// applied policy was blocked too. ALLOW, ALLOW_AND_LOG and the rest are
// "none".
func sensorAction(action, runState, policy string) alert.Action {
	switch strings.ToUpper(action) {
	case "TERMINATE":
		return alert.ActionKilled
	case "DENY", "BLOCK":
		return alert.ActionBlocked
	}
	if strings.EqualFold(runState, "DID_NOT_RUN") && strings.EqualFold(policy, "APPLIED") {
		return alert.ActionBlocked
	}
	return alert.ActionNone
}

// link returns alert_url as an https URL (older alerts omit the scheme).
func link(u string) string {
	if u == "" || strings.Contains(u, "://") {
		return u
	}
	return "https://" + u
}
