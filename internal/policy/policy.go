// Package policy turns a tenant's file into decisions: whether an alert is
// allowlisted, what its rules change, whether a host may be isolated at once,
// who is told and whether a human is needed. Every decision says why in
// plain English, so that an analyst can read it back.
package policy

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// Policy is a tenant's rules compiled for use. It is safe for concurrent use
// and never changes; a new tenant version gets a new Policy.
type Policy struct {
	t     *tenant.Tenant
	rules []compiled
}

// New compiles the tenant's rules. Parse the tenant with
// tenant.WithRuleCheck(RuleCheck) to get the same errors with line numbers.
func New(t *tenant.Tenant) (*Policy, error) {
	if t == nil {
		return nil, errors.New("policy: nil tenant")
	}
	p := &Policy{t: t}
	var errs []error
	for _, r := range t.Rules {
		prg, err := compile(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: line %d: rule %q: %w", t.ID, r.Line, r.Name, err))
			continue
		}
		p.rules = append(p.rules, compiled{rule: r, prg: prg})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Tenant returns the tenant the policy was compiled from.
func (p *Policy) Tenant() *tenant.Tenant { return p.t }

// Allowed reports whether an allowlist entry covers the alert, and the
// entry's reason. Within an entry every matcher given must match: sha256
// equal, process name equal ignoring case, command line contained in the
// alert's (both normalised), vendor rule id equal; hosts, when given,
// restrict the entry to matching hosts.
func (p *Policy) Allowed(a *alert.Alert) (reason string, ok bool) {
	if a == nil {
		return "", false
	}
	for _, e := range p.t.Allowlist {
		if allowMatch(e, a) {
			return e.Reason, true
		}
	}
	return "", false
}

func allowMatch(e tenant.AllowEntry, a *alert.Alert) bool {
	if e.SHA256 != "" && !strings.EqualFold(e.SHA256, a.Process.SHA256) {
		return false
	}
	if e.ProcessName != "" && !strings.EqualFold(e.ProcessName, processName(a.Process)) {
		return false
	}
	if e.CommandLine != "" && !strings.Contains(
		alert.NormalizeCommandLine(a.Process.CommandLine), alert.NormalizeCommandLine(e.CommandLine)) {
		return false
	}
	if e.Rule != "" && e.Rule != a.Rule {
		return false
	}
	if len(e.Hosts) > 0 && !tenant.MatchHost(e.Hosts, a.Host.Name) {
		return false
	}
	return e.SHA256 != "" || e.ProcessName != "" || e.CommandLine != "" || e.Rule != ""
}

// processName is the image's file name, taken from the path when the vendor
// sent no name (Windows or POSIX separators).
func processName(p alert.Process) string {
	if p.Name != "" {
		return p.Name
	}
	return path.Base(strings.ReplaceAll(p.Path, `\`, "/"))
}

// Action is what containment does with a host.
type Action string

// The containment actions.
const (
	Isolate Action = "isolate" // isolate now through the vendor's API
	Approve Action = "approve" // hold the isolation for a human's approval
	None    Action = "none"    // no automatic isolation
)

// Decision is a containment decision and why it was taken.
type Decision struct {
	Action Action
	Reason string
}

// Containment decides what to do with a host for an incident of the given
// severity: below containment.min_severity nothing; a critical host, or a
// host without a name when the tenant lists critical hosts, always waits for
// a human; otherwise the mode decides.
func (p *Policy) Containment(severity, hostName string) Decision {
	c, s := p.t.Containment, p.t.SeverityScale
	if s.Index(severity) < 0 {
		return Decision{None, fmt.Sprintf("severity %q is not on the tenant's scale: no automatic isolation", severity)}
	}
	if !s.AtLeast(severity, c.MinSeverity) {
		return Decision{None, fmt.Sprintf("severity %s below min_severity %s: no automatic isolation", severity, c.MinSeverity)}
	}
	if strings.TrimSpace(hostName) == "" && (len(p.t.CriticalHosts) > 0 || len(p.t.Assets) > 0) {
		return Decision{Approve, "host name unknown: it may be a critical host, so isolation waits for a human"}
	}
	if by := p.criticalBy(hostName); by != "" {
		return Decision{Approve, fmt.Sprintf("critical host %s is never isolated without a human (%s)", hostName, by)}
	}
	switch c.Mode {
	case tenant.IsolateFirst:
		return Decision{Isolate, fmt.Sprintf("isolate_first: severity %s ≥ min_severity %s → isolate at once", severity, c.MinSeverity)}
	case tenant.InvestigateFirst:
		return Decision{Approve, "investigate_first: isolation waits for an analyst"}
	}
	return Decision{Isolate, fmt.Sprintf("hybrid mode: severity %s ≥ min_severity %s → isolate at once", severity, c.MinSeverity)}
}

// criticalBy names the tenant-file key that makes a host critical, or "".
func (p *Policy) criticalBy(hostName string) string {
	if tenant.MatchHost(p.t.CriticalHosts, hostName) {
		return "critical_hosts"
	}
	if a, ok := p.t.Asset(hostName); ok && a.Critical {
		return "assets"
	}
	return ""
}

// Asset returns what the tenant file says about a host, for RuleInput: its
// criticality, and its role from assets, else the vendor's role.
func (p *Policy) Asset(h alert.Host) AssetFacts {
	f := AssetFacts{Critical: p.criticalBy(h.Name) != "", Role: h.Role}
	if a, ok := p.t.Asset(h.Name); ok && a.Role != "" {
		f.Role = a.Role
	}
	return f
}

// Recipient is one resolved notification target.
type Recipient struct {
	ContactName string
	Via         tenant.Via
	Address     string // e-mail address, phone number or URL, by Via
	Language    string // the contact's language, else the tenant's
}

// Routes returns who to tell about an incident of the given severity: the
// recipients of the first route listing it, or nil.
func (p *Policy) Routes(severity string) []Recipient {
	for _, r := range p.t.Notify {
		for _, s := range r.Severities {
			if s == severity {
				return p.Resolve(r.To)
			}
		}
	}
	return nil
}

// Resolve gives recipients their addresses and languages.
func (p *Policy) Resolve(to []tenant.Recipient) []Recipient {
	out := make([]Recipient, 0, len(to))
	for _, r := range to {
		c := p.t.Contacts[r.Contact]
		lang := c.Language
		if lang == "" {
			lang = p.t.Language
		}
		out = append(out, Recipient{ContactName: r.Contact, Via: r.Via, Address: c.Address(r.Via), Language: lang})
	}
	return out
}

// NeedsHuman reports whether an incident of the given severity is at or
// above attention_min_severity; below it goes to the monthly report. A
// severity not on the scale needs a human: when in doubt, show it.
func (p *Policy) NeedsHuman(severity string) bool {
	s := p.t.SeverityScale
	return s.Index(severity) < 0 || s.AtLeast(severity, p.t.AttentionMinSeverity)
}
