package sentinelone

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// SimSiteID is the site of the threats NewThreat builds.
const SimSiteID = "1980000000000000002"

// ThreatOption adjusts a threat built by NewThreat.
type ThreatOption func(map[string]any)

// NewThreat builds a threat (an item of /web/api/v2.1/threats) on host,
// whose agent id is agentID, for Sim.Inject, tests and the demo. Without
// options it is a malicious Trojan the agent only detected (not mitigated).
// The simulator assigns id and threatInfo.createdAt unless ThreatID and
// ThreatCreated set them.
func NewThreat(host, agentID string, opts ...ThreatOption) []byte {
	h := fnv.New32a()
	h.Write([]byte(agentID))
	n := h.Sum32()
	ip := fmt.Sprintf("10.30.%d.%d", n%200, 1+n/200%250)
	t := map[string]any{
		"agentDetectionInfo": map[string]any{
			"accountId": "1980000000000000001", "agentIpV4": ip, "agentOsName": "Windows 11 Pro",
			"agentVersion": "23.4.4.223", "externalIp": fmt.Sprintf("198.51.100.%d", 1+n%250),
			"groupName": "Default Group", "siteName": "Default site", "siteId": SimSiteID,
		},
		"agentRealtimeInfo": map[string]any{
			"agentId": agentID, "agentComputerName": host, "agentOsName": "Windows 11 Pro", "agentOsType": "windows",
			"agentMachineType": "desktop", "agentNetworkStatus": NetConnected, "agentIsActive": true,
			"groupName": "Default Group", "siteName": "Default site", "siteId": SimSiteID,
			"networkInterfaces": []any{map[string]any{"name": "Ethernet", "inet": []string{ip}, "inet6": []string{}}},
		},
		"indicators": []any{map[string]any{
			"category": "Exploitation", "description": "Suspicious PowerShell command line", "ids": []int{62},
			"tactics": []any{map[string]any{"name": "Execution", "source": "MITRE",
				"techniques": []any{map[string]any{"name": "T1059.001", "link": "https://attack.mitre.org/techniques/T1059/001/"}}}},
		}},
		"mitigationStatus": []any{},
		"threatInfo": map[string]any{
			"analystVerdict": "undefined", "classification": "Trojan", "classificationSource": "Cloud",
			"confidenceLevel": "malicious", "incidentStatus": "unresolved", "mitigationStatus": "not_mitigated",
			"threatName": "invoice_0425.exe", "filePath": `\Device\HarddiskVolume3\Users\alice\Downloads\invoice_0425.exe`,
			"sha256": "5e0f7bb1d2b7d3b0a9e1c4f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70",
			"sha1":   "1f2e3d4c5b6a79880716253443526170f8e9dacb", "md5": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
			"originatorProcess": "explorer.exe", "processUser": `CORP\alice`,
			"maliciousProcessArguments": `"C:\Users\alice\Downloads\invoice_0425.exe" /silent`,
			"storyline":                 "3C2A1B0F9E8D7C6B",
		},
	}
	for _, o := range opts {
		o(t)
	}
	b, _ := json.Marshal(t) // only strings, numbers, bools, maps and slices
	return b
}

func threatInfo(t map[string]any) map[string]any {
	ti, _ := t["threatInfo"].(map[string]any)
	if ti == nil {
		ti = map[string]any{}
		t["threatInfo"] = ti
	}
	return ti
}

// ThreatID sets the threat's id and threatInfo.threatId.
func ThreatID(id string) ThreatOption {
	return func(t map[string]any) { t["id"] = id; threatInfo(t)["threatId"] = id }
}

// ThreatCreated sets threatInfo.createdAt, identifiedAt and updatedAt.
func ThreatCreated(at time.Time) ThreatOption {
	return func(t map[string]any) {
		ti := threatInfo(t)
		ti["createdAt"], ti["updatedAt"] = timeText(at), timeText(at)
		ti["identifiedAt"] = timeText(at.Add(-time.Second))
	}
}

