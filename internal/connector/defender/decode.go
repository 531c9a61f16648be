// Package defender is bannin's Microsoft Defender for Endpoint integration:
// it decodes MDE alerts (/api/alerts, with evidence) and Microsoft Graph
// security alerts (alerts_v2); pulls MDE alerts by lastUpdateTime with an
// exact (time, ids) checkpoint; isolates and releases machines, stops and
// quarantines files and blocks hashes through the MDE API; and simulates
// that API, with its Entra ID token endpoint, for demos, replays and tests.
package defender

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "defender"

// Decoder turns one Defender payload into alerts. It recognises:
//
//   - an MDE alert, an item of GET /api/alerts?$expand=evidence (machineId,
//     computerDnsName, alertCreationTime, …); evidence may be an array (as
//     the API sends it) or one object (as Elastic's split writes it);
//   - a Microsoft Graph security alert (alerts_v2, "@odata.type"
//     #microsoft.graph.security.alert, createdDateTime, evidence[] with
//     @odata.type per entity);
//   - an OData list page {"value":[…]} of either. Rows of one page that
//     share an alert id (one row per evidence item) become one alert; an
//     empty page gives no alert and no error.
//
// Severity becomes a 0–100 score (SeverityScale says the same in one line):
//
//	High 80, Medium 50, Low 30, Informational 10, UnSpecified/unknown 20
//
// MDE has no rating above High, so High takes the top of the "high" band.
// The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// severityScores maps MDE and Graph severities (lower-cased) to scores.
var severityScores = map[string]int{
	"high": 80, "medium": 50, "low": 30, "informational": 10,
	"unspecified": 20, "unknown": 20, "unknownfuturevalue": 20,
}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: defender: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	if !isAlert(f) && f.Has("value") {
		return decodeList(f)
	}
	a, err := decodeItem(f, payload)
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: defender: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

func isAlert(f jsonfield.Object) bool { return f.Has("id") && f.Has("severity") }

// isGraph tells a Graph alert (alerts_v2) from an MDE one.
func isGraph(f jsonfield.Object) bool {
	return strings.Contains(strings.ToLower(f.Str("@odata.type")), "graph.security.alert") ||
		f.Has("createdDateTime") && !f.Has("alertCreationTime")
}

func decodeItem(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	if isGraph(f) {
		return decodeGraph(f, raw)
	}
	return decodeMDE(f, raw)
}

// decodeList decodes an OData page {"value":[…]}, merging rows that share
// an alert id.
func decodeList(f jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(f["value"])
	if !ok {
		return nil, bad("value is not an array")
	}
	out := make([]alert.Alert, 0, len(raws))
	at := map[string]int{}
	for i, raw := range raws {
		item, err := jsonfield.Parse(raw)
		if err != nil {
			return nil, bad("value item %d is not an object", i)
		}
		a, err := decodeItem(item, raw)
		if err != nil {
			return nil, fmt.Errorf("%w (value item %d)", err, i)
		}
		if j, seen := at[a.VendorID]; seen {
			merge(&out[j], a)
			continue
		}
		at[a.VendorID] = len(out)
		out = append(out, a)
	}
	return out, nil
}

// merge fills what a is missing from b, another evidence row of the same
// alert.
func merge(a *alert.Alert, b alert.Alert) {
	if a.User == "" {
		a.User = b.User
	}
	if a.Process == (alert.Process{}) {
		a.Process = b.Process
	}
	if a.Parent == (alert.Process{}) {
		a.Parent = b.Parent
	}
	a.Network = append(a.Network, b.Network...)
	a.Host.IPs = connector.Uniq(append(a.Host.IPs, b.Host.IPs...)...)
	if a.Action == alert.ActionNone {
		a.Action = b.Action
	}
}

// decodeMDE maps an alert of the MDE API.
func decodeMDE(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.Str("id")
	if id == "" {
		return alert.Alert{}, bad("alert has no id")
	}
	ev := readEvidence(f["evidence"], false)
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          f.First("detectorId", "title"),
		Title:         f.Str("title"),
		Description:   f.Str("description"),
		Product:       f.First("detectionSource"),
		EventTime:     f.FirstTime("firstEventTime", "alertCreationTime", "lastEventTime"),
		VendorCreated: f.Time("alertCreationTime"),
		Host: alert.Host{
			ID:   f.Str("machineId"),
			Name: f.Str("computerDnsName"),
			IPs:  ev.hostIPs,
		},
		User:       ev.user,
		Process:    ev.process,
		Parent:     ev.parent,
		Network:    ev.network,
		Tactics:    categoryTactics(f.Str("category")),
		Techniques: f.Strs("mitreTechniques"),
		Action:     investigationAction(f.Str("investigationState"), ev.action),
		Link:       alertLink(id, f.Str("aadTenantId")),
		Raw:        slices.Clone(raw),
	}
	if a.User == "" {
		a.User = f.Obj("relatedUser").Str("userName")
	}
	if a.Host.OS == "" {
		a.Host.OS = ev.os
	}
	a.VendorSeverity = f.Str("severity")
	a.Score = severityScores[strings.ToLower(a.VendorSeverity)]
	if a.Score == 0 {
		a.VendorSeverity = ""
	}
	return a, checkAlert(a, "machineId or computerDnsName")
}

