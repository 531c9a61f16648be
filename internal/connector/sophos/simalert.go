package sophos

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
)

// AlertOption adjusts an alert built by NewAlert.
type AlertOption func(map[string]any)

// AlertID sets the alert's id (else the simulator assigns one).
func AlertID(id string) AlertOption { return func(m map[string]any) { m["id"] = id } }

// AlertCreated sets created_at (ISO 8601), the time the list is ordered by.
func AlertCreated(t string) AlertOption { return func(m map[string]any) { m["created_at"] = t } }

// AlertSeverity sets severity: low, medium or high.
func AlertSeverity(s string) AlertOption { return func(m map[string]any) { m["severity"] = s } }

// AlertType sets the event type, e.g. Event::Endpoint::Threat::Cleaned.
func AlertType(t string) AlertOption { return func(m map[string]any) { m["type"] = t } }

// NewAlert builds a SIEM alert (an item of GET /siem/v1/alerts) on host,
// whose Sophos endpoint id is endpointID, for Sim.Inject, tests and the
// demo. Without options it is a high-severity malware detection
// (Event::Endpoint::Threat::Detected) that Sophos did not clean up, with
// an intrusion-prevention block naming the process, its hash and the
// remote end. The simulator assigns id and created_at unless the options
// set them.
func NewAlert(host, endpointID string, opts ...AlertOption) []byte {
	h := fnv.New32a()
	h.Write([]byte(endpointID))
	n := h.Sum32()
	exe := `C:\Users\alice\Downloads\invoice_0425.exe`
	a := map[string]any{
		"customer_id": SimTenantID,
		"description": fmt.Sprintf("Malware detected: 'Troj/Agent-BHXY' at '%s'", exe),
		"location":    host,
		"severity":    "high",
		"source":      `CORP\alice`,
		"threat":      "Troj/Agent-BHXY",
		"type":        "Event::Endpoint::Threat::Detected",
		"when":        "2026-03-01T09:59:58.000Z",
		"data": map[string]any{
			"endpoint_id": endpointID, "endpoint_type": "computer", "endpoint_platform": "windows",
			"source_info":   map[string]any{"ip": fmt.Sprintf("10.40.%d.%d", n%200, 1+n/200%250)},
			"threat_status": "NONE", "make_actionable_at": 1772359198000,
			"ips_threat": map[string]any{
				"executable_name": "invoice_0425.exe", "executable_path": exe, "executable_pid": "7312",
				"remote_ip": "203.0.113.77", "remote_port": "8443", "local_port": "50112",
				"raw_data": "Message       Malware callback\nPID:          7312\nExecutable:   " + exe +
					"\nSHA-256:      5E0F7BB1D2B7D3B0A9E1C4F6A7B8C9D0E1F2A3B4C5D6E7F8091A2B3C4D5E6F70",
			},
		},
	}
	for _, o := range opts {
		o(a)
	}
	b, _ := json.Marshal(a) // only strings, numbers, maps
	return b
}