// ThreatConfidence sets threatInfo.confidenceLevel (malicious, suspicious).
func ThreatConfidence(level string) ThreatOption {
	return func(t map[string]any) { threatInfo(t)["confidenceLevel"] = level }
}

// ThreatMitigated records what the agent did: quarantined (kill, then
// quarantine), killed, or none (detect only).
func ThreatMitigated(act alert.Action) ThreatOption {
	return func(t map[string]any) {
		step := func(action string) map[string]any {
			return map[string]any{"action": action, "status": "success", "agentSupportsReport": true}
		}
		list, status := []any{}, "not_mitigated"
		switch act {
		case alert.ActionQuarantined:
			list, status = []any{step("quarantine"), step("kill")}, "mitigated"
		case alert.ActionKilled:
			list, status = []any{step("kill")}, "mitigated"
		}
		t["mitigationStatus"] = list
		threatInfo(t)["mitigationStatus"] = status
	}
}

// ThreatFile sets the detected file's path and SHA-256.
func ThreatFile(path, sha256 string) ThreatOption {
	return func(t map[string]any) {
		ti := threatInfo(t)
		ti["filePath"], ti["sha256"], ti["threatName"] = path, sha256, alert.FileName(path)
	}
}

// ThreatField sets any threatInfo field, for what the other options miss.
func ThreatField(key string, value any) ThreatOption {
	return func(t map[string]any) { threatInfo(t)[key] = value }
}

// timeText writes a time as SentinelOne does: RFC 3339 in UTC with
// microseconds.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// AlertOption adjusts a STAR alert built by NewAlert.
type AlertOption func(map[string]any)

// NewAlert builds a STAR custom-rule alert (an item of
// /web/api/v2.1/cloud-detection/alerts) on host, whose agent id is agentID,
// raised by rule with severity (Low, Medium, High, Critical), for
// Sim.Inject, tests and the demo. The simulator assigns
// alertInfo.alertId and createdAt unless AlertID and AlertCreated set them.
func NewAlert(host, agentID, rule, severity string, opts ...AlertOption) []byte {
	a := map[string]any{
		"agentDetectionInfo": map[string]any{"machineType": "desktop", "name": host, "osFamily": "windows", "osName": "Windows 11 Pro"},
		"agentRealtimeInfo":  map[string]any{"id": agentID, "machineType": "desktop", "name": host, "os": "windows"},
		"alertInfo": map[string]any{
			"analystVerdict": "Undefined", "eventType": "PROCESSCREATION", "incidentStatus": "Unresolved", "source": "STAR",
		},
		"ruleInfo": map[string]any{"id": "1901122334455660001", "name": rule, "severity": severity, "treatAsThreat": "UNDEFINED"},
		"sourceProcessInfo": map[string]any{
			"commandline": `powershell.exe -nop -w hidden -enc SQBFAFgA`, "name": "powershell.exe", "pid": "4242",
			"filePath": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "user": `CORP\alice`,
		},
	}
	for _, o := range opts {
		o(a)
	}
	b, _ := json.Marshal(a) // only strings, maps and slices
	return b
}

func alertInfo(a map[string]any) map[string]any {
	ai, _ := a["alertInfo"].(map[string]any)
	if ai == nil {
		ai = map[string]any{}
		a["alertInfo"] = ai
	}
	return ai
}

// AlertID sets alertInfo.alertId.
func AlertID(id string) AlertOption { return func(a map[string]any) { alertInfo(a)["alertId"] = id } }

// AlertCreated sets alertInfo.createdAt and reportedAt.
func AlertCreated(at time.Time) AlertOption {
	return func(a map[string]any) {
		ai := alertInfo(a)
		ai["createdAt"], ai["reportedAt"] = timeText(at), timeText(at.Add(time.Second))
	}
}
