// Package ticket holds incidents and the other tickets analysts work on, with
// their lifecycle and verdicts.
package ticket

import (
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Status is where an incident stands in its lifecycle.
type Status string

// Incident statuses.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Verdict is an analyst's judgement on an incident (seed 003).
type Verdict string

// The verdicts; an incident starts with none.
const (
	VerdictNone          Verdict = ""
	VerdictTruePositive  Verdict = "true_positive"
	VerdictSuspicious    Verdict = "suspicious"
	VerdictFalsePositive Verdict = "false_positive"
	VerdictInProgress    Verdict = "in_progress"
)

// ParseVerdict accepts the verdict names used on the command line.
func ParseVerdict(s string) (Verdict, error) {
	switch v := Verdict(s); v {
	case VerdictTruePositive, VerdictSuspicious, VerdictFalsePositive, VerdictInProgress:
		return v, nil
	}
	return "", fmt.Errorf("verdict %q: want true_positive, suspicious, false_positive or in_progress", s)
}

// Evidence is one reason behind an automatic decision: which signal moved the
// score by how much, and what it saw.
type Evidence struct {
	Signal       string `json:"signal"`
	Contribution int    `json:"contribution"`
	Detail       string `json:"detail"`
	// DetailJA is Detail in Japanese, for customers' notices and reports.
	DetailJA string `json:"detail_ja,omitempty"`
}

// DetailIn returns the detail in a language ("ja" or "en").
func (e Evidence) DetailIn(lang string) string {
	if lang == "ja" && e.DetailJA != "" {
		return e.DetailJA
	}
	return e.Detail
}

// Incident groups the alerts that are one security event for one tenant.
type Incident struct {
	ID         int64          `json:"-"`
	Ref        string         `json:"id"` // INC-000123: what people and the CLI use
	Tenant     string         `json:"tenant"`
	Status     Status         `json:"status"`
	Verdict    Verdict        `json:"verdict"`
	Priority   alert.Priority `json:"priority"`
	Severity   string         `json:"severity"` // a level of the tenant's scale
	Score      int            `json:"score"`
	NeedsHuman bool           `json:"needs_human"`
	Title      string         `json:"title"`
	Hosts      []string       `json:"hosts"` // host keys (short lower-case names)
	Techniques []string       `json:"techniques"`
	Evidence   []Evidence     `json:"evidence"`
	AlertCount int            `json:"alert_count"`
	// DFIR is set when the incident is handed to digital forensics and
	// incident response (seed 003: ransomware and other destructive attacks).
	DFIR      bool      `json:"dfir"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RefFor formats an incident's number as people see it.
func RefFor(id int64) string { return fmt.Sprintf("INC-%06d", id) }

// ParseRef reads "INC-000123" or "123".
func ParseRef(s string) (int64, error) {
	var id int64
	if _, err := fmt.Sscanf(s, "INC-%d", &id); err == nil && id > 0 {
		return id, nil
	}
	if _, err := fmt.Sscanf(s, "%d", &id); err == nil && id > 0 {
		return id, nil
	}
	return 0, fmt.Errorf("incident id %q: want INC-000123", s)
}

// Note is a line in an incident's history, written by bannin or a person.
type Note struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}
