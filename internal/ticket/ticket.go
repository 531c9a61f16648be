package ticket

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/fault"

	"github.com/bannin-soc/bannin/internal/alert"
)

// ErrInvalid marks a request that cannot be carried out as asked: an unknown
// kind or state, a refused transition, a missing reason. Callers map it to a
// client error (HTTP 400, a CLI message) and nothing is changed.
var ErrInvalid = fault.ErrInvalid

// Kind is what a ticket is about (SPEC M7).
type Kind string

// The ticket kinds.
const (
	KindIncident      Kind = "incident"       // work on an incident, linked to it
	KindPCR           Kind = "pcr"            // a customer's allowlist request
	KindInquiry       Kind = "inquiry"        // a question from the customer (Q&A)
	KindPolicyChange  Kind = "policy_change"  // a request to change the EDR policy
	KindAgentUpdate   Kind = "agent_update"   // a request to update sensors/agents
	KindEmergencyCall Kind = "emergency_call" // a call to the emergency line
)

// Kinds lists every kind, in the order people read them.
var Kinds = []Kind{KindIncident, KindPCR, KindInquiry, KindPolicyChange, KindAgentUpdate, KindEmergencyCall}

// ParseKind accepts a kind's name.
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", fmt.Errorf("%w: ticket kind %q: want one of %v", ErrInvalid, s, Kinds)
}

// State is where a ticket stands between receipt and completion.
type State string

// The ticket states.
const (
	StateReceived        State = "received"
	StateInProgress      State = "in_progress"
	StateWaitingCustomer State = "waiting_customer"
	StateResolved        State = "resolved"
	StateRefused         State = "refused"
	StateClosed          State = "closed"
)

// transitions lists, for each state, the states a ticket may move to. A
// resolved ticket may be reopened; a refused or closed one is final but
// for closing the refusal.
var transitions = map[State][]State{
	StateReceived:        {StateInProgress, StateWaitingCustomer, StateResolved, StateRefused},
	StateInProgress:      {StateWaitingCustomer, StateResolved, StateRefused},
	StateWaitingCustomer: {StateInProgress, StateResolved, StateRefused},
	StateResolved:        {StateInProgress, StateClosed},
	StateRefused:         {StateClosed},
	StateClosed:          nil,
}

// ParseState accepts a state's name.
func ParseState(s string) (State, error) {
	if _, ok := transitions[State(s)]; ok {
		return State(s), nil
	}
	return "", fmt.Errorf("%w: ticket state %q: want received, in_progress, waiting_customer, resolved, refused or closed", ErrInvalid, s)
}

// Next returns the states a ticket in s may move to.
func (s State) Next() []State { return slices.Clone(transitions[s]) }

// Open reports whether work on the ticket is still to be done.
func (s State) Open() bool {
	return s == StateReceived || s == StateInProgress || s == StateWaitingCustomer
}

// Link kinds: what a ticket points at.
const (
	LinkIncident = "incident" // Ref is INC-000123
	LinkAlert    = "alert"    // Ref is the vendor's alert id
)

// Link ties a ticket to an incident or an alert of the same tenant.
type Link struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
}

// Decision is how a PCR ended.
type Decision string

// PCR decisions; a PCR starts undecided.
const (
	DecisionNone    Decision = ""
	DecisionApplied Decision = "applied"
	DecisionRefused Decision = "refused"
)

