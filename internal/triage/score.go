package triage

import (
	"fmt"
	"strings"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// techniqueClass is what a technique says about an alert, for scoring and
// for seed 003's priorities.
type techniqueClass struct {
	prefixes []string
	priority alert.Priority
	bonus    int
	label    string
}

// classes follow DESIGN.md's default judgement. Sub-techniques match by
// prefix (T1003.001 is credential dumping).
var classes = []techniqueClass{
	{[]string{"T1486", "T1490", "T1485", "T1489", "T1561", "T1491"}, alert.P0, 25, "ransomware / destructive impact"},
	{[]string{"T1003", "T1555", "T1558", "T1552", "T1110", "T1212"}, alert.P1, 10, "credential theft"},
	{[]string{"T1021", "T1570", "T1550", "T1563", "T1210", "T1534"}, alert.P1, 10, "lateral movement"},
	{[]string{"T1566", "T1071", "T1105", "T1059", "T1204", "T1573", "T1095", "T1219"}, alert.P2, 5, "malware, phishing or C2"},
}

// Tactic ids that on their own say credential theft or spreading.
var p1Tactics = map[string]string{"TA0006": "credential access", "TA0008": "lateral movement"}

// judgement is the outcome of scoring one alert.
type judgement struct {
	score    int
	priority alert.Priority
	evidence []ticket.Evidence
}

func (j *judgement) add(signal string, contribution int, format string, args ...any) {
	j.score += contribution
	j.evidence = append(j.evidence, ticket.Evidence{Signal: signal, Contribution: contribution, Detail: fmt.Sprintf(format, args...)})
}

// facts is what the tenant's state says about an alert.
type facts struct {
	critical     bool
	spreadHosts  int // other hosts with the same suspicious hash
	prevHosts    int // hosts the same pattern fired on in the prevalence window
	prevDays     int
	prevalenceOK bool // prevalence counted (not skipped)
}

// Prevalence thresholds: a pattern on this many hosts on this many days is a
// pattern of the estate, not an attack, unless the vendor rates it high.
const (
	noiseHosts    = 5
	noiseDays     = 3
	noiseMaxScore = 69
)

// isNoise reports whether an alert is widespread, recurring and only medium.
func (f facts) isNoise(vendorScore int) bool {
	return f.prevalenceOK && f.prevHosts >= noiseHosts && f.prevDays >= noiseDays && vendorScore <= noiseMaxScore
}

// score judges one alert: the vendor's rating moved by technique, what the
// product already did, asset criticality, prevalence and spread.
func score(a *alert.Alert, f facts) judgement {
	j := judgement{priority: alert.P3}
	j.add("vendor_severity", a.Score, "%s rated it %s (→ %d/100)", a.Vendor, orDash(a.VendorSeverity), a.Score)
	j.priority = classify(a, &j)
	if a.Action.Mitigated() {
		j.add("vendor_action", -15, "%s already %s it", a.Vendor, a.Action)
	}
	if f.critical {
		j.add("asset", 10, "host %s is on the tenant's critical_hosts list", alert.HostKey(a.Host))
		if j.priority != alert.P0 && a.Score >= 70 && !a.Action.Mitigated() {
			j.priority = alert.P0
			j.evidence = append(j.evidence, ticket.Evidence{Signal: "priority", Detail: "unmitigated high-rated activity on a critical server: P0"})
		}
	}
	if f.isNoise(a.Score) {
		j.add("prevalence", -30, "the same detection fired on %d hosts over %d days: an estate-wide pattern, not spread", f.prevHosts, f.prevDays)
		j.priority = alert.P3
	} else if f.spreadHosts > 0 {
		j.add("lateral_spread", 15, "the same SHA-256 %s was seen on %d other host(s)", short(a.SuspiciousHash()), f.spreadHosts)
		j.priority = j.priority.Higher(alert.P1)
	}
	if j.priority == alert.P3 && a.Score >= 55 && !a.Action.Mitigated() && !f.isNoise(a.Score) {
		j.priority = alert.P2
	}
	j.score = alert.Clamp(j.score)
	return j
}

// classify sets the priority from techniques and tactics and adds their
// evidence.
func classify(a *alert.Alert, j *judgement) alert.Priority {
	p := alert.P3
	for _, c := range classes {
		for _, t := range a.Techniques {
			if hasPrefix(t, c.prefixes) {
				j.add("technique", c.bonus, "%s: %s", t, c.label)
				p = p.Higher(c.priority)
				break
			}
		}
	}
	for _, t := range a.Tactics {
		if name, ok := p1Tactics[strings.ToUpper(t)]; ok && p.Rank() > 1 {
			j.add("tactic", 5, "%s: %s", t, name)
			p = p.Higher(alert.P1)
		}
	}
	return p
}

func hasPrefix(t string, prefixes []string) bool {
	t = strings.ToUpper(t)
	for _, p := range prefixes {
		if t == p || strings.HasPrefix(t, p+".") {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
