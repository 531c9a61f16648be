// Package trellixhx is bannin's Trellix (FireEye) Endpoint Security HX
// integration: it decodes HX alerts (GET /hx/api/v3/alerts) and Trellix EDR
// cloud events (the S3 telemetry Elastic's trellix_edr_cloud package reads);
// pulls HX alerts by offset, oldest reported first; contains and releases
// hosts through the HX containment API (request, then approve); and
// simulates that API for demos, replays and tests.
package trellixhx

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "trellixhx"

// Scores. HX alerts carry no severity, only the engine that raised them
// (source); EDR cloud events are telemetry.
const (
	ScoreMalware       = 80 // source MAL (malware engine) or EXD (exploit guard)
	ScoreIOC           = 70 // source IOC (indicator match)
	ScoreFalsePositive = 10 // is_false_positive: an analyst already cleared it in HX
	ScoreTelemetry     = 20 // EDR cloud event without a severity: informational
)

var sourceScores = map[string]int{"MAL": ScoreMalware, "EXD": ScoreMalware, "IOC": ScoreIOC}

// Decoder turns one Trellix payload into alerts. It recognises:
//
//   - an HX alert, an entry of GET /hx/api/v3/alerts (_id, agent._id,
//     source, reported_at, event_type, event_values, indicator);
//   - an HX list answer {"data":{"entries":[…]},"message":"OK"}; each entry
//     keeps its own bytes as Raw;
//   - a Trellix EDR cloud event (_eventId, _eventType, _deviceId, _time).
//
// Severity becomes a 0–100 score by this table (SeverityScale says the same
// in one line):
//
//	HX alert        source MAL or EXD 80, IOC 70; is_false_positive 10
//	EDR cloud event severity (low 30, medium 50, high 70, critical 90) if
//	                present, else 20 (telemetry)
//
// The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, bad("payload is not a JSON object: %v", err)
	}
	switch {
	case f.Has("_eventType") || f.Has("_eventId"):
		a, err := decodeEDREvent(f, payload)
		if err != nil {
			return nil, err
		}
		return []alert.Alert{a}, nil
	case f.Has("_id") && (f.Has("agent") || f.Has("source") || f.Has("indicator")):
		a, err := decodeHXAlert(f, payload)
		if err != nil {
			return nil, err
		}
		return []alert.Alert{a}, nil
	case jsonfield.IsObject(f["data"]):
		return decodeList(f.Obj("data"))
	}
	return nil, bad("payload is neither an HX alert (_id, agent, source) nor an HX list answer (data.entries) nor a Trellix EDR event (_eventType)")
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: trellixhx: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// decodeList decodes the entries of an HX list answer's data object.
func decodeList(data jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(data["entries"])
	if !ok {
		return nil, bad("data.entries is not an array")
	}
	out := make([]alert.Alert, 0, len(raws))
	for i, raw := range raws {
		f, err := jsonfield.Parse(raw)
		if err != nil || !f.Has("_id") {
			return nil, bad("data.entries[%d] is not an HX alert", i)
		}
		a, err := decodeHXAlert(f, raw)
		if err != nil {
			return nil, fmt.Errorf("%w (data.entries[%d])", err, i)
		}
		out = append(out, a)
	}
	return out, nil
}

// decodeHXAlert maps one HX alert. HX publishes no alert schema (VENDORS.md
// §1.7); the fields beyond _id, agent._id, source and the times are read
// where they are commonly found, and absent ones stay empty.
func decodeHXAlert(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("_id")
	if id == "" {
		return alert.Alert{}, bad("HX alert has no _id")
	}
	agent, ind := f.Obj("agent"), f.Obj("indicator")
	source := strings.ToUpper(f.Str("source"))
	ev := eventValues(f.Obj("event_values"), f.Str("event_type"))
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          ind.First("_id", "name", "display_name", "signature"),
		Title:         hxTitle(f, ind, source),
		Description:   ind.Str("description"),
		Product:       "hx/" + strings.ToLower(source),
		EventTime:     f.FirstTime("event_at", "matched_at", "reported_at"),
		VendorCreated: f.Time("reported_at"),
		Host: alert.Host{
			ID:   agent.Str("_id"),
			Name: agent.First("hostname", "host_name"),
			IPs:  connector.NonEmpty(agent.First("primary_ip_address", "ip")),
		},
		VendorSeverity: source,
		Score:          sourceScores[source],
		Action:         resolutionAction(f.Str("resolution")),
		Raw:            slices.Clone(raw),
	}
	if name := firstDetection(f.Obj("event_values")).Obj("infection").Str("infection-name"); name != "" && source == "MAL" {
		a.Rule, a.Title = "MAL/"+name, "Malware detected: "+name
	}
	if a.Rule == "" {
		a.Rule = strings.TrimSuffix(source+"/"+f.Str("event_type"), "/")
	}
	eventType := strings.ToLower(f.Str("event_type"))
	fillFromEvent(&a, source, eventType, ev, f.Obj("event_values"))
	if a.Host.Name == "" && !remoteNameEvent(eventType) {
		// In DNS and URL events hostname is the remote name looked up.
		a.Host.Name = ev.get("hostname", "systemName")
	}
	if a.Host.Name == "" {
		a.Host.Name = f.Obj("event_values").Obj("system-data").Str("hostname") // MAL alerts
	}
	if f.Flag("is_false_positive") && a.Score > 0 {
		a.Score = ScoreFalsePositive
	}
	switch {
	case a.Score == 0:
		return alert.Alert{}, bad("HX alert %s: source %q is not IOC, EXD or MAL", id, f.Str("source"))
	case a.Host.ID == "":
		return alert.Alert{}, bad("HX alert %s names no agent (agent._id)", id)
	}
	return a, nil
}

