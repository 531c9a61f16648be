package crowdstrike

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// AlertOption adjusts an alert built by NewAlert.
type AlertOption func(map[string]any)

// NewAlert builds an Alerts API alert (as /alerts/entities/alerts/v2
// returns it) about host with AID aid, for Sim.Inject, tests and the demo.
// Without options it is a medium-severity PowerShell detection that the
// sensor only detected (no prevention). The simulator assigns composite_id
// and created_timestamp unless AlertCompositeID or AlertCreated set them.
func NewAlert(host, aid string, opts ...AlertOption) []byte {
	a := map[string]any{
		"agent_id": aid, "cid": simCID, "product": "epp", "type": "ldt", "status": "new",
		"device":       simDeviceRecord(host, aid),
		"name":         "PowerShellEncodedCommand",
		"display_name": "Encoded PowerShell command",
		"description":  "A process launched PowerShell with an encoded command line. Review the process tree.",
		"objective":    "Follow Through",
		"scenario":     "suspicious_activity",
		"confidence":   80,
		"user_name":    "alice",
		"user_id":      "S-1-5-21-3623811015-3361044348-30300820-1013",
		"parent_details": map[string]any{
			"filename": "explorer.exe", "filepath": `\Device\HarddiskVolume3\Windows\explorer.exe`,
			"cmdline": `C:\WINDOWS\Explorer.EXE`, "process_id": "412316860432", "local_process_id": "4312",
			"sha256": "d1b6b3a1e0a7d6f3c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3",
		},
	}
	AlertPattern(10197, "PowerShellEncodedCommand")(a)
	AlertSeverity(50)(a)
	AlertTechnique("TA0002", "Execution", "T1059.001", "PowerShell")(a)
	AlertProcess("powershell.exe", `\Device\HarddiskVolume3\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
		`powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA`,
		"9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f")(a)
	AlertDisposition(alert.ActionNone)(a)
	for _, o := range opts {
		o(a)
	}
	b, _ := json.Marshal(a) // only strings, numbers, bools, maps and slices
	return b
}

func simDeviceRecord(host, aid string) map[string]any {
	h := fnv.New32a()
	h.Write([]byte(aid))
	n := h.Sum32()
	return map[string]any{
		"device_id": aid, "cid": simCID, "hostname": host,
		"platform_name": "Windows", "os_version": "Windows 11", "agent_version": "7.18.18607.0",
		"local_ip":          fmt.Sprintf("10.20.%d.%d", n%200, 1+n/200%250),
		"external_ip":       fmt.Sprintf("203.0.113.%d", 1+n%250),
		"product_type_desc": "Workstation",
		"groups":            []string{"0b7f3c1d2e4a4f6b8c9d0e1f2a3b4c5d"},
		"status":            StatusNormal,
	}
}

// AlertSeverity sets severity (1–100) and the matching severity_name.
func AlertSeverity(n int) AlertOption {
	name := "Informational"
	switch {
	case n >= 90:
		name = "Critical"
	case n >= 70:
		name = "High"
	case n >= 50:
		name = "Medium"
	case n >= 30:
		name = "Low"
	}
	return func(a map[string]any) { a["severity"], a["severity_name"] = n, name }
}

// AlertTechnique sets the ATT&CK tactic and technique, ids and names.
func AlertTechnique(tacticID, tactic, techniqueID, technique string) AlertOption {
	return func(a map[string]any) {
		a["tactic_id"], a["tactic"], a["technique_id"], a["technique"] = tacticID, tactic, techniqueID, technique
	}
}

// AlertProcess sets the triggering process.
func AlertProcess(filename, filepath, cmdline, sha256 string) AlertOption {
	return func(a map[string]any) {
		a["filename"], a["filepath"], a["cmdline"], a["sha256"] = filename, filepath, cmdline, sha256
		a["sha1"], a["md5"] = "0000000000000000000000000000000000000000", fmt.Sprintf("%.32s", sha256)
		a["process_id"], a["local_process_id"] = "412412991237", "7720"
	}
}

// AlertUser sets the user the process ran as.
func AlertUser(name string) AlertOption {
	return func(a map[string]any) { a["user_name"] = name }
}

// AlertPattern sets the detection pattern id and name.
func AlertPattern(id int, name string) AlertOption {
	return func(a map[string]any) { a["pattern_id"], a["name"] = id, name }
}

// AlertRole sets the device's product_type_desc (Workstation, Server,
// Domain Controller).
func AlertRole(desc string) AlertOption {
	return func(a map[string]any) {
		if d, ok := a["device"].(map[string]any); ok {
			d["product_type_desc"] = desc
		}
	}
}

// AlertCreated sets created_timestamp and timestamp.
func AlertCreated(t time.Time) AlertOption {
	return func(a map[string]any) { a["created_timestamp"], a["timestamp"] = timeText(t), timeText(t) }
}

// AlertCompositeID sets composite_id and the console link that names it.
func AlertCompositeID(id string) AlertOption {
	return func(a map[string]any) {
		a["composite_id"] = id
		a["falcon_host_link"] = "https://falcon.crowdstrike.com/activity-v2/detections/" + id
	}
}

// AlertDisposition sets pattern_disposition_details to what the sensor did:
// quarantined (blocked and quarantined), killed, blocked, or none (detect
// only).
func AlertDisposition(act alert.Action) AlertOption {
	return func(a map[string]any) {
		d := map[string]any{}
		for _, k := range []string{"detect", "indicator", "kill_process", "kill_parent", "kill_action_failed",
			"quarantine_file", "quarantine_machine", "process_blocked", "operation_blocked",
			"fs_operation_blocked", "registry_operation_blocked", "policy_disabled", "sensor_only"} {
			d[k] = false
		}
		value := 0
		switch act {
		case alert.ActionQuarantined:
			d["quarantine_file"], d["process_blocked"], value = true, true, 2176
		case alert.ActionKilled:
			d["kill_process"], value = true, 16
		case alert.ActionBlocked:
			d["process_blocked"], value = true, 2048
		default:
			d["detect"] = true
		}
		a["pattern_disposition"], a["pattern_disposition_details"] = value, d
	}
}

// AlertField sets any top-level field, for what the other options miss.
func AlertField(key string, value any) AlertOption {
	return func(a map[string]any) { a[key] = value }
}
