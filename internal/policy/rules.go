package policy

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/ext"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// Bounds on tenant rules: the file is written by people at a customer, and
// one rule must never stall triage.
const (
	// CostLimit bounds one evaluation (CEL cost units); the rules of
	// DESIGN.md cost well under 100.
	CostLimit = 100_000
	// MaxRuleLength bounds the text of a when expression.
	MaxRuleLength = 4096
)

// RuleInput is what a rule sees: the alert, the incident it joins, what the
// tenant says about the host, and the time in the tenant's zone.
type RuleInput struct {
	Alert    *alert.Alert
	Incident IncidentFacts
	Asset    AssetFacts
	Time     time.Time
}

// IncidentFacts are the incident's values before the rule applies.
type IncidentFacts struct {
	Priority   alert.Priority
	Severity   string
	Hosts      []string
	AlertCount int
}

// AssetFacts are what the tenant file says about the alert's host.
type AssetFacts struct {
	Critical bool
	Role     string // pc, server, business or ""
}

// Effect is what one matching rule sets; empty fields leave a value alone.
type Effect struct {
	Rule     string
	Severity string
	Priority alert.Priority
	Suppress bool
	Reason   string
}

type compiled struct {
	rule tenant.Rule
	prg  cel.Program
}

// env is the one CEL environment every rule compiles in: the four variables
// as map(string, dyn), so `alert.host.name == "fs01"` reads naturally.
var env = sync.OnceValues(func() (*cel.Env, error) {
	m := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("alert", m),
		cel.Variable("incident", m),
		cel.Variable("asset", m),
		cel.Variable("time", m),
		ext.Strings(),
		cel.ParserExpressionSizeLimit(MaxRuleLength),
	)
})

// RuleCheck compiles a rule's expression and reports why it cannot run. Pass
// it to tenant.WithRuleCheck so a bad rule fails the tenant file with its
// line.
func RuleCheck(r tenant.Rule) error {
	_, err := compile(r)
	return err
}

func compile(r tenant.Rule) (cel.Program, error) {
	if len(r.When) > MaxRuleLength {
		return nil, fmt.Errorf("when has %d characters: want at most %d", len(r.When), MaxRuleLength)
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("rule environment: %w", err)
	}
	ast, iss := e.CompileSource(common.NewStringSource(r.When, "when"))
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("when is of type %s: want bool (a condition)", t)
	}
	return e.Program(ast, cel.CostLimit(CostLimit))
}

// Rules evaluates every tenant rule in file order and returns the effects of
// those that hold. A rule that fails to evaluate is skipped and named in the
// returned error; the effects returned alongside it are still valid, so
// callers log the error and go on.
func (p *Policy) Rules(in RuleInput) ([]Effect, error) {
	if len(p.rules) == 0 {
		return nil, nil
	}
	vars := p.activation(in)
	var out []Effect
	var errs []error
	for _, c := range p.rules {
		v, _, err := c.prg.Eval(vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %w", c.rule.Name, err))
			continue
		}
		hit, ok := v.Value().(bool)
		if !ok {
			errs = append(errs, fmt.Errorf("rule %q: result %v is not a bool", c.rule.Name, v))
			continue
		}
		if hit {
			s := c.rule.Set
			out = append(out, Effect{Rule: c.rule.Name, Severity: s.Severity,
				Priority: s.Priority, Suppress: s.Suppress, Reason: s.Reason})
		}
	}
	return out, errors.Join(errs...)
}

// activation lays the input out as the rules' variables. Every key is always
// present (empty when unknown), so rules never fail on a missing field.
func (p *Policy) activation(in RuleInput) map[string]any {
	a := in.Alert
	if a == nil {
		a = &alert.Alert{}
	}
	when := in.Time
	if p.t.Location != nil {
		when = when.In(p.t.Location)
	}
	return map[string]any{
		"alert": alertVars(a),
		"incident": map[string]any{
			"priority":    string(in.Incident.Priority),
			"severity":    in.Incident.Severity,
			"hosts":       strs(in.Incident.Hosts),
			"alert_count": int64(in.Incident.AlertCount),
		},
		"asset": map[string]any{"critical": in.Asset.Critical, "role": in.Asset.Role},
		"time": map[string]any{
			"hour":      int64(when.Hour()),
			"minute":    int64(when.Minute()),
			"weekday":   int64(when.Weekday()), // 0 = Sunday, as CEL's getDayOfWeek
			"timestamp": when,
		},
	}
}

func alertVars(a *alert.Alert) map[string]any {
	return map[string]any{
		"vendor": a.Vendor,
		"source": a.Source,
		"rule":   a.Rule,
		"title":  a.Title,
		"host": map[string]any{
			"name":   a.Host.Name,
			"id":     a.Host.ID,
			"ips":    strs(a.Host.IPs),
			"groups": strs(a.Host.Groups),
			"role":   a.Host.Role,
		},
		"user": a.User,
		"process": map[string]any{
			"name":         a.Process.Name,
			"path":         a.Process.Path,
			"command_line": a.Process.CommandLine,
			"sha256":       a.Process.SHA256,
		},
		"techniques":      strs(a.Techniques),
		"tactics":         strs(a.Tactics),
		"score":           int64(a.Score),
		"vendor_severity": a.VendorSeverity,
		"vendor_action":   string(a.Action),
	}
}

// strs never returns nil, so that a rule sees an empty list, not null.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
