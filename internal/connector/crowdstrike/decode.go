// Package crowdstrike is bannin's CrowdStrike Falcon integration: it decodes
// Alerts API alerts, Event Streams detection summaries and the SIEM
// connector's legacy detection summaries; pulls alerts through the Alerts
// API; contains and releases hosts through the Hosts API; and simulates those
// APIs for demos, replays and tests.
package crowdstrike

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "crowdstrike"

// Decoder turns one CrowdStrike payload into alerts. It recognises:
//
//   - an Alerts API alert (a resource of /alerts/entities/alerts/v2), or a
//     whole entities response whose resources are such alerts;
//   - an Event Streams event {"metadata":…,"event":…} whose eventType is
//     EppDetectionSummaryEvent (any case);
//   - a legacy detection summary: event.ExternalApiType
//     "Event_DetectionSummaryEvent" (SIEM connector) or eventType
//     "DetectionSummaryEvent" (older Event Streams), severity 1–5.
//
// Other Event Streams events (audit, incident summaries, …) decode to no
// alert and no error. The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: crowdstrike: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	switch {
	case f.Has("composite_id"):
		a, err := decodeAlert(f, payload)
		if err != nil {
			return nil, err
		}
		return []alert.Alert{a}, nil
	case f.Has("metadata") || f.Has("event"):
		return decodeStream(f, payload)
	case looksLikeAlert(f):
		return nil, bad("alert has no composite_id")
	case f.Has("resources"):
		return decodeResources(f)
	}
	return nil, bad("payload is neither an Alerts API alert (composite_id) nor an Event Streams event (metadata, event)")
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: crowdstrike: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// looksLikeAlert reports whether f carries fields only an Alerts API alert
// has, so that one without a composite_id gets a precise error.
func looksLikeAlert(f jsonfield.Object) bool {
	for _, k := range []string{"agent_id", "device", "pattern_id", "aggregate_id", "created_timestamp", "falcon_host_link"} {
		if f.Has(k) {
			return true
		}
	}
	return false
}

// decodeResources decodes an Alerts API entities response; each resource
// keeps its own bytes as Raw.
func decodeResources(f jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(f["resources"])
	if !ok {
		return nil, bad("resources is not an array")
	}
	out := make([]alert.Alert, 0, len(raws))
	for i, raw := range raws {
		rf, err := jsonfield.Parse(raw)
		if err != nil {
			return nil, bad("resource %d is not an object", i)
		}
		a, err := decodeAlert(rf, raw)
		if err != nil {
			return nil, fmt.Errorf("%w (resource %d)", err, i)
		}
		out = append(out, a)
	}
	return out, nil
}

// decodeAlert maps an Alerts API alert.
func decodeAlert(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("composite_id")
	if id == "" {
		return alert.Alert{}, bad("alert has no composite_id")
	}
	dev := f.Obj("device")
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          f.First("pattern_id", "name"),
		Title:         f.First("display_name", "name", "technique"),
		Description:   f.Str("description"),
		Product:       f.Str("product"),
		EventTime:     f.FirstTime("timestamp", "context_timestamp", "created_timestamp"),
		VendorCreated: f.Time("created_timestamp"),
		Host:          alertHost(f, dev),
		User:          f.First("user_name", "source_account_upn", "source_account_name"),
		Process:       alertProcess(f),
		Parent:        alertProcess(f.Obj("parent_details")),
		Tactics:       connector.NonEmpty(f.Str("tactic_id")),
		Techniques:    connector.NonEmpty(f.Str("technique_id")),
		Action:        disposition(f.Obj("pattern_disposition_details"), snakeFlags),
		Link:          f.Str("falcon_host_link"),
		Raw:           slices.Clone(raw),
	}
	a.VendorSeverity, a.Score = severity100(f, "severity", "severity_name")
	if c, ok := f.Num("confidence"); ok {
		a.Confidence = alert.Clamp(c)
	}
	return a, checkAlert(f, a)
}

// checkAlert refuses an alert bannin could not judge or act on: one with no
// rating, no endpoint, or a device that is not an object (an alert without a
// readable time is taken at its receipt time by intake). Such a
// payload is not what the Alerts API sends, so it goes to quarantine with
// the reason instead of becoming an incident about nobody.
func checkAlert(f jsonfield.Object, a alert.Alert) error {
	switch {
	case f.Has("device") && !jsonfield.IsObject(f["device"]):
		return bad("alert %s: device is not an object", a.VendorID)
	case a.VendorSeverity == "":
		return bad("alert %s has no severity or severity_name", a.VendorID)
	case a.Host.ID == "" && a.Host.Name == "":
		return bad("alert %s names no endpoint (agent_id, device or source_endpoint_*)", a.VendorID)
	}
	return nil
}

