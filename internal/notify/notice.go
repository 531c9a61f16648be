// Package notify tells a tenant's people about an incident: it renders the
// notice (Japanese or English, mail, chat and phone forms) and sends it
// through a Channel (SMTP mail, Slack incoming webhook, telephony webhook).
//
// The content follows seed 002's first report: what happened, how dangerous
// it is, what to do and whether the endpoint needs isolating. Escalation and
// retry belong to the durable job that calls Send; this package only tells
// it, through PermanentError and RetryAfterError, whether a retry can help.
package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Notice is the content of one incident notification. The caller (the notify
// job) fills it from the incident and the tenant; Render only words it.
type Notice struct {
	TenantName string
	// Language is "ja" or "en"; empty means "ja", bannin's home market.
	Language   string
	IncidentID string
	Priority   alert.Priority
	// Severity is the level name on the tenant's own scale ("emergency",
	// "深刻", …). The default names are translated; others are shown as
	// written, because only the tenant knows what its own names mean.
	Severity   string
	Score      int // 0–100
	Hosts      []string
	Users      []string
	Techniques []string
	// Title is the main detection ("ランサムウェアの疑い"); Summary is one or two
	// sentences an analyst or triage wrote about it.
	Title    string
	Summary  string
	Evidence []Evidence
	// Isolation says whether the endpoint needs isolating and how far that
	// has got; it decides the first thing the reader is asked to do.
	Isolation IsolationState
	// VendorAction is what the EDR already did: blocked, killed,
	// quarantined or none (see alert.Action).
	VendorAction string
	DetectedAt   time.Time
	// Location is the tenant's time zone; DetectedAt is shown in it. Nil
	// means UTC, and the zone is always printed so the time is unambiguous.
	Location   *time.Location
	ConsoleURL string
	Kind       Kind
	// AckURL is the signed link that acknowledges the incident (stops its
	// escalation); empty leaves the section out.
	AckURL string
	// Clock, Percent and Due describe the deadline of an slo_warning or
	// slo_breach notice: the clock's name (notification, first_response),
	// the share of its budget used and its due time.
	Clock   string
	Percent int
	Due     time.Time
}

// Evidence is one reason for the triage decision, as the incident records it.
type Evidence struct {
	Signal       string
	Contribution int
	Detail       string
}

// IsolationState is how network isolation of the incident's endpoints stands.
type IsolationState string

// The isolation states; they match the replay output's action states, plus
// not_needed for incidents where nobody asked for isolation.
const (
	IsolationNotNeeded        IsolationState = "not_needed"
	IsolationAwaitingApproval IsolationState = "awaiting_approval"
	IsolationRequested        IsolationState = "requested"
	IsolationDone             IsolationState = "done"
	IsolationFailed           IsolationState = "failed"
)

// IsolationStates lists every state, for callers and tests that need to
// cover them all.
var IsolationStates = []IsolationState{
	IsolationNotNeeded, IsolationAwaitingApproval, IsolationRequested, IsolationDone, IsolationFailed,
}

// Kind tells a first notice from a follow-up about the same incident.
type Kind string

// The kinds of notice. The zero value is a first notice.
const (
	KindFirst      Kind = "first"
	KindUpdate     Kind = "update"
	KindEscalation Kind = "escalation"  // nobody acknowledged: the chain's next contact
	KindSLOWarning Kind = "slo_warning" // a clock has used a share of its budget
	KindSLOBreach  Kind = "slo_breach"  // a clock passed its due time still running
)

// Kinds lists every kind of notice.
var Kinds = []Kind{KindFirst, KindUpdate, KindEscalation, KindSLOWarning, KindSLOBreach}

// Languages lists the languages Render supports.
var Languages = []string{"ja", "en"}

// Message is a rendered notice, ready for any Channel: mail uses Subject,
// Text and HTML; chat and phone use Short. The remaining fields travel with
// it so that a channel can label what it sends without seeing the Notice.
type Message struct {
	Subject string
	Text    string
	HTML    string
	// Short is one paragraph for a phone call or a chat message.
	Short      string
	Language   string
	IncidentID string
	URL        string // the incident in the console, if known
	// AckURL is the signed acknowledgement link and AckLabel its button's
	// caption in the message's language.
	AckURL   string
	AckLabel string
}

// normalize checks a notice and fills the defaults Render documents. Errors
// name the field, because a notice that cannot be rendered is a bug in the
// caller and retrying will not fix it.
func (n Notice) normalize() (Notice, error) {
	lang, err := normLanguage(n.Language)
	if err != nil {
		return n, err
	}
	n.Language = lang
	if strings.TrimSpace(n.IncidentID) == "" {
		return n, fmt.Errorf("notice: incident id is empty")
	}
	p, err := alert.ParsePriority(string(n.Priority))
	if err != nil {
		return n, fmt.Errorf("notice %s: %w", n.IncidentID, err)
	}
	n.Priority = p
	switch n.Isolation {
	case IsolationNotNeeded, IsolationAwaitingApproval, IsolationRequested, IsolationDone, IsolationFailed:
	default:
		// An empty state is refused rather than read as not_needed: telling a
		// customer isolation is unnecessary when nobody decided is worse than
		// failing the job loudly.
		return n, fmt.Errorf("notice %s: isolation state %q: want one of %v", n.IncidentID, n.Isolation, IsolationStates)
	}
	switch n.Kind {
	case "":
		n.Kind = KindFirst
	case KindFirst, KindUpdate, KindEscalation:
	case KindSLOWarning, KindSLOBreach:
		if n.Clock == "" || n.Due.IsZero() {
			return n, fmt.Errorf("notice %s: a %s names its clock and due time", n.IncidentID, n.Kind)
		}
	default:
		return n, fmt.Errorf("notice %s: kind %q: want one of %v", n.IncidentID, n.Kind, Kinds)
	}
	if n.Location == nil {
		n.Location = time.UTC
	}
	n.VendorAction = strings.ToLower(strings.TrimSpace(n.VendorAction))
	return n, nil
}

// normLanguage accepts "ja", "en" and regional forms such as "ja-JP".
func normLanguage(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	if l == "" {
		return "ja", nil
	}
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	for _, ok := range Languages {
		if l == ok {
			return l, nil
		}
	}
	return "", fmt.Errorf("notice: language %q: want ja or en", s)
}
