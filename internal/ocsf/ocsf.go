// Package ocsf renders bannin's normalised alerts as OCSF 1.x Detection
// Finding objects (class_uid 2004), so that other tools — SIEMs, data
// lakes, Amazon Security Lake — read what bannin sees without knowing
// each EDR vendor's format.
//
// The mapping is deliberately small: only what an alert carries is
// written, and nothing is invented. See docs/ocsf.md for the field table.
package ocsf

import (
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Version is the OCSF schema version the objects follow.
const Version = "1.3.0"

// Class and category of a Detection Finding, and its one activity here.
const (
	CategoryFindings     = 2
	ClassDetection       = 2004
	ActivityCreate       = 1
	TypeDetectionCreate  = ClassDetection*100 + ActivityCreate
	StatusNew            = 1
	hashMD5, hashSHA1    = 1, 2
	hashSHA256           = 3
	dispositionAllowed   = 1
	dispositionBlocked   = 2
	dispositionQuarant   = 3
	dispositionUnknown   = 0
	osWindows, osLinux   = 100, 200
	osMacOS, osOtherType = 300, 99
)

// Finding is an OCSF Detection Finding. Fields are omitted when the alert
// has nothing for them.
type Finding struct {
	ActivityID    int          `json:"activity_id"`
	ActivityName  string       `json:"activity_name"`
	CategoryUID   int          `json:"category_uid"`
	CategoryName  string       `json:"category_name"`
	ClassUID      int          `json:"class_uid"`
	ClassName     string       `json:"class_name"`
	TypeUID       int          `json:"type_uid"`
	TypeName      string       `json:"type_name"`
	SeverityID    int          `json:"severity_id"`
	Severity      string       `json:"severity"`
	StatusID      int          `json:"status_id"`
	Status        string       `json:"status"`
	Time          int64        `json:"time"` // ms since the epoch: when the event happened
	Message       string       `json:"message,omitempty"`
	Confidence    int          `json:"confidence_score,omitempty"`
	DispositionID *int         `json:"disposition_id,omitempty"`
	Disposition   string       `json:"disposition,omitempty"`
	Metadata      Metadata     `json:"metadata"`
	FindingInfo   FindingInfo  `json:"finding_info"`
	Device        *Device      `json:"device,omitempty"`
	Actor         *Actor       `json:"actor,omitempty"`
	Evidences     []Evidence   `json:"evidences,omitempty"`
	Observables   []Observable `json:"observables,omitempty"`
	RiskScore     int          `json:"risk_score"`
	Unmapped      Unmapped     `json:"unmapped,omitzero"`
}

// Metadata names the product that raised the finding.
type Metadata struct {
	Version      string  `json:"version"`
	Product      Product `json:"product"`
	UID          string  `json:"uid,omitempty"`
	OriginalTime string  `json:"original_time,omitempty"`
	LoggedTime   int64   `json:"logged_time,omitempty"`
}

// Product is the detecting product.
type Product struct {
	Name       string `json:"name,omitempty"`
	VendorName string `json:"vendor_name"`
}

// FindingInfo identifies the finding.
type FindingInfo struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Desc          string   `json:"desc,omitempty"`
	CreatedTime   int64    `json:"created_time,omitempty"`
	FirstSeenTime int64    `json:"first_seen_time,omitempty"`
	SrcURL        string   `json:"src_url,omitempty"`
	Analytic      *Named   `json:"analytic,omitempty"`
	Attacks       []Attack `json:"attacks,omitempty"`
}

// Named is an object with a name (and a uid).
type Named struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Attack is one MITRE ATT&CK reference.
type Attack struct {
	Technique *Named `json:"technique,omitempty"`
	Tactic    *Named `json:"tactic,omitempty"`
	Version   string `json:"version,omitempty"`
}

// Device is the endpoint the finding is about.
type Device struct {
	Hostname string  `json:"hostname,omitempty"`
	UID      string  `json:"uid,omitempty"`
	IP       string  `json:"ip,omitempty"`
	TypeID   int     `json:"type_id"`
	OS       *OS     `json:"os,omitempty"`
	Groups   []Named `json:"groups,omitempty"`
}

// OS is the device's operating system.
type OS struct {
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
}