// alertHost reads the host. agent_id is the AID the containment call takes
// (it equals device.device_id); identity (IDP) alerts have no device object
// and name the endpoint in source_endpoint_* (else target_endpoint_*).
func alertHost(f, dev jsonfield.Object) alert.Host {
	h := alert.Host{
		ID:     f.First("agent_id", "source_endpoint_sensor_id", "target_endpoint_sensor_id"),
		Name:   dev.Str("hostname"),
		IPs:    uniq(dev.Str("local_ip"), dev.Str("external_ip")),
		OS:     dev.First("os_version", "platform_name"),
		Groups: dev.Strs("groups"),
		Role:   strings.ToLower(dev.Str("product_type_desc")),
	}
	if h.ID == "" {
		h.ID = dev.Str("device_id")
	}
	if h.Name == "" {
		h.Name = f.First("source_endpoint_host_name", "target_endpoint_host_name")
		h.IPs = uniq(f.First("source_endpoint_ip_address", "source_endpoint_address_ip4"))
	}
	if h.OS == "" {
		h.OS = f.First("platform", "os_name")
	}
	return h
}

// alertProcess reads a process of the Alerts API shape (the alert itself or
// parent_details). PID is process_id, CrowdStrike's own process id, because
// Event Streams carries only that one; the OS pid (local_process_id) is the
// fallback.
func alertProcess(f jsonfield.Object) alert.Process {
	return alert.Process{
		Name:        f.Str("filename"),
		Path:        f.Str("filepath"),
		CommandLine: f.Str("cmdline"),
		PID:         f.First("process_id", "local_process_id"),
		SHA256:      f.Str("sha256"),
		SHA1:        f.Str("sha1"),
		MD5:         f.Str("md5"),
	}
}

// Disposition flag names in the two spellings CrowdStrike uses.
type flagNames struct {
	quarantine, kill, killFailed, policyDisabled string
	blocked                                      []string
}

var (
	snakeFlags = flagNames{
		quarantine: "quarantine_file", kill: "kill_process", killFailed: "kill_action_failed",
		policyDisabled: "policy_disabled",
		blocked:        []string{"process_blocked", "operation_blocked", "fs_operation_blocked", "registry_operation_blocked"},
	}
	camelFlags = flagNames{
		quarantine: "QuarantineFile", kill: "KillProcess", killFailed: "KillActionFailed",
		policyDisabled: "PolicyDisabled",
		blocked:        []string{"ProcessBlocked", "OperationBlocked", "FsOperationBlocked", "RegistryOperationBlocked"},
	}
)

// disposition says what the sensor did. policy_disabled means the matching
// prevention setting was off, so every flag describes what the sensor would
// have done ("process would have been killed"): that is no action at all.
// We apply it to every flag, not only kill_process, because claiming a
// quarantine that did not happen would lower the alert's severity wrongly.
func disposition(d jsonfield.Object, n flagNames) alert.Action {
	if d.Flag(n.policyDisabled) {
		return alert.ActionNone
	}
	switch {
	case d.Flag(n.quarantine):
		return alert.ActionQuarantined
	case d.Flag(n.kill) && !d.Flag(n.killFailed):
		return alert.ActionKilled
	}
	for _, k := range n.blocked {
		if d.Flag(k) {
			return alert.ActionBlocked
		}
	}
	return alert.ActionNone
}

// severity100 reads a 1–100 rating (Alerts API, Event Streams). The score is
// the number clamped to 0–100; without a number it comes from the name:
//
//	Critical 90, High 70, Medium 50, Low 30, Informational 10.
func severity100(f jsonfield.Object, numKey, nameKey string) (string, int) {
	if n, ok := f.Num(numKey); ok && n > 0 {
		return f.Str(numKey), alert.Clamp(n)
	}
	name := f.Str(nameKey)
	return name, scoreFromName(name)
}

// legacyScores maps the legacy detection summary's 1–5 severity:
//
//	1 → 10, 2 → 30, 3 → 50, 4 → 70, 5 → 90.
var legacyScores = map[int]int{1: 10, 2: 30, 3: 50, 4: 70, 5: 90}

// severity5 reads the legacy 1–5 rating. A number above 5 is taken as the
// newer 1–100 scale; none at all falls back to the name.
func severity5(f jsonfield.Object) (string, int) {
	n, ok := f.Num("Severity")
	switch {
	case ok && legacyScores[n] > 0:
		return f.Str("Severity"), legacyScores[n]
	case ok && n > 5:
		return f.Str("Severity"), alert.Clamp(n)
	}
	name := f.Str("SeverityName")
	return name, scoreFromName(name)
}

func scoreFromName(name string) int {
	switch strings.ToLower(name) {
	case "critical":
		return 90
	case "high":
		return 70
	case "medium":
		return 50
	case "low":
		return 30
	case "informational", "info":
		return 10
	}
	return 0
}

func uniq(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
