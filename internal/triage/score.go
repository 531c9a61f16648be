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
	labelJA  string
}

// classes follow DESIGN.md's default judgement. Sub-techniques match by
// prefix (T1003.001 is credential dumping).
var classes = []techniqueClass{
	{[]string{"T1486", "T1490", "T1485", "T1489", "T1561", "T1491"}, alert.P0, 25, "ransomware / destructive impact", "ランサムウェア・破壊的な影響"},
	{[]string{"T1003", "T1555", "T1558", "T1552", "T1110", "T1212"}, alert.P1, 10, "credential theft", "認証情報の窃取"},
	{[]string{"T1021", "T1570", "T1550", "T1563", "T1210", "T1534"}, alert.P1, 10, "lateral movement", "横展開"},
	{[]string{"T1566", "T1071", "T1105", "T1059", "T1204", "T1573", "T1095", "T1219"}, alert.P2, 5, "malware, phishing or C2", "マルウェア・フィッシング・C2 通信"},
}

// Tactic ids that on their own say credential theft or spreading, with
// their names in English and Japanese.
var p1Tactics = map[string][2]string{"TA0006": {"credential access", "認証情報へのアクセス"}, "TA0008": {"lateral movement", "横展開"}}

// judgement is the outcome of scoring one alert.
type judgement struct {
	score    int
	priority alert.Priority
	evidence []ticket.Evidence
}

// add records a signal's contribution with its detail in English and
// Japanese (customers read the evidence in their notices).
func (j *judgement) add(signal string, contribution int, en, ja string) {
	j.score += contribution
	j.evidence = append(j.evidence, ticket.Evidence{Signal: signal, Contribution: contribution, Detail: en, DetailJA: ja})
}

// facts is what the tenant's state says about an alert.
type facts struct {
	critical     bool
	spreadHosts  int // other hosts with the same suspicious hash
	prevHosts    int // hosts the same pattern fired on in the prevalence window
	prevDays     int
	prevalenceOK bool // prevalence counted (not skipped)
	hostVia      *hostMatch
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
	j.add("vendor_severity", a.Score,
		fmt.Sprintf("%s rated it %s (→ %d/100)", a.Vendor, orDash(a.VendorSeverity), a.Score),
		fmt.Sprintf("%s の評価 %s（→ %d/100）", a.Vendor, orDash(a.VendorSeverity), a.Score))
	j.priority = classify(a, &j)
	if m := f.hostVia; m != nil {
		j.add("host_match", 0, fmt.Sprintf("the alert names only the address %s; %s last saw host %s there", m.ip, m.vendor, m.host),
			fmt.Sprintf("アラートにはアドレス %s のみ。%s が最後にこのアドレスで確認したホストは %s", m.ip, m.vendor, m.host))
	}
	if a.Action.Mitigated() {
		j.add("vendor_action", -15, fmt.Sprintf("%s already %s it", a.Vendor, a.Action),
			fmt.Sprintf("%s が対処済み（%s）", a.Vendor, actionJA[a.Action]))
	}
	if f.critical {
		j.add("asset", 10, fmt.Sprintf("host %s is on the tenant's critical_hosts list", alert.HostKey(a.Host)),
			fmt.Sprintf("%s は重要ホスト（critical_hosts）です", alert.HostKey(a.Host)))
		if j.priority != alert.P0 && a.Score >= 70 && !a.Action.Mitigated() {
			j.priority = alert.P0
			j.evidence = append(j.evidence, ticket.Evidence{Signal: "priority", Detail: "unmitigated high-rated activity on a critical server: P0",
				DetailJA: "重要サーバ上で未対処の高評価の活動: P0"})
		}
	}
	if f.isNoise(a.Score) {
		j.add("prevalence", -30,
			fmt.Sprintf("the same detection fired on %d hosts over %d days: an estate-wide pattern, not spread", f.prevHosts, f.prevDays),
			fmt.Sprintf("同じ検知が %d 台・%d 日にわたり発生: 環境全体の定常的なパターンで、横展開ではありません", f.prevHosts, f.prevDays))
		j.priority = alert.P3
	} else if f.spreadHosts > 0 {
		j.add("lateral_spread", 15,
			fmt.Sprintf("the same SHA-256 %s was seen on %d other host(s)", short(a.SuspiciousHash()), f.spreadHosts),
			fmt.Sprintf("同じ SHA-256 %s を他の %d 台でも検知", short(a.SuspiciousHash()), f.spreadHosts))
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
				j.add("technique", c.bonus, t+": "+c.label, t+": "+c.labelJA)
				p = p.Higher(c.priority)
				break
			}
		}
	}
	for _, t := range a.Tactics {
		if name, ok := p1Tactics[strings.ToUpper(t)]; ok && p.Rank() > 1 {
			j.add("tactic", 5, t+": "+name[0], t+": "+name[1])
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

// actionJA names what the product did, in Japanese.
var actionJA = map[alert.Action]string{alert.ActionBlocked: "ブロック", alert.ActionKilled: "プロセス停止", alert.ActionQuarantined: "隔離（ファイル）"}

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