// AllowRequest is what a PCR asks for: an allowlist entry, and how it was
// decided. An alert matches the entry when every matcher given matches.
type AllowRequest struct {
	SHA256   string   `json:"sha256,omitempty"`    // lower-case hex
	PathGlob string   `json:"path_glob,omitempty"` // the process image's full path; '/' and '\' are the same
	HostGlob string   `json:"host_glob,omitempty"` // the host's short or full name
	Reason   string   `json:"reason"`              // why the customer asks
	Decision Decision `json:"decision,omitempty"`
	// RefusalReason says why the request was refused (e.g. it would weaken
	// protection, seed 000).
	RefusalReason string    `json:"refusal_reason,omitempty"`
	DecidedBy     string    `json:"decided_by,omitempty"`
	DecidedAt     time.Time `json:"decided_at,omitzero"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate normalises the request and checks it names something to allow.
func (r *AllowRequest) Validate() error {
	r.SHA256 = strings.ToLower(strings.TrimSpace(r.SHA256))
	r.PathGlob, r.HostGlob = strings.TrimSpace(r.PathGlob), strings.TrimSpace(r.HostGlob)
	r.Reason = strings.TrimSpace(r.Reason)
	switch {
	case r.SHA256 != "" && !sha256Hex.MatchString(r.SHA256):
		return fmt.Errorf("%w: sha256 %q: want 64 hex digits", ErrInvalid, r.SHA256)
	case r.SHA256 == "" && r.PathGlob == "":
		// A host glob alone would silence every alert of those hosts.
		return fmt.Errorf("%w: a PCR needs a sha256 or a path glob", ErrInvalid)
	case r.Reason == "":
		return fmt.Errorf("%w: a PCR needs the customer's reason", ErrInvalid)
	}
	for _, g := range []string{r.PathGlob, r.HostGlob} {
		if _, err := path.Match(normPath(g), ""); err != nil {
			return fmt.Errorf("%w: glob %q: %v", ErrInvalid, g, err)
		}
	}
	return nil
}

// Matches reports whether the requested entry covers the alert.
func (r AllowRequest) Matches(a *alert.Alert) bool {
	if r.SHA256 == "" && r.PathGlob == "" {
		return false
	}
	if r.SHA256 != "" && !strings.EqualFold(r.SHA256, a.Process.SHA256) {
		return false
	}
	if r.PathGlob != "" {
		if ok, _ := path.Match(normPath(r.PathGlob), normPath(imagePath(a.Process))); !ok {
			return false
		}
	}
	if r.HostGlob != "" && !matchHost(r.HostGlob, a.Host.Name) {
		return false
	}
	return true
}

// imagePath is the process image's full path: vendors send either the full
// path or its directory next to the name.
func imagePath(p alert.Process) string {
	full := strings.ReplaceAll(p.Path, `\`, "/")
	if p.Name == "" || strings.HasSuffix(strings.ToLower(full), "/"+strings.ToLower(p.Name)) ||
		strings.EqualFold(full, p.Name) {
		return full
	}
	if full == "" {
		return p.Name
	}
	return strings.TrimSuffix(full, "/") + "/" + p.Name
}

func normPath(s string) string { return strings.ToLower(strings.ReplaceAll(s, `\`, "/")) }

func matchHost(glob, name string) bool {
	full := strings.ToLower(strings.TrimSpace(name))
	if full == "" {
		return false
	}
	g := strings.ToLower(glob)
	if ok, _ := path.Match(g, alert.HostKey(alert.Host{Name: name})); ok {
		return true
	}
	ok, _ := path.Match(g, full)
	return ok
}

// Ticket is one piece of work for a tenant, tracked from receipt to
// completion.
type Ticket struct {
	ID        int64         `json:"-"`
	Ref       string        `json:"id"` // TKT-000123
	Tenant    string        `json:"tenant"`
	Kind      Kind          `json:"kind"`
	Title     string        `json:"title"`
	Body      string        `json:"body,omitempty"`
	State     State         `json:"state"`
	Assignee  string        `json:"assignee,omitempty"`
	Requester string        `json:"requester,omitempty"`
	Links     []Link        `json:"links"`
	Notes     []Note        `json:"notes,omitempty"`
	PCR       *AllowRequest `json:"pcr,omitempty"` // for KindPCR only
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	// StateSince is when the ticket entered its state.
	StateSince time.Time `json:"state_since"`
}

// TicketRef formats a ticket's number as people see it.
func TicketRef(id int64) string { return fmt.Sprintf("TKT-%06d", id) }

// ParseTicketRef reads "TKT-000123" or "123".
func ParseTicketRef(s string) (int64, error) {
	var id int64
	if _, err := fmt.Sscanf(s, "TKT-%d", &id); err == nil && id > 0 {
		return id, nil
	}
	if _, err := fmt.Sscanf(s, "%d", &id); err == nil && id > 0 && fmt.Sprint(id) == s {
		return id, nil
	}
	return 0, fmt.Errorf("%w: ticket id %q: want TKT-000123", ErrInvalid, s)
}

// NewTicket checks a new ticket and sets its state and times.
func NewTicket(t *Ticket, at time.Time) error {
	if _, err := ParseKind(string(t.Kind)); err != nil {
		return err
	}
	t.Title = strings.TrimSpace(t.Title)
	if t.Title == "" {
		return fmt.Errorf("%w: a ticket needs a title", ErrInvalid)
	}
	switch {
	case t.Kind == KindPCR && t.PCR == nil:
		return fmt.Errorf("%w: a PCR ticket needs the requested allowlist entry (sha256 and/or path glob, reason)", ErrInvalid)
	case t.Kind != KindPCR && t.PCR != nil:
		return fmt.Errorf("%w: only a PCR ticket carries an allowlist request", ErrInvalid)
	case t.PCR != nil:
		t.PCR.Decision, t.PCR.RefusalReason, t.PCR.DecidedBy, t.PCR.DecidedAt = DecisionNone, "", "", time.Time{}
		if err := t.PCR.Validate(); err != nil {
			return err
		}
	}
	t.State, t.CreatedAt, t.UpdatedAt = StateReceived, at, at
	if t.Links == nil {
		t.Links = []Link{}
	}
	return nil
}

// Move changes the ticket's state, refusing a move its lifecycle does not
// allow. A PCR is resolved or refused only by its decision (Apply, Refuse),
// so that its allowlist entry and its state never disagree.
func (t *Ticket) Move(to State, at time.Time) error {
	if _, err := ParseState(string(to)); err != nil {
		return err
	}
	if !slices.Contains(transitions[t.State], to) {
		return fmt.Errorf("%w: ticket %s cannot move from %s to %s (allowed: %v)", ErrInvalid, t.Ref, t.State, to, transitions[t.State])
	}
	if t.Kind == KindPCR && (to == StateResolved || to == StateRefused) && t.PCR.Decision == DecisionNone {
		return fmt.Errorf("%w: PCR %s is resolved by applying it and refused by refusing it with a reason", ErrInvalid, t.Ref)
	}
	t.State, t.UpdatedAt, t.StateSince = to, at, at
	return nil
}

// Decide records a PCR's decision and moves the ticket to resolved
// (applied) or refused. Refusing needs a reason.
func (t *Ticket) Decide(d Decision, reason, by string, at time.Time) error {
	if t.Kind != KindPCR || t.PCR == nil {
		return fmt.Errorf("%w: ticket %s is a %s ticket, not a PCR", ErrInvalid, t.Ref, t.Kind)
	}
	if t.PCR.Decision != DecisionNone {
		return fmt.Errorf("%w: PCR %s was already %s", ErrInvalid, t.Ref, t.PCR.Decision)
	}
	reason = strings.TrimSpace(reason)
	to := StateResolved
	switch d {
	case DecisionApplied:
	case DecisionRefused:
		if reason == "" {
			return fmt.Errorf("%w: refusing PCR %s needs a reason", ErrInvalid, t.Ref)
		}
		to = StateRefused
	default:
		return fmt.Errorf("%w: decision %q: want applied or refused", ErrInvalid, d)
	}
	if !t.State.Open() {
		return fmt.Errorf("%w: PCR %s is %s, no longer open", ErrInvalid, t.Ref, t.State)
	}
	prev := *t.PCR
	t.PCR.Decision, t.PCR.RefusalReason, t.PCR.DecidedBy, t.PCR.DecidedAt = d, reason, by, at
	if err := t.Move(to, at); err != nil {
		*t.PCR = prev
		return err
	}
	return nil
}

var verdictLabels = map[Verdict][2]string{
	VerdictTruePositive:  {"True Positive", "真陽性"},
	VerdictSuspicious:    {"Suspicious", "要注意"},
	VerdictFalsePositive: {"False Positive", "誤検知"},
	VerdictInProgress:    {"In progress", "調査中"},
}

// Label names the verdict for people, in "ja" or "en".
func (v Verdict) Label(lang string) string {
	l, ok := verdictLabels[v]
	switch {
	case !ok:
		return "none"
	case lang == "ja":
		return l[1]
	}
	return l[0]
}

// VerdictNote is the incident note bannin writes when an analyst sets a
// verdict, in Japanese and English.
func VerdictNote(v Verdict, by, why string) string {
	ja := fmt.Sprintf("%s が判定を「%s」に設定しました。", by, v.Label("ja"))
	en := fmt.Sprintf("%s set the verdict to %s.", by, v.Label("en"))
	if why = strings.TrimSpace(why); why != "" {
		ja += " 理由: " + why
		en += " Reason: " + why
	}
	return ja + "\n" + en
}

// PCRMatchNote is the incident note bannin writes when an applied PCR
// matches the incident's alerts, in Japanese and English.
func PCRMatchNote(ticketRef string, r AllowRequest) string {
	return fmt.Sprintf("許可リスト申請 (PCR) %s が適用され、このインシデントのアラートに一致します (%s)。"+
		"インシデントは自動ではクローズされません。判定と対応をご確認ください。\n"+
		"Allowlist request (PCR) %s was applied and matches this incident's alerts (%s). "+
		"The incident is not closed automatically; review its verdict and handling.",
		ticketRef, r.Describe(), ticketRef, r.Describe())
}

// Describe names the entry's matchers in one line.
func (r AllowRequest) Describe() string {
	var parts []string
	if r.SHA256 != "" {
		parts = append(parts, "sha256="+r.SHA256)
	}
	if r.PathGlob != "" {
		parts = append(parts, "path="+r.PathGlob)
	}
	if r.HostGlob != "" {
		parts = append(parts, "host="+r.HostGlob)
	}
	return strings.Join(parts, ", ")
}

// Filter narrows a ticket list; empty fields match everything.
type Filter struct {
	State State
	Kind  Kind
}
