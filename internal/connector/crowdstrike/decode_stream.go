package crowdstrike

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// decodeStream routes an Event Streams event {"metadata":…,"event":…}. The
// legacy detection summary is recognised by event.ExternalApiType as well as
// by eventType, because the SIEM connector labels it IncidentSummaryEvent.
func decodeStream(f fields, raw []byte) ([]alert.Alert, error) {
	if !isObject(f["event"]) {
		return nil, bad("stream event has no event object")
	}
	meta, ev := f.obj("metadata"), f.obj("event")
	typ := meta.str("eventType")
	var (
		a   alert.Alert
		err error
	)
	switch {
	case ev.str("ExternalApiType") == "Event_DetectionSummaryEvent" || strings.EqualFold(typ, "DetectionSummaryEvent"):
		a, err = decodeLegacy(meta, ev, raw)
	case strings.EqualFold(typ, "EppDetectionSummaryEvent"):
		a, err = decodeEpp(meta, ev, raw)
	case typ == "":
		return nil, bad("stream event has no metadata.eventType")
	default:
		return nil, nil // audit, incident and other events carry no detection
	}
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}

// decodeEpp maps an EppDetectionSummaryEvent. Its Tactic and Technique are
// names, not ATT&CK ids, so they go into the description, not Techniques.
func decodeEpp(meta, ev fields, raw []byte) (alert.Alert, error) {
	id := ev.str("CompositeId")
	if id == "" {
		return alert.Alert{}, bad("detection summary has no CompositeId")
	}
	created := meta.time("eventCreationTime")
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          ev.first("PatternId", "Name"),
		Title:         title(ev.str("Name"), ev),
		Description:   describe(ev.str("Description"), ev),
		Product:       "epp",
		EventTime:     firstTime(created, ev.time("ProcessStartTime")),
		VendorCreated: created,
		Host: alert.Host{
			ID:     ev.str("AgentId"),
			Name:   ev.str("Hostname"),
			IPs:    uniq(ev.str("LocalIP"), ev.str("LocalIPv6"), ev.str("ExternalIP")),
			OS:     ev.first("OSVersion", "Platform"),
			Groups: ev.strs("HostGroups"),
		},
		User:    ev.str("UserName"),
		Process: streamProcess(ev),
		Parent:  streamParent(ev),
		Action:  disposition(ev.obj("PatternDispositionFlags"), camelFlags),
		Link:    ev.str("FalconHostLink"),
		Raw:     clone(raw),
	}
	a.VendorSeverity, a.Score = severity100(ev, "Severity", "SeverityName")
	return a, nil
}

// decodeLegacy maps the legacy detection summary (SIEM connector, older
// Event Streams): severity 1–5, the AID in SensorId (or AgentIdString), the
// detection time in UTCTimestamp (epoch ms).
func decodeLegacy(meta, ev fields, raw []byte) (alert.Alert, error) {
	id := ev.str("DetectId")
	if id == "" {
		return alert.Alert{}, bad("detection summary has no DetectId")
	}
	created := meta.time("eventCreationTime")
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          ev.first("PatternId", "DetectName"),
		Title:         title(ev.str("DetectName"), ev),
		Description:   describe(ev.str("DetectDescription"), ev),
		EventTime:     firstTime(ev.time("UTCTimestamp"), ev.time("timestamp"), created),
		VendorCreated: created,
		Host: alert.Host{
			ID:     ev.first("SensorId", "AgentIdString"),
			Name:   ev.str("ComputerName"),
			IPs:    uniq(ev.str("LocalIP")),
			Groups: ev.strs("HostGroups"),
		},
		User:    ev.str("UserName"),
		Process: streamProcess(ev),
		Parent:  streamParent(ev),
		Action:  disposition(ev.obj("PatternDispositionFlags"), camelFlags),
		Link:    ev.str("FalconHostLink"),
		Raw:     clone(raw),
	}
	a.VendorSeverity, a.Score = severity5(ev)
	return a, nil
}

func streamProcess(ev fields) alert.Process {
	return alert.Process{
		Name:        ev.str("FileName"),
		Path:        ev.str("FilePath"),
		CommandLine: ev.str("CommandLine"),
		PID:         ev.str("ProcessId"),
		SHA256:      ev.str("SHA256String"),
		SHA1:        ev.str("SHA1String"),
		MD5:         ev.str("MD5String"),
	}
}

// streamParent reads the parent. ParentImageFileName is a bare name in Event
// Streams ("rutserv.exe") but a full path in the SIEM connector
// ("/bin/busybox"); the name is cut from it either way.
func streamParent(ev fields) alert.Process {
	image := ev.str("ParentImageFileName")
	p := alert.Process{
		Name:        baseName(image),
		Path:        ev.str("ParentImageFilePath"),
		CommandLine: ev.str("ParentCommandLine"),
		PID:         ev.str("ParentProcessId"),
	}
	if p.Path == "" && p.Name != image {
		p.Path = image
	}
	return p
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}

// title is the detection's name, else its tactic and technique names.
func title(name string, ev fields) string {
	if name != "" {
		return name
	}
	return strings.Join(nonEmpty(ev.str("Tactic"), ev.str("Technique")), ": ")
}

// describe appends the tactic and technique names to the description.
func describe(desc string, ev fields) string {
	var names []string
	if t := ev.str("Tactic"); t != "" {
		names = append(names, "tactic "+t)
	}
	if t := ev.str("Technique"); t != "" {
		names = append(names, "technique "+t)
	}
	switch {
	case len(names) == 0:
		return desc
	case desc == "":
		return strings.Join(names, ", ")
	}
	return desc + " (" + strings.Join(names, ", ") + ")"
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// rawArray splits a JSON array into its elements.
func rawArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	return items, true
}
