// Package alert holds the normalised alert every vendor decoder produces, the
// severity and priority types triage works with, and the fingerprint that
// recognises the same event seen again.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Alert is one detection from one vendor, in bannin's own shape. Decoders fill
// what the payload carries and leave the rest empty; Raw keeps the payload.
type Alert struct {
	Tenant   string `json:"tenant,omitempty"`
	Source   string `json:"source,omitempty"`
	Vendor   string `json:"vendor"`
	VendorID string `json:"vendor_id"` // the vendor's own alert id (CrowdStrike composite_id)
	// Rule names the vendor's detection logic (pattern id, detect name); it is
	// part of the fingerprint.
	Rule        string `json:"rule,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Product     string `json:"product,omitempty"`

	EventTime     time.Time `json:"event_time"`
	VendorCreated time.Time `json:"vendor_created,omitzero"`
	Received      time.Time `json:"received,omitzero"`

	Host    Host      `json:"host"`
	User    string    `json:"user,omitempty"`
	Process Process   `json:"process,omitzero"`
	Parent  Process   `json:"parent,omitzero"`
	Network []Network `json:"network,omitempty"`

	Tactics    []string `json:"tactics,omitempty"`    // ATT&CK tactic ids (TA0006) or vendor ids
	Techniques []string `json:"techniques,omitempty"` // ATT&CK technique ids (T1486) or vendor ids

	// VendorSeverity is the vendor's own rating as it sent it ("79", "High").
	VendorSeverity string `json:"vendor_severity,omitempty"`
	// Score is the vendor rating mapped onto 0–100 (see docs/severity.md).
	Score      int    `json:"score"`
	Confidence int    `json:"confidence,omitempty"`
	Action     Action `json:"vendor_action"`
	Link       string `json:"link,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// Host is the endpoint an alert is about.
type Host struct {
	ID     string   `json:"id,omitempty"` // the id the vendor's containment call takes
	Name   string   `json:"name,omitempty"`
	IPs    []string `json:"ips,omitempty"`
	OS     string   `json:"os,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Role   string   `json:"role,omitempty"` // workstation, server, …
}

// Process is one process of the alert's lineage.
type Process struct {
	Name        string `json:"name,omitempty"`
	Path        string `json:"path,omitempty"`
	CommandLine string `json:"command_line,omitempty"`
	PID         string `json:"pid,omitempty"` // string: vendors send ids beyond 2^53
	SHA256      string `json:"sha256,omitempty"`
	SHA1        string `json:"sha1,omitempty"`
	MD5         string `json:"md5,omitempty"`
}

// Network is one remote endpoint the alert names.
type Network struct {
	IP     string `json:"ip,omitempty"`
	Port   int    `json:"port,omitempty"`
	Domain string `json:"domain,omitempty"`
}

// Action is what the vendor's product already did about the detection.
type Action string

// The actions a vendor may report.
const (
	ActionNone        Action = "none"
	ActionBlocked     Action = "blocked"
	ActionKilled      Action = "killed"
	ActionQuarantined Action = "quarantined"
)

// Mitigated reports whether the product already stopped the activity.
func (a Action) Mitigated() bool {
	return a == ActionBlocked || a == ActionKilled || a == ActionQuarantined
}

// Fingerprint identifies "the same event": the vendor rule, the host, the
// process image or hash and the normalised command line. Two alerts with the
// same fingerprint while an incident is open fold into it.
func (a *Alert) Fingerprint() string {
	return digest(a.Vendor, a.Rule, HostKey(a.Host), a.imageKey(), NormalizeCommandLine(a.Process.CommandLine))
}

// Pattern is the fingerprint without the host: the same detection of the same
// program, wherever it fires. Prevalence is counted on it.
func (a *Alert) Pattern() string {
	return digest(a.Vendor, a.Rule, a.imageKey(), NormalizeCommandLine(a.Process.CommandLine))
}

func (a *Alert) imageKey() string {
	if h := a.Process.SHA256; h != "" && !isZeroHash(h) {
		return strings.ToLower(h)
	}
	return strings.ToLower(a.Process.Path + "\\" + a.Process.Name)
}

// SuspiciousHash returns the process's SHA-256 when it is a real hash, or "".
func (a *Alert) SuspiciousHash() string {
	h := strings.ToLower(a.Process.SHA256)
	if len(h) != 64 || isZeroHash(h) {
		return ""
	}
	return h
}

// HostKey is how hosts are matched across alerts and vendors: the lower-cased
// short host name, else the vendor id.
func HostKey(h Host) string {
	if n := strings.TrimSpace(h.Name); n != "" {
		n = strings.ToLower(n)
		if i := strings.IndexByte(n, '.'); i > 0 && !looksLikeIP(n) {
			n = n[:i]
		}
		return n
	}
	return strings.ToLower(h.ID)
}

func looksLikeIP(s string) bool {
	return strings.Count(s, ".") == 3 && strings.Trim(s, "0123456789.") == ""
}

// NormalizeCommandLine lower-cases a command line and collapses white space,
// so that trivially different spellings of one invocation compare equal.
func NormalizeCommandLine(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func isZeroHash(h string) bool { return strings.Trim(h, "0") == "" }

func digest(parts ...string) string {
	s := sha256.New()
	for _, p := range parts {
		s.Write([]byte(p))
		s.Write([]byte{0})
	}
	return hex.EncodeToString(s.Sum(nil)[:16])
}

// FileName returns the last element of a Windows or POSIX path, as
// vendors send process and file paths in either form.
func FileName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
