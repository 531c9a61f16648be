package crowdstrike

import (
	"slices"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// decodeStream routes an Event Streams event {"metadata":…,"event":…}. The
// legacy detection summary is recognised by event.ExternalApiType as well as
// by eventType, because the SIEM connector labels it IncidentSummaryEvent.
func decodeStream(f jsonfield.Object, raw []byte) ([]alert.Alert, error) {
	if !jsonfield.IsObject(f["event"]) {
		return nil, bad("stream event has no event object")
	}
	meta, ev := f.Obj("metadata"), f.Obj("event")
	typ := meta.Str("eventType")
	var (
		a   alert.Alert
		err error
	)
	switch {
	case ev.Str("ExternalApiType") == "Event_DetectionSummaryEvent" || strings.EqualFold(typ, "DetectionSummaryEvent"):
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
func decodeEpp(meta, ev jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := ev.Str("CompositeId")
	if id == "" {
		return alert.Alert{}, bad("detection summary has no CompositeId")
	}
	created := meta.Time("eventCreationTime")
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          ev.First("PatternId", "Name"),
		Title:         title(ev.Str("Name"), ev),
		Description:   describe(ev.Str("Description"), ev),
		Product:       "epp",
		EventTime:     firstTime(created, ev.Time("ProcessStartTime")),
		VendorCreated: created,
		Host: alert.Host{
			ID:     ev.Str("AgentId"),
			Name:   ev.Str("Hostname"),
			IPs:    uniq(ev.Str("LocalIP"), ev.Str("LocalIPv6"), ev.Str("ExternalIP")),
			OS:     ev.First("OSVersion", "Platform"),
			Groups: ev.Strs("HostGroups"),
		},
		User:    ev.Str("UserName"),
		Process: streamProcess(ev),
		Parent:  streamParent(ev),
		Action:  disposition(ev.Obj("PatternDispositionFlags"), camelFlags),
		Link:    ev.Str("FalconHostLink"),
		Raw:     slices.Clone(raw),
	}
	a.VendorSeverity, a.Score = severity100(ev, "Severity", "SeverityName")
	return a, nil
}

// decodeLegacy maps the legacy detection summary (SIEM connector, older
// Event Streams): severity 1–5, the AID in SensorId (or AgentIdString), the
// detection time in UTCTimestamp (epoch ms).
func decodeLegacy(meta, ev jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := ev.Str("DetectId")
	if id == "" {
		return alert.Alert{}, bad("detection summary has no DetectId")
	}
	created := meta.Time("eventCreationTime")
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          ev.First("PatternId", "DetectName"),
		Title:         title(ev.Str("DetectName"), ev),
		Description:   describe(ev.Str("DetectDescription"), ev),
		EventTime:     firstTime(ev.Time("UTCTimestamp"), ev.Time("timestamp"), created),
		VendorCreated: created,
		Host: alert.Host{
			ID:     ev.First("SensorId", "AgentIdString"),
			Name:   ev.Str("ComputerName"),
			IPs:    uniq(ev.Str("LocalIP")),
			Groups: ev.Strs("HostGroups"),
		},
		User:    ev.Str("UserName"),
		Process: streamProcess(ev),
		Parent:  streamParent(ev),
		Action:  disposition(ev.Obj("PatternDispositionFlags"), camelFlags),
		Link:    ev.Str("FalconHostLink"),
		Raw:     slices.Clone(raw),
	}
	a.VendorSeverity, a.Score = severity5(ev)
	return a, nil
}

func streamProcess(ev jsonfield.Object) alert.Process {
	return alert.Process{
		Name:        ev.Str("FileName"),
		Path:        ev.Str("FilePath"),
		CommandLine: ev.Str("CommandLine"),
		PID:         ev.Str("ProcessId"),
		SHA256:      ev.Str("SHA256String"),
		SHA1:        ev.Str("SHA1String"),
		MD5:         ev.Str("MD5String"),
	}
}

// streamParent reads the parent. ParentImageFileName is a bare name in Event
// Streams ("rutserv.exe") but a full path in the SIEM connector
// ("/bin/busybox"); the name is cut from it either way.
func streamParent(ev jsonfield.Object) alert.Process {
	image := ev.Str("ParentImageFileName")
	p := alert.Process{
		Name:        baseName(image),
		Path:        ev.Str("ParentImageFilePath"),
		CommandLine: ev.Str("ParentCommandLine"),
		PID:         ev.Str("ParentProcessId"),
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
func title(name string, ev jsonfield.Object) string {
	if name != "" {
		return name
	}
	return strings.Join(connector.NonEmpty(ev.Str("Tactic"), ev.Str("Technique")), ": ")
}

// describe appends the tactic and technique names to the description.
func describe(desc string, ev jsonfield.Object) string {
	var names []string
	if t := ev.Str("Tactic"); t != "" {
		names = append(names, "tactic "+t)
	}
	if t := ev.Str("Technique"); t != "" {
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
