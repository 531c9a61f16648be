package ticket

import "time"

// ReportSent is the delivery of one report to the customer.
type ReportSent struct {
	Kind   string    `json:"kind"`   // monthly
	Period string    `json:"period"` // YYYY-MM for a monthly report
	At     time.Time `json:"sent_at"`
	By     string    `json:"sent_by"`
	Note   string    `json:"note,omitempty"`
}