// decodeGraph maps a Microsoft Graph security alert (alerts_v2). The host
// is the first device evidence (mdeDeviceId is the MDE machine id the
// isolate call takes).
func decodeGraph(f jsonfield.Object, raw []byte) (alert.Alert, error) {
	id := f.First("id", "providerAlertId")
	if id == "" {
		return alert.Alert{}, bad("graph alert has no id")
	}
	ev := readEvidence(f["evidence"], true)
	a := alert.Alert{
		Vendor:        VendorName,
		VendorID:      id,
		Rule:          f.First("detectorId", "title"),
		Title:         f.Str("title"),
		Description:   f.Str("description"),
		Product:       f.First("serviceSource", "detectionSource"),
		EventTime:     f.FirstTime("firstActivityDateTime", "createdDateTime", "lastActivityDateTime"),
		VendorCreated: f.Time("createdDateTime"),
		Host:          alert.Host{ID: ev.deviceID, Name: ev.deviceName, IPs: ev.hostIPs, OS: ev.os},
		User:          ev.user,
		Process:       ev.process,
		Parent:        ev.parent,
		Network:       ev.network,
		Tactics:       categoryTactics(f.Str("category")),
		Techniques:    f.Strs("mitreTechniques"),
		Action:        ev.action,
		Link:          f.Str("alertWebUrl"),
		Raw:           slices.Clone(raw),
	}
	if a.Link == "" {
		a.Link = alertLink(id, f.Str("tenantId"))
	}
	a.VendorSeverity = f.Str("severity")
	a.Score = severityScores[strings.ToLower(a.VendorSeverity)]
	if a.Score == 0 {
		a.VendorSeverity = ""
	}
	return a, checkAlert(a, "a deviceEvidence with mdeDeviceId or deviceDnsName")
}

// checkAlert refuses an alert bannin could not judge or act on: one with no
// severity it knows, or no endpoint. Such a payload is not what the API
// sends, so it goes to quarantine with the reason.
func checkAlert(a alert.Alert, endpoint string) error {
	switch {
	case a.VendorSeverity == "":
		return bad("alert %s has no severity High, Medium, Low, Informational or UnSpecified", a.VendorID)
	case a.Host.ID == "" && a.Host.Name == "":
		return bad("alert %s names no endpoint (%s)", a.VendorID, endpoint)
	}
	return nil
}

// alertLink is the alert's page in the Defender portal, in the form the
// Graph alerts carry as alertWebUrl.
func alertLink(id, tenant string) string {
	link := "https://security.microsoft.com/alerts/" + id
	if tenant != "" {
		link += "?tid=" + tenant
	}
	return link
}

// investigationAction says what Defender already did: automated
// investigation remediated it (investigationState SuccessfullyRemediated),
// else what the evidence's remediationStatus says.
func investigationAction(state string, fromEvidence alert.Action) alert.Action {
	if strings.EqualFold(state, "SuccessfullyRemediated") {
		return alert.ActionQuarantined
	}
	return fromEvidence
}

// categoryTactics maps an MDE alert category that is an ATT&CK tactic to
// its id. Other categories (Malware, Ransomware, SuspiciousActivity, …) are
// not tactics and give none; the category stays in the raw payload.
func categoryTactics(category string) []string {
	if id, ok := tacticIDs[strings.ToLower(category)]; ok {
		return []string{id}
	}
	return nil
}

var tacticIDs = map[string]string{
	"reconnaissance":      "TA0043",
	"resourcedevelopment": "TA0042",
	"initialaccess":       "TA0001",
	"execution":           "TA0002",
	"persistence":         "TA0003",
	"privilegeescalation": "TA0004",
	"defenseevasion":      "TA0005",
	"credentialaccess":    "TA0006",
	"discovery":           "TA0007",
	"lateralmovement":     "TA0008",
	"collection":          "TA0009",
	"commandandcontrol":   "TA0011",
	"exfiltration":        "TA0010",
	"impact":              "TA0040",
}

// joinPath joins MDE's filePath (the folder) and fileName into the file's
// full path; a filePath that already ends in the name is kept, and no
// folder gives no path.
func joinPath(dir, name string) string {
	switch {
	case dir == "":
		return "" // a bare name is no path
	case name == "" || strings.EqualFold(alert.FileName(dir), name):
		return dir
	}
	sep := `\`
	if strings.HasPrefix(dir, "/") {
		sep = "/"
	}
	return strings.TrimRight(dir, `/\`) + sep + name
}
