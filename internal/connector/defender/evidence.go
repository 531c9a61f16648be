package defender

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// evidence is what an alert's evidence list says about the endpoint, the
// process lineage, the user, remote ends and what Defender already did.
type evidence struct {
	deviceID, deviceName, os string
	hostIPs                  []string
	user                     string
	process, parent          alert.Process
	fromProcess              bool // process came from process evidence, not a file
	network                  []alert.Network
	action                   alert.Action
}

// readEvidence reads evidence: an array of entities, or one entity (an
// Elastic split row). graph selects the Graph shape (@odata.type, nested
// fileDetails/imageFile/userAccount) over MDE's flat one (entityType).
func readEvidence(raw json.RawMessage, graph bool) evidence {
	items, ok := jsonfield.RawArray(raw)
	if !ok && jsonfield.IsObject(raw) {
		items = []json.RawMessage{raw}
	}
	ev := evidence{action: alert.ActionNone}
	for _, r := range items {
		e, err := jsonfield.Parse(r)
		if err != nil {
			continue
		}
		if graph {
			ev.graphEntity(e)
		} else {
			ev.mdeEntity(e)
		}
		ev.remediation(e.First("remediationStatus", "detectionStatus"))
	}
	return ev
}

// mdeEntity reads one evidence entity of the MDE API (flat fields).
func (ev *evidence) mdeEntity(e jsonfield.Object) {
	kind := strings.ToLower(e.Str("entityType"))
	switch kind {
	case "process", "file":
		p := alert.Process{
			Name:   e.Str("fileName"),
			Path:   joinPath(e.Str("filePath"), e.Str("fileName")),
			SHA256: e.Str("sha256"),
			SHA1:   e.Str("sha1"),
			MD5:    e.Str("md5"),
		}
		if kind == "process" {
			p.PID, p.CommandLine = e.Str("processId"), e.Str("processCommandLine")
		}
		ev.setProcess(p, alert.Process{PID: e.Str("parentProcessId")}, kind == "process")
	case "ip":
		ev.addNetwork(alert.Network{IP: e.Str("ipAddress")})
	case "url":
		ev.addNetwork(alert.Network{Domain: urlHost(e.Str("url"))})
	}
	if ev.user == "" {
		ev.user = e.Str("accountName")
	}
}

// graphEntity reads one evidence entity of a Graph alert.
func (ev *evidence) graphEntity(e jsonfield.Object) {
	kind := strings.ToLower(e.Str("@odata.type"))
	kind = kind[strings.LastIndexByte(kind, '.')+1:]
	if ev.deviceID == "" {
		ev.deviceID = e.Str("mdeDeviceId")
	}
	switch kind {
	case "deviceevidence":
		if ev.deviceName == "" {
			ev.deviceName, ev.os = e.Str("deviceDnsName"), e.Str("osPlatform")
			ev.hostIPs = connector.Uniq(append(ev.hostIPs, e.Strs("ipInterfaces")...)...)
		}
	case "processevidence":
		p := graphFile(e.Obj("imageFile"))
		p.PID, p.CommandLine = e.Str("processId"), e.Str("processCommandLine")
		parent := graphFile(e.Obj("parentProcessImageFile"))
		parent.PID = e.Str("parentProcessId")
		ev.setProcess(p, parent, true)
		if ev.user == "" {
			ev.user = e.Obj("userAccount").Str("accountName")
		}
	case "fileevidence":
		ev.setProcess(graphFile(e.Obj("fileDetails")), alert.Process{}, false)
	case "userevidence":
		if ev.user == "" {
			ev.user = e.Obj("userAccount").Str("accountName")
		}
	case "ipevidence":
		ev.addNetwork(alert.Network{IP: e.Str("ipAddress")})
	case "urlevidence":
		ev.addNetwork(alert.Network{Domain: urlHost(e.Str("url"))})
	}
}

// graphFile reads a Graph fileDetails object.
func graphFile(f jsonfield.Object) alert.Process {
	return alert.Process{
		Name:   f.Str("fileName"),
		Path:   joinPath(f.Str("filePath"), f.Str("fileName")),
		SHA256: f.Str("sha256"),
		SHA1:   f.Str("sha1"),
		MD5:    f.Str("md5"),
	}
}

// setProcess keeps the first process evidence, else the first file: the
// process is what ran, a file may only be what it touched.
func (ev *evidence) setProcess(p, parent alert.Process, isProcess bool) {
	if p == (alert.Process{}) || ev.fromProcess || (!isProcess && ev.process != (alert.Process{})) {
		return
	}
	ev.process, ev.fromProcess = p, isProcess
	if parent != (alert.Process{}) {
		ev.parent = parent
	}
}

func (ev *evidence) addNetwork(n alert.Network) {
	if n != (alert.Network{}) {
		ev.network = append(ev.network, n)
	}
}

// remediation reads remediationStatus (Graph) or detectionStatus (MDE).
func (ev *evidence) remediation(status string) {
	switch strings.ToLower(status) {
	case "remediated":
		ev.action = alert.ActionQuarantined
	case "prevented", "blocked":
		if ev.action == alert.ActionNone {
			ev.action = alert.ActionBlocked
		}
	}
}

func urlHost(s string) string {
	if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return s
}
