// Package sentinelone is bannin's SentinelOne (Singularity) integration: it
// decodes threats (/web/api/v2.1/threats) and STAR custom-rule alerts
// (/web/api/v2.1/cloud-detection/alerts); pulls both with cursor paging;
// disconnects endpoints from the network and reconnects them through the
// agents actions API; and simulates those APIs for demos, replays and tests.
package sentinelone

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "sentinelone"

// Decoder turns one SentinelOne payload into alerts. It recognises:
//
//   - a threat, an item of GET /web/api/v2.1/threats (threatInfo,
//     agentRealtimeInfo, indicators, mitigationStatus);
//   - a STAR alert, an item of GET /web/api/v2.1/cloud-detection/alerts
//     (alertInfo, ruleInfo, sourceProcessInfo, agentRealtimeInfo);
//   - a whole list answer {"data":[…],"pagination":…} of either; each item
//     keeps its own bytes as Raw.
//
// Ids (18–19 digits) are kept as strings. Severity becomes a 0–100 score by
// this table (SeverityScale says the same in one line):
//
//	threat  threatInfo.confidenceLevel  malicious 80, suspicious 50
//	alert   ruleInfo.severity           Critical 90, High 70, Medium 50, Low 30
//
// A threat the agent already mitigated keeps its score: the mitigation is
// reported in Action (quarantined, killed) and triage weighs it from there.
// The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: sentinelone: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	return decodeItem(f, payload, true)
}

// decodeItem routes one object; envelope says whether a {"data":[…]} list
// answer is acceptable here (not inside another list).
func decodeItem(f jsonfield.Object, raw []byte, envelope bool) ([]alert.Alert, error) {
	var (
		a   alert.Alert
		err error
	)
	switch {
	case f.Has("threatInfo"):
		a, err = decodeThreat(f, raw)
	case f.Has("alertInfo") || f.Has("ruleInfo"):
		a, err = decodeAlert(f, raw)
	case envelope && f.Has("data"):
		return decodeList(f)
	default:
		return nil, bad("payload is neither a threat (threatInfo) nor a STAR alert (alertInfo, ruleInfo)")
	}
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: sentinelone: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// decodeList decodes a list answer {"data":[…]}.
func decodeList(f jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(f["data"])
	if !ok {
		return nil, bad("data is not an array")
	}
	out := make([]alert.Alert, 0, len(raws))
	for i, raw := range raws {
		item, err := jsonfield.Parse(raw)
		if err != nil {
			return nil, bad("data item %d is not an object", i)
		}
		got, err := decodeItem(item, raw, false)
		if err != nil {
			return nil, fmt.Errorf("%w (data item %d)", err, i)
		}
		out = append(out, got...)
	}
	return out, nil
}

// decodeThreat maps a threat. The threat's id is the top-level id (the one
// the threats API filters and acts on), else threatInfo.threatId.
func decodeThreat(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	ti := f.Obj("threatInfo")
	if !jsonfield.IsObject(f["threatInfo"]) {
		return alert.Alert{}, bad("threat: threatInfo is not an object")
	}
	id := f.First("id")
	if id == "" {
		id = ti.Str("threatId")
	}
	if id == "" {
		return alert.Alert{}, bad("threat has no id or threatInfo.threatId")
	}
	rt, det := f.Obj("agentRealtimeInfo"), f.Obj("agentDetectionInfo")
	tactics, techniques := attack(f["indicators"])
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          ti.First("classification", "threatName"),
		Title:         threatTitle(ti),
		Description:   strings.TrimSpace(ti.Str("classification") + " " + ti.Str("confidenceLevel")),
		Product:       "threat",
		EventTime:     ti.FirstTime("identifiedAt", "createdAt"),
		VendorCreated: ti.Time("createdAt"),
		Host: alert.Host{
			ID:     rt.Str("agentId"),
			Name:   rt.First("agentComputerName"),
			IPs:    threatIPs(rt, det),
			OS:     rt.First("agentOsName", "agentOsType"),
			Groups: connector.NonEmpty(rt.Str("groupName")),
			Role:   strings.ToLower(rt.Str("agentMachineType")),
		},
		User: ti.Str("processUser"),
		Process: alert.Process{
			Name:        alert.FileName(ti.First("filePath", "threatName")),
			Path:        ti.Str("filePath"),
			CommandLine: ti.Str("maliciousProcessArguments"),
			SHA256:      ti.Str("sha256"),
			SHA1:        ti.Str("sha1"),
			MD5:         ti.Str("md5"),
		},
		Parent:     alert.Process{Name: ti.Str("originatorProcess")},
		Tactics:    tactics,
		Techniques: techniques,
		Action:     mitigation(f["mitigationStatus"], ti.Str("mitigationStatus")),
		Raw:        slices.Clone(raw),
	}
	if a.Host.ID == "" {
		a.Host.ID = det.Str("agentId")
	}
	if a.Host.Name == "" {
		a.Host.Name = det.Str("agentComputerName")
	}
	if a.Host.OS == "" {
		a.Host.OS = det.Str("agentOsName")
	}
	a.VendorSeverity = ti.Str("confidenceLevel")
	a.Score = confidenceScores[strings.ToLower(a.VendorSeverity)]
	if a.Score == 0 {
		a.VendorSeverity = ""
	}
	return a, checkAlert(a, "threatInfo.confidenceLevel malicious or suspicious", "agentRealtimeInfo.agentId or agentComputerName")
}

