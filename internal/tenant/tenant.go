// Package tenant holds one customer of the SOC as bannin knows it: the tenant
// file of DESIGN.md (the contract with users), parsed strictly so that every
// unknown key and bad value is reported with its line, and the few lookups
// the other packages need (critical hosts, sources, assets).
package tenant

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Tenant is one customer: the parsed and validated tenant file, with its
// defaults filled in and its secret files read.
type Tenant struct {
	ID       string
	Name     string
	Language string // ja or en: messages and reports
	Timezone string // IANA name, e.g. Asia/Tokyo
	// Location is Timezone loaded; clocks and rules work in it.
	Location *time.Location

	SeverityScale alert.Scale // highest first; alert.DefaultScale when absent
	ServiceHours  string      // "24x7" (default) or "weekdays HH:MM-HH:MM"
	Hours         Hours       // ServiceHours parsed
	// AttentionMinSeverity is the lowest severity whose incidents need a
	// human; below it they go to the monthly report.
	AttentionMinSeverity string

	Sources       []Source
	CriticalHosts []string // host-name globs (path.Match syntax), matched case-insensitively
	Containment   Containment
	Allowlist     []AllowEntry
	Contacts      map[string]Contact
	Notify        []Route // first matching route wins
	Rules         []Rule
	Assets        []Asset // first matching host glob wins
	SLO           SLO
}

// SLO holds the contract's clock targets. Durations count service time
// only (service_hours), from an incident's first alert receipt.
type SLO struct {
	// Notification: receipt → the first notification sent (seed 000:
	// アラート通知連絡 2 h).
	Notification time.Duration
	// FirstResponse per priority: receipt → the first response done, i.e.
	// an isolation carried out or an analyst acting on the incident (seed
	// 003: 1次レスポンス P0 10 min, P1–P3 60 min).
	FirstResponse map[alert.Priority]time.Duration
	// WarnAt are the shares of a budget (percent, ascending, 1–99) at
	// which a running clock warns before it breaches; default 50 and 80.
	WarnAt []int
	// WarnTo receives clock warnings and breaches; empty sends them to the
	// recipients of the incident's route.
	WarnTo []Recipient
	// PCR is the allowlist-request clock: receipt → applied or refused,
	// within PCR business days (seed 000: 5営業日).
	PCR int
	// Exclude are periods whose incidents are not counted in attainment
	// (seed 003: the flood of an initial full-disk scan).
	Exclude []Exclusion
	// StartDay (起点日, 1–28) is the day the contract's months begin; a
	// monthly report covers start day to the day before the next one.
	StartDay int
	// MonthlyReport is the monthly-report clock: from the start day of the
	// month after the report's month, the report is due within this many
	// business days (seed 000: 10営業日).
	MonthlyReport int
}

// Exclusion is a period excluded from SLO attainment, with its reason.
type Exclusion struct {
	From, To time.Time
	Reason   string
}

// Excluded returns the exclusion covering t, if any.
func (s SLO) Excluded(t time.Time) (Exclusion, bool) {
	for _, e := range s.Exclude {
		if !t.Before(e.From) && t.Before(e.To) {
			return e, true
		}
	}
	return Exclusion{}, false
}

// DefaultSLO are the targets of a tenant file without an slo section.
func DefaultSLO() SLO {
	return SLO{Notification: 2 * time.Hour, FirstResponse: map[alert.Priority]time.Duration{
		alert.P0: 10 * time.Minute, alert.P1: time.Hour, alert.P2: time.Hour, alert.P3: time.Hour},
		WarnAt: []int{50, 80}, PCR: 5, StartDay: 1, MonthlyReport: 10}
}

