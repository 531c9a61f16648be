package ticket

import (
	"fmt"
	"time"
)

// AllowlistEntry is an allowlist entry an applied PCR made: triage
// suppresses matching alerts as it does the tenant file's entries, naming
// the ticket as the reason.
type AllowlistEntry struct {
	ID        int64     `json:"id"`
	Tenant    string    `json:"tenant"`
	SHA256    string    `json:"sha256,omitempty"`
	PathGlob  string    `json:"path_glob,omitempty"`
	HostGlob  string    `json:"host_glob,omitempty"`
	Reason    string    `json:"reason"`
	Ticket    string    `json:"ticket"` // TKT-000123, the PCR it came from
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// PCRResult is what applying a PCR did.
type PCRResult struct {
	Ticket *Ticket        `json:"ticket"`
	Entry  AllowlistEntry `json:"entry"`
	// Matched lists the open incidents whose alerts the new entry covers;
	// each got a note saying so and stays open for an analyst.
	Matched []string `json:"matched_incidents"`
}

// Request is the entry as the allowlist request it answers.
func (e AllowlistEntry) Request() AllowRequest {
	return AllowRequest{SHA256: e.SHA256, PathGlob: e.PathGlob, HostGlob: e.HostGlob, Reason: e.Reason}
}

// Suppression is the reason triage records for an alert the entry covers.
func (e AllowlistEntry) Suppression() string {
	return fmt.Sprintf("PCR %s: %s", e.Ticket, e.Reason)
}
