package ticket

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// VendorVerdict is the EDR maker's answer to a vendor escalation.
type VendorVerdict string

// The answers a vendor escalation can get (M17).
const (
	VendorPending      VendorVerdict = ""             // asked, no answer yet
	VendorBenign       VendorVerdict = "benign"       // not a threat: isolations are lifted
	VendorMalicious    VendorVerdict = "malicious"    // a threat: containment stays
	VendorInconclusive VendorVerdict = "inconclusive" // the analysis could not tell
)

// VendorVerdicts lists the answers, for messages.
var VendorVerdicts = []VendorVerdict{VendorBenign, VendorMalicious, VendorInconclusive}

// ParseVendorVerdict accepts an answer's name.
func ParseVendorVerdict(s string) (VendorVerdict, error) {
	if v := VendorVerdict(s); slices.Contains(VendorVerdicts, v) {
		return v, nil
	}
	return "", fmt.Errorf("%w: vendor verdict %q: want one of %v", ErrInvalid, s, VendorVerdicts)
}

// VendorEscalation is a ticket's request to the EDR maker for a detailed
// analysis (e.g. WithSecure "Elevate", seed 003), and its answer.
type VendorEscalation struct {
	ID          int64         `json:"id"`
	Vendor      string        `json:"vendor"`
	Request     string        `json:"request"`
	RequestedBy string        `json:"requested_by"`
	RequestedAt time.Time     `json:"requested_at"`
	VendorRef   string        `json:"vendor_ref,omitempty"` // the vendor's case number
	Verdict     VendorVerdict `json:"verdict,omitempty"`
	Answer      string        `json:"answer,omitempty"`
	AnsweredBy  string        `json:"answered_by,omitempty"`
	AnsweredAt  time.Time     `json:"answered_at,omitzero"`
}

// Validate checks a new escalation names the vendor and what is asked.
func (v *VendorEscalation) Validate() error {
	v.Vendor, v.Request = strings.TrimSpace(v.Vendor), strings.TrimSpace(v.Request)
	switch {
	case v.Vendor == "":
		return fmt.Errorf("%w: a vendor escalation names the vendor", ErrInvalid)
	case v.Request == "":
		return fmt.Errorf("%w: a vendor escalation says what is asked of the vendor", ErrInvalid)
	}
	return nil
}