// Source is one alert feed of the tenant: a vendor product reached by its API
// (URL and credentials) or pushing to bannin's webhook, or both. The secrets
// read from files never appear in JSON or in fmt output (see String).
type Source struct {
	Name   string // unique within the tenant: [a-z0-9-]
	Vendor string // the connector registry name

	// WebhookSecretFile, when set, enables POST /v1/ingest/<tenant>/<source>;
	// WebhookSecret is its content with surrounding white space removed.
	WebhookSecretFile string
	WebhookSecret     []byte `json:"-"`

	URL              string // vendor API base URL; empty in replay and demo
	ClientIDFile     string
	ClientSecretFile string
	ClientID         string `json:"-"` // read from ClientIDFile
	ClientSecret     string `json:"-"` // read from ClientSecretFile
	Poll             time.Duration

	// Syslog sources (vendor syslog) listen on their own addresses:
	// ListenUDP, ListenTCP and ListenTLS (with TLSCertFile and TLSKeyFile).
	ListenUDP, ListenTCP, ListenTLS string
	TLSCertFile, TLSKeyFile         string
	// AllowedPeers limits which networks may send to a syslog source, or
	// connect to the SMTP listener for a mail source; empty allows all.
	AllowedPeers []netip.Prefix
	// Mail sources (vendor mail) take alert mails sent to MailAddress
	// from AllowedSenders (addresses, or @domain for a whole domain).
	MailAddress    string
	AllowedSenders []string
}

// Listens reports whether the source receives pushes on its own listener
// (syslog) rather than pulling or taking webhooks.
func (s Source) Listens() bool { return s.ListenUDP != "" || s.ListenTCP != "" || s.ListenTLS != "" }

// String describes the source without its secrets, so that logging a tenant
// never leaks them.
func (s Source) String() string {
	return fmt.Sprintf("{Name:%s Vendor:%s URL:%s WebhookSecretFile:%s Poll:%s Listen:%s/%s/%s MailAddress:%s}",
		s.Name, s.Vendor, s.URL, s.WebhookSecretFile, s.Poll, s.ListenUDP, s.ListenTCP, s.ListenTLS, s.MailAddress)
}

// Mode is how eagerly bannin isolates an endpoint.
type Mode string

// The containment modes of seed 001/002.
const (
	IsolateFirst     Mode = "isolate_first"     // isolate at once, investigate after
	InvestigateFirst Mode = "investigate_first" // an analyst decides every isolation
	Hybrid           Mode = "hybrid"            // isolate at once except critical hosts
)

// Containment is the tenant's isolation rule.
type Containment struct {
	Mode Mode
	// MinSeverity is the lowest severity that may isolate automatically.
	MinSeverity string
}

// AllowEntry is one allowlist (PCR) result. An alert matches when every
// matcher that is set matches; Hosts, when present, restricts the entry to
// hosts matching one of its globs.
type AllowEntry struct {
	SHA256      string // lower-case hex
	ProcessName string // compared case-insensitively
	CommandLine string // contained in the alert's normalised command line
	Hosts       []string
	Rule        string // the vendor's rule id, exactly
	Reason      string // kept with every suppression it causes
}

// Via is a notification channel.
type Via string

// The channels a route may use.
const (
	ViaEmail   Via = "email"
	ViaPhone   Via = "phone"
	ViaSlack   Via = "slack"
	ViaWebhook Via = "webhook"
)

// Contact is a person or list the tenant wants told. Each channel has its own
// address; Language overrides the tenant's.
type Contact struct {
	Name     string
	Email    string
	Phone    string
	Slack    string // Slack incoming-webhook URL
	Webhook  string
	Language string
}

// Address returns the contact's address for a channel, or "".
func (c Contact) Address(v Via) string {
	switch v {
	case ViaEmail:
		return c.Email
	case ViaPhone:
		return c.Phone
	case ViaSlack:
		return c.Slack
	case ViaWebhook:
		return c.Webhook
	}
	return ""
}

// Route sends incidents of the listed severities to its recipients, then,
// while nobody acknowledges the incident, along its escalation chain.
type Route struct {
	Severities []string
	To         []Recipient
	// Escalate are the chain's further steps, each After the one before.
	Escalate []Step
	// Repeat is how many more times the whole chain (To, then every step)
	// runs while the incident stays unacknowledged; RepeatAfter is the wait
	// after the last step before it starts again (default: the last
	// step's After).
	Repeat      int
	RepeatAfter time.Duration
}