func threatTitle(ti jsonfield.Object) string {
	name, class := ti.Str("threatName"), ti.Str("classification")
	switch {
	case name != "" && class != "":
		return class + ": " + name
	case name != "":
		return name
	}
	return class
}

// decodeAlert maps a STAR (custom detection rule) alert.
func decodeAlert(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	info, rule := f.Obj("alertInfo"), f.Obj("ruleInfo")
	id := info.Str("alertId")
	if id == "" {
		return alert.Alert{}, bad("alert has no alertInfo.alertId")
	}
	rt, det := f.Obj("agentRealtimeInfo"), f.Obj("agentDetectionInfo")
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          rule.First("id", "name"),
		Title:         rule.First("name"),
		Description:   rule.Str("description"),
		Product:       info.First("source"),
		EventTime:     info.FirstTime("createdAt", "reportedAt"),
		VendorCreated: info.Time("createdAt"),
		Host: alert.Host{
			ID:   rt.Str("id"),
			Name: rt.First("name", "computerName"),
			IPs:  connector.Uniq(jsonfield.SplitList(info.Str("srcMachineIp"))...),
			OS:   det.First("osName", "osFamily"),
			Role: strings.ToLower(rt.First("machineType")),
		},
		User:    f.Obj("sourceProcessInfo").Str("user"),
		Process: alertProcess(f.Obj("sourceProcessInfo")),
		Parent:  alertProcess(f.Obj("sourceParentProcessInfo")),
		Network: alertNetwork(info),
		Action:  alert.ActionNone,
		Raw:     slices.Clone(raw),
	}
	if a.Product == "" {
		a.Product = "STAR"
	}
	if a.Host.Name == "" {
		a.Host.Name = det.Str("name")
	}
	if a.Host.OS == "" {
		a.Host.OS = rt.Str("os")
	}
	if a.Host.Role == "" {
		a.Host.Role = strings.ToLower(det.Str("machineType"))
	}
	a.VendorSeverity = rule.Str("severity")
	a.Score = severityScores[strings.ToLower(a.VendorSeverity)]
	if a.Score == 0 {
		a.VendorSeverity = ""
	}
	return a, checkAlert(a, "ruleInfo.severity Low, Medium, High or Critical", "agentRealtimeInfo.id or name, or agentDetectionInfo.name")
}

// checkAlert refuses an alert bannin could not judge or act on: one with no
// rating it knows or no endpoint (an alert without a readable time is taken
// at its receipt time by intake). Such a payload is not what the API sends,
// so it goes to quarantine with the reason instead of becoming an incident
// about nobody.
func checkAlert(a alert.Alert, rating, endpoint string) error {
	switch {
	case a.VendorSeverity == "":
		return bad("%s %s has no %s", kind(a), a.VendorID, rating)
	case a.Host.ID == "" && a.Host.Name == "":
		return bad("%s %s names no endpoint (%s)", kind(a), a.VendorID, endpoint)
	}
	return nil
}

func kind(a alert.Alert) string {
	if a.Product == "threat" {
		return "threat"
	}
	return "alert"
}

// alertProcess reads sourceProcessInfo or sourceParentProcessInfo.
func alertProcess(p jsonfield.Object) alert.Process {
	return alert.Process{
		Name:        p.Str("name"),
		Path:        p.Str("filePath"),
		CommandLine: p.Str("commandline"),
		PID:         p.Str("pid"),
		SHA256:      p.Str("fileHashSha256"),
		SHA1:        p.Str("fileHashSha1"),
		MD5:         p.Str("fileHashMd5"),
	}
}