func hxTitle(f, ind jsonfield.Object, source string) string {
	if t := ind.First("display_name", "name", "signature"); t != "" {
		return t
	}
	switch source {
	case "MAL":
		return "Malware detected"
	case "EXD":
		return "Exploit detected"
	}
	return strings.TrimSpace(source + " " + f.Str("event_type"))
}

// fillFromEvent reads the process, user and network out of event_values.
// IOC alerts key them "<eventType>/<field>" (processEvent/processCmdLine,
// ipv4NetworkEvent/remoteIP); MAL alerts describe the infected file under
// detections.detection[]; EXD alerts name the exploited process.
func fillFromEvent(a *alert.Alert, source, eventType string, ev fields, raw jsonfield.Object) {
	p := alert.Process{
		Name:        ev.get("process", "processName", "process_name"),
		Path:        ev.get("processPath", "process_path"),
		CommandLine: ev.get("processCmdLine", "process_cmdline"),
		PID:         ev.get("pid", "processId", "process_id"),
	}
	// Hashes belong to the process only in process events; in file events
	// they are the written file's.
	if strings.HasPrefix(eventType, "process") || source == "EXD" {
		p.MD5 = ev.get("md5", "processMd5")
		p.SHA256 = ev.get("sha256", "processSha256")
		p.SHA1 = ev.get("sha1")
	}
	if p.Name == "" && p.Path != "" {
		p.Name = baseName(p.Path)
	}
	if source == "MAL" {
		if m := malwareObject(raw); m.Path != "" || m.MD5 != "" || m.SHA256 != "" {
			p = m
		}
		if act := malwareAction(raw); act != alert.ActionNone {
			a.Action = act
		}
	}
	a.Process = p
	a.Parent = alert.Process{
		Name: ev.get("parentProcess", "parentProcessName"),
		Path: ev.get("parentProcessPath"),
		PID:  ev.get("parentPid", "parentProcessId"),
	}
	a.User = ev.get("username", "user")
	if ip := ev.get("remoteIP", "remoteIpAddress"); ip != "" {
		a.Network = append(a.Network, alert.Network{IP: ip, Port: port(ev.get("remotePort"))})
	}
	if remoteNameEvent(eventType) {
		if d := ev.get("hostname"); d != "" {
			a.Network = append(a.Network, alert.Network{Domain: d})
		}
	}
	if ip := ev.get("localIP"); ip != "" && len(a.Host.IPs) == 0 {
		a.Host.IPs = []string{ip}
	}
}

// remoteNameEvent reports whether an event's hostname is a remote name
// (dnsLookupEvent, urlMonitorEvent) rather than the endpoint's.
func remoteNameEvent(eventType string) bool {
	return strings.Contains(eventType, "dns") || strings.Contains(eventType, "url")
}

// fields is event_values read by field name, whatever the event prefix.
type fields map[string]string

// eventValues flattens event_values by field name. When two keys share a
// field name, the one under the alert's own event type wins, then the
// first in key order, so that the result does not depend on map order.
func eventValues(ev jsonfield.Object, eventType string) fields {
	own := strings.ToLower(eventType) + "/"
	rank := func(k string) int {
		if strings.HasPrefix(strings.ToLower(k), own) {
			return 0
		}
		return 1
	}
	keys := slices.Sorted(maps.Keys(ev))
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	out := fields{}
	for _, k := range keys {
		name := strings.ToLower(k[strings.LastIndexByte(k, '/')+1:])
		if _, seen := out[name]; seen {
			continue
		}
		if s := ev.Str(k); s != "" {
			out[name] = s
		}
	}
	return out
}

func (fs fields) get(names ...string) string {
	for _, n := range names {
		if v := fs[strings.ToLower(n)]; v != "" {
			return v
		}
	}
	return ""
}