// Step is one escalation step: After the previous step, notify To unless
// the incident has been acknowledged. A step with Hours set runs only
// within those hours (Japanese holidays and 12/29–1/3 off) and is
// skipped, with a note in the audit log, outside them.
type Step struct {
	After time.Duration
	To    []Recipient
	// Hours is a service_hours value; empty means at any time.
	Hours  string
	Window Hours
}

// Chain returns every step of the route's chain with its offset from the
// chain's start, over all rounds: step 0 of each round is To.
func (r Route) Chain() []ChainStep {
	var out []ChainStep
	at := time.Duration(0)
	for round := 0; round <= r.Repeat; round++ {
		if round > 0 {
			wait := r.RepeatAfter
			if wait == 0 && len(r.Escalate) > 0 {
				wait = r.Escalate[len(r.Escalate)-1].After
			}
			if wait <= 0 {
				break // nothing to wait for: repeating would notify at once
			}
			at += wait
		}
		out = append(out, ChainStep{Round: round, Step: 0, Offset: at, First: true, To: r.To})
		for i, s := range r.Escalate {
			at += s.After
			out = append(out, ChainStep{Round: round, Step: i + 1, Offset: at, To: s.To, Hours: s.Hours, Window: s.Window})
		}
	}
	return out
}

// ChainStep is one notification point of an escalation chain.
type ChainStep struct {
	Round, Step int
	Offset      time.Duration // from the chain's start
	First       bool          // step 0: the route's own recipients
	To          []Recipient
	Hours       string
	Window      Hours
}

// Recipient names a contact and the channel to reach it by.
type Recipient struct {
	Contact string
	Via     Via
}

// Rule is a tenant rule: when the CEL expression When holds, Set applies.
type Rule struct {
	Name string
	When string // CEL over alert, incident, asset and time; must be bool
	Set  Outcome
	Line int // line of When in the tenant file, for messages
}

// Outcome is what a matching rule sets. Empty fields leave the value alone.
type Outcome struct {
	Severity string
	Priority alert.Priority
	Suppress bool
	Reason   string
}

// Asset roles of seed M4.
const (
	RolePC       = "pc"
	RoleServer   = "server"
	RoleBusiness = "business"
)

// Asset is what the tenant tells about some of its hosts.
type Asset struct {
	Host     string // host-name glob
	Role     string // pc, server or business
	Critical bool   // treated as a critical host
	Groups   []string
}

// Hours is a parsed service_hours value.
type Hours struct {
	Always bool // 24x7
	// Start and End bound the weekday service window, as offsets from
	// midnight in the tenant's zone; zero when Always.
	Start, End time.Duration
}

// Source returns the tenant's source with the given name.
func (t *Tenant) Source(name string) (*Source, bool) {
	for i := range t.Sources {
		if t.Sources[i].Name == name {
			return &t.Sources[i], true
		}
	}
	return nil, false
}

// IsCritical reports whether a host is never isolated without a human: its
// name matches critical_hosts, or an asset marked critical.
func (t *Tenant) IsCritical(hostName string) bool {
	if MatchHost(t.CriticalHosts, hostName) {
		return true
	}
	a, ok := t.Asset(hostName)
	return ok && a.Critical
}

// Asset returns the first asset whose host glob matches hostName.
func (t *Tenant) Asset(hostName string) (Asset, bool) {
	for _, a := range t.Assets {
		if MatchHost([]string{a.Host}, hostName) {
			return a, true
		}
	}
	return Asset{}, false
}

// MatchHost reports whether hostName matches one of the globs. Matching is
// case-insensitive and tries both the short name (up to the first dot) and
// the full name, so "srv-*" matches "SRV-01.corp.example".
func MatchHost(patterns []string, hostName string) bool {
	full := strings.ToLower(strings.TrimSpace(hostName))
	if full == "" {
		return false
	}
	short := alert.HostKey(alert.Host{Name: hostName})
	for _, p := range patterns {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, short); ok {
			return true
		}
		if ok, _ := path.Match(p, full); ok && full != short {
			return true
		}
	}
	return false
}