// Actor is who ran what was detected.
type Actor struct {
	User    *User    `json:"user,omitempty"`
	Process *Process `json:"process,omitempty"`
}

// User is a user account.
type User struct {
	Name string `json:"name"`
}

// Evidence is one artefact of the finding.
type Evidence struct {
	Process *Process `json:"process,omitempty"`
	File    *File    `json:"file,omitempty"`
	DstEP   *Endpt   `json:"dst_endpoint,omitempty"`
}

// Process is a process, with its image file.
type Process struct {
	Name    string   `json:"name,omitempty"`
	CmdLine string   `json:"cmd_line,omitempty"`
	PID     *int64   `json:"pid,omitempty"`
	File    *File    `json:"file,omitempty"`
	Parent  *Process `json:"parent_process,omitempty"`
}

// File is a file with its hashes.
type File struct {
	Name   string `json:"name,omitempty"`
	Path   string `json:"path,omitempty"`
	TypeID int    `json:"type_id"`
	Hashes []Hash `json:"hashes,omitempty"`
}

// Hash is a file fingerprint.
type Hash struct {
	AlgorithmID int    `json:"algorithm_id"`
	Algorithm   string `json:"algorithm"`
	Value       string `json:"value"`
}

// Endpt is a network endpoint.
type Endpt struct {
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// Observable is a searchable value of the finding.
type Observable struct {
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
	Value  string `json:"value"`
}

// Unmapped keeps bannin's own view that OCSF has no place for.
type Unmapped struct {
	Tenant         string `json:"bannin.tenant,omitempty"`
	Source         string `json:"bannin.source,omitempty"`
	Rule           string `json:"bannin.rule,omitempty"`
	VendorSeverity string `json:"bannin.vendor_severity,omitempty"`
	Fingerprint    string `json:"bannin.fingerprint,omitempty"`
}

// SeverityID maps bannin's 0–100 score onto OCSF's severity_id. The cuts
// sit where the vendor tables put their names (docs/severity.md): Low 30,
// Medium 50, High 70–80, Critical 90 land on OCSF's level of the same name.
func SeverityID(score int) (int, string) {
	switch {
	case score >= 90:
		return 5, "Critical"
	case score >= 70:
		return 4, "High"
	case score >= 50:
		return 3, "Medium"
	case score >= 20:
		return 2, "Low"
	default:
		return 1, "Informational"
	}
}

// FromAlert renders one alert.
func FromAlert(a *alert.Alert) Finding {
	sevID, sev := SeverityID(a.Score)
	f := Finding{
		ActivityID: ActivityCreate, ActivityName: "Create",
		CategoryUID: CategoryFindings, CategoryName: "Findings",
		ClassUID: ClassDetection, ClassName: "Detection Finding",
		TypeUID: TypeDetectionCreate, TypeName: "Detection Finding: Create",
		SeverityID: sevID, Severity: sev,
		StatusID: StatusNew, Status: "New",
		Time:       ms(a.EventTime),
		Message:    a.Title,
		Confidence: a.Confidence,
		RiskScore:  a.Score,
		Metadata: Metadata{Version: Version, Product: Product{Name: a.Product, VendorName: a.Vendor},
			UID: a.VendorID, LoggedTime: ms(a.Received)},
		FindingInfo: FindingInfo{UID: a.VendorID, Title: orElse(a.Title, a.Rule), Desc: a.Description,
			CreatedTime: ms(a.VendorCreated), FirstSeenTime: ms(a.EventTime), SrcURL: a.Link},
		Unmapped: Unmapped{Tenant: a.Tenant, Source: a.Source, Rule: a.Rule, VendorSeverity: a.VendorSeverity,
			Fingerprint: a.Fingerprint()},
	}
	if a.Rule != "" {
		f.FindingInfo.Analytic = &Named{UID: a.Rule, Name: a.Rule, Type: "Rule"}
	}
	f.FindingInfo.Attacks = attacks(a)
	if id, name, ok := disposition(a.Action); ok {
		f.DispositionID, f.Disposition = &id, name
	}
	if h := a.Host; h.Name != "" || h.ID != "" || len(h.IPs) > 0 {
		d := &Device{Hostname: h.Name, UID: h.ID, TypeID: deviceType(h.Role)}
		if len(h.IPs) > 0 {
			d.IP = h.IPs[0]
		}
		if h.OS != "" {
			d.OS = &OS{Name: h.OS, TypeID: osType(h.OS)}
		}
		for _, g := range h.Groups {
			d.Groups = append(d.Groups, Named{Name: g})
		}
		f.Device = d
	}
	proc := process(a.Process)
	if proc != nil {
		proc.Parent = process(a.Parent)
	}
	if a.User != "" || proc != nil {
		f.Actor = &Actor{Process: proc}
		if a.User != "" {
			f.Actor.User = &User{Name: a.User}
		}
	}
	if proc != nil {
		ev := Evidence{Process: proc}
		if proc.File != nil && len(proc.File.Hashes) > 0 {
			ev.File = proc.File
		}
		f.Evidences = append(f.Evidences, ev)
	}
	for _, n := range a.Network {
		f.Evidences = append(f.Evidences, Evidence{DstEP: &Endpt{IP: n.IP, Port: n.Port, Hostname: n.Domain}})
	}
	f.Observables = observables(a)
	return f
}

func attacks(a *alert.Alert) []Attack {
	var out []Attack
	for _, t := range a.Techniques {
		out = append(out, Attack{Technique: &Named{UID: t}, Version: "v15"})
	}
	for i, t := range a.Tactics {
		if i < len(out) {
			out[i].Tactic = &Named{UID: t}
		} else {
			out = append(out, Attack{Tactic: &Named{UID: t}, Version: "v15"})
		}
	}
	return out
}

func process(p alert.Process) *Process {
	if p == (alert.Process{}) {
		return nil
	}
	out := &Process{Name: p.Name, CmdLine: p.CommandLine}
	if pid, err := strconv.ParseInt(p.PID, 10, 64); err == nil {
		out.PID = &pid
	}
	var hashes []Hash
	for _, h := range []struct {
		id   int
		name string
		v    string
	}{{hashSHA256, "SHA-256", p.SHA256}, {hashSHA1, "SHA-1", p.SHA1}, {hashMD5, "MD5", p.MD5}} {
		if h.v != "" {
			hashes = append(hashes, Hash{AlgorithmID: h.id, Algorithm: h.name, Value: strings.ToLower(h.v)})
		}
	}
	if p.Path != "" || len(hashes) > 0 {
		name := p.Name
		if p.Path != "" {
			name = alert.FileName(p.Path)
		}
		out.File = &File{Name: name, Path: p.Path, TypeID: 1, Hashes: hashes}
	}
	return out
}

func observables(a *alert.Alert) []Observable {
	var out []Observable
	add := func(name string, typeID int, typ, v string) {
		if v != "" {
			out = append(out, Observable{Name: name, TypeID: typeID, Type: typ, Value: v})
		}
	}
	add("device.hostname", 1, "Hostname", a.Host.Name)
	for _, ip := range a.Host.IPs {
		add("device.ip", 2, "IP Address", ip)
	}
	add("actor.user.name", 4, "User Name", a.User)
	add("actor.process.file.hashes", 8, "Hash", a.Process.SHA256)
	for _, n := range a.Network {
		add("dst_endpoint.ip", 2, "IP Address", n.IP)
		add("dst_endpoint.hostname", 1, "Hostname", n.Domain)
	}
	return out
}

// disposition maps what the product already did.
func disposition(act alert.Action) (int, string, bool) {
	switch act {
	case alert.ActionBlocked, alert.ActionKilled:
		return dispositionBlocked, "Blocked", true
	case alert.ActionQuarantined:
		return dispositionQuarant, "Quarantined", true
	case alert.ActionNone:
		return dispositionAllowed, "Allowed", true
	case "":
		return 0, "", false
	}
	return dispositionUnknown, "Unknown", true
}

func deviceType(role string) int {
	switch strings.ToLower(role) {
	case "server":
		return 1
	case "workstation", "desktop":
		return 2
	case "laptop":
		return 3
	}
	return 0
}

func osType(name string) int {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "win"):
		return osWindows
	case strings.Contains(n, "mac") || strings.Contains(n, "darwin"):
		return osMacOS
	case strings.Contains(n, "linux") || strings.Contains(n, "ubuntu") || strings.Contains(n, "rhel") || strings.Contains(n, "centos"):
		return osLinux
	}
	return osOtherType
}

func orElse(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