// firstDetection returns event_values.detections.detection[0].
func firstDetection(ev jsonfield.Object) jsonfield.Object {
	ds := ev.Obj("detections")
	items, ok := jsonfield.RawArray(ds["detection"])
	if !ok || len(items) == 0 {
		return ds.Obj("detection") // a single detection may come unwrapped
	}
	d, err := jsonfield.Parse(items[0])
	if err != nil {
		return jsonfield.Object{}
	}
	return d
}

// malwareObject reads the infected file of a MAL alert.
func malwareObject(ev jsonfield.Object) alert.Process {
	fo := firstDetection(ev).Obj("infected-object").Obj("file-object")
	p := alert.Process{
		Path:   fo.Str("file-path"),
		MD5:    fo.First("md5sum", "md5"),
		SHA1:   fo.First("sha1sum", "sha1"),
		SHA256: fo.First("sha256sum", "sha256"),
	}
	p.Name = baseName(p.Path)
	return p
}

// malwareAction reads what the malware engine did to the file.
func malwareAction(ev jsonfield.Object) alert.Action {
	act := firstDetection(ev).Obj("action")
	if r := strings.ToLower(act.Str("result")); r != "" && r != "success" {
		return alert.ActionNone
	}
	return resolutionAction(act.First("applied-action", "requested-action"))
}

// resolutionAction maps HX's resolution (ALERT, BLOCK, PARTIAL_BLOCK,
// QUARANTINED, DELETED …) onto what the product already did.
func resolutionAction(r string) alert.Action {
	r = strings.ToLower(r)
	switch {
	case strings.Contains(r, "partial"):
		return alert.ActionNone // something was left running
	case strings.Contains(r, "block"):
		return alert.ActionBlocked
	case strings.Contains(r, "quarantin"), strings.Contains(r, "delete"), strings.Contains(r, "clean"):
		return alert.ActionQuarantined
	case strings.Contains(r, "kill"), strings.Contains(r, "terminat"):
		return alert.ActionKilled
	}
	return alert.ActionNone
}

var telemetrySeverity = map[string]int{"low": 30, "medium": 50, "high": 70, "critical": 90}

// decodeEDREvent maps one Trellix EDR cloud event. It is telemetry: the
// alert records what happened on the device, scored as information unless
// the event carries a severity.
func decodeEDREvent(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("_eventId")
	if id == "" {
		return alert.Alert{}, bad("Trellix EDR event has no _eventId")
	}
	typ := f.Str("_eventType")
	a := alert.Alert{
		Vendor:      VendorName,
		VendorID:    id,
		Rule:        "edr/" + typ,
		Title:       typ,
		Description: f.Str("name"),
		Product:     "edr-cloud",
		EventTime:   f.Time("_time"),
		Host:        alert.Host{ID: f.Str("_deviceId")},
		User:        f.Str("userName"),
		Process: alert.Process{
			CommandLine: f.Str("cmdLine"),
			PID:         f.Str("pid"),
		},
		Score:  ScoreTelemetry,
		Action: alert.ActionNone,
		Raw:    slices.Clone(raw),
	}
	if a.Title == "" {
		a.Title = a.Description
	}
	// The file fields describe the process image only in process events;
	// otherwise the file is what the event acted on (deleted, written).
	if strings.Contains(strings.ToLower(typ), "process") {
		a.Process.Path = f.Str("filePath")
		a.Process.Name = baseName(a.Process.Path)
		a.Process.SHA256 = f.Str("fileSha256")
		a.Process.SHA1 = f.Str("fileSha1")
		a.Process.MD5 = f.Str("fileMd5")
	}
	a.Host.IPs, a.Network = edrNetwork(f)
	if s := f.First("severity", "threatSeverity"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 100 {
			a.VendorSeverity, a.Score = s, n
		} else if sc := telemetrySeverity[strings.ToLower(s)]; sc != 0 {
			a.VendorSeverity, a.Score = s, sc
		}
	}
	if a.Host.ID == "" {
		return alert.Alert{}, bad("Trellix EDR event %s names no device (_deviceId)", id)
	}
	return a, nil
}

// edrNetwork splits an EDR event's addresses by direction into the device's
// own address and the remote peer, plus the DNS name looked up.
func edrNetwork(f jsonfield.Object) (local []string, remote []alert.Network) {
	l, r := f.Str("sourceAddress"), f.Str("destAddress")
	lPort, rPort := f.Str("sourcePort"), f.Str("destPort")
	if strings.EqualFold(f.Str("direction"), "inbound") {
		l, r, lPort, rPort = r, l, rPort, lPort
	}
	if r != "" {
		remote = append(remote, alert.Network{IP: r, Port: port(rPort)})
	}
	if d := f.Str("dnsName"); d != "" {
		remote = append(remote, alert.Network{Domain: d})
	}
	return connector.NonEmpty(l), remote
}

func port(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return n
}

// baseName returns the file name of a Windows or POSIX path.
func baseName(p string) string {
	if p == "" {
		return ""
	}
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}