// alertNetwork reads the remote end of a network event (dstIp, dstPort).
func alertNetwork(info jsonfield.Object) []alert.Network {
	ip := info.Str("dstIp")
	if ip == "" {
		return nil
	}
	n := alert.Network{IP: ip}
	if p, ok := info.Num("dstPort"); ok && p > 0 && p < 65536 {
		n.Port = p
	}
	return []alert.Network{n}
}

// Scores per rating; see Decoder.
var (
	confidenceScores = map[string]int{"malicious": 80, "suspicious": 50}
	severityScores   = map[string]int{"critical": 90, "high": 70, "medium": 50, "low": 30}
)

// mitigation says what the agent did about a threat, from the mitigation
// actions list (newest first, as the API sends it): a successful quarantine
// or remediate not undone by a later unquarantine is "quarantined", else a
// successful kill is "killed". A threat the API calls "mitigated" without
// naming an action is "blocked".
func mitigation(list []byte, status string) alert.Action {
	raws, _ := jsonfield.RawArray(list)
	undone := false
	var killed, quarantined bool
	for _, r := range raws {
		m, err := jsonfield.Parse(r)
		if err != nil || !strings.EqualFold(m.Str("status"), "success") {
			continue
		}
		switch strings.ToLower(m.Str("action")) {
		case "unquarantine", "un-quarantine":
			undone = true
		case "quarantine", "remediate":
			if !undone {
				quarantined = true
			}
		case "kill":
			killed = true
		}
	}
	switch {
	case quarantined:
		return alert.ActionQuarantined
	case killed:
		return alert.ActionKilled
	case strings.EqualFold(status, "mitigated"):
		return alert.ActionBlocked
	}
	return alert.ActionNone
}

// tacticIDs maps the ATT&CK enterprise tactic names SentinelOne sends in
// indicators[].tactics[].name to their ids; unknown names are kept as sent.
var tacticIDs = map[string]string{
	"reconnaissance":       "TA0043",
	"resource development": "TA0042",
	"initial access":       "TA0001",
	"execution":            "TA0002",
	"persistence":          "TA0003",
	"privilege escalation": "TA0004",
	"defense evasion":      "TA0005",
	"credential access":    "TA0006",
	"discovery":            "TA0007",
	"lateral movement":     "TA0008",
	"collection":           "TA0009",
	"command and control":  "TA0011",
	"exfiltration":         "TA0010",
	"impact":               "TA0040",
}

// attack reads indicators[].tactics[] (names) and their techniques[] (names
// that are ATT&CK ids such as T1059), without repeats, in order.
func attack(indicators []byte) (tactics, techniques []string) {
	inds, _ := jsonfield.RawArray(indicators)
	for _, ir := range inds {
		ind, err := jsonfield.Parse(ir)
		if err != nil {
			continue
		}
		tas, _ := jsonfield.RawArray(ind["tactics"])
		for _, tr := range tas {
			ta, err := jsonfield.Parse(tr)
			if err != nil {
				continue
			}
			if name := ta.Str("name"); name != "" {
				if id, ok := tacticIDs[strings.ToLower(name)]; ok {
					name = id
				}
				tactics = connector.AppendNew(tactics, name)
			}
			tes, _ := jsonfield.RawArray(ta["techniques"])
			for _, er := range tes {
				if te, err := jsonfield.Parse(er); err == nil {
					if name := te.Str("name"); name != "" {
						techniques = connector.AppendNew(techniques, name)
					}
				}
			}
		}
	}
	return tactics, techniques
}

// threatIPs collects the agent's addresses: every non-loopback address of
// its network interfaces, then agentIpV4 (comma-joined) and externalIp.
func threatIPs(rt, det jsonfield.Object) []string {
	var ips []string
	nics, _ := jsonfield.RawArray(rt["networkInterfaces"])
	for _, nr := range nics {
		nic, err := jsonfield.Parse(nr)
		if err != nil {
			continue
		}
		for _, ip := range nic.Strs("inet") {
			if !strings.HasPrefix(ip, "127.") {
				ips = connector.AppendNew(ips, ip)
			}
		}
	}
	for _, ip := range jsonfield.SplitList(det.Str("agentIpV4")) {
		ips = connector.AppendNew(ips, ip)
	}
	if ip := det.Str("externalIp"); ip != "" {
		ips = connector.AppendNew(ips, ip)
	}
	return ips
}
