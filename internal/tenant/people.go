package tenant

import (
	"net/mail"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/alert"
)

var contactKeys = []string{"name", "email", "phone", "slack", "webhook", "language"}

func (d *decoder) contacts(n *yaml.Node) map[string]Contact {
	out := map[string]Contact{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "contacts: want a mapping of contact names")
		return out
	}
	names := d.fields(n, "contacts") // nil keys: any name
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if names[k.Value] != v {
			continue // a duplicate or bad key, already reported
		}
		if !contactPattern.MatchString(k.Value) {
			d.errorf(k, "contact name %q: want lower-case letters, digits, -, _ and .", k.Value)
		}
		out[k.Value] = d.contact(k.Value, v)
	}
	return out
}

func (d *decoder) contact(name string, n *yaml.Node) Contact {
	f := d.fields(n, "contact "+name, contactKeys...)
	c := Contact{
		Name:     d.str(f["name"], "name"),
		Email:    d.str(f["email"], "email"),
		Phone:    d.str(f["phone"], "phone"),
		Slack:    d.str(f["slack"], "slack"),
		Webhook:  d.str(f["webhook"], "webhook"),
		Language: d.str(f["language"], "language"),
	}
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			d.errorf(f["email"], "email %q: want an address such as soc@example.com", c.Email)
		}
	}
	if c.Phone != "" && !phonePattern.MatchString(c.Phone) {
		d.errorf(f["phone"], "phone %q: want digits, spaces, - and an optional leading +", c.Phone)
	}
	if c.Slack != "" && !isURL(c.Slack, "https") {
		d.errorf(f["slack"], "slack %q: want an https incoming-webhook URL", c.Slack)
	}
	if c.Webhook != "" && !isURL(c.Webhook, "http", "https") {
		d.errorf(f["webhook"], "webhook %q: want an absolute http or https URL", c.Webhook)
	}
	if c.Language != "" {
		d.oneOf(f["language"], "language", c.Language, "ja", "en")
	}
	if c.Email == "" && c.Phone == "" && c.Slack == "" && c.Webhook == "" {
		d.errorf(n, "contact %q: want at least one of email, phone, slack, webhook", name)
	}
	return c
}

var vias = []string{string(ViaEmail), string(ViaPhone), string(ViaSlack), string(ViaWebhook)}

// routes decodes notify. A severity in two routes is an error: the first
// route always wins, so the second would never fire for it.
func (d *decoder) routes(n *yaml.Node, contacts map[string]Contact) []Route {
	var out []Route
	routed := map[string]int{}
	for _, item := range d.seq(n, "notify") {
		f := d.fields(item, "route", "severities", "to", "escalate", "repeat", "repeat_after")
		d.require(item, f, "severities", "to")
		var r Route
		for _, s := range d.seq(f["severities"], "severities") {
			v := d.str(s, "severities")
			if !d.severity(s, "severity", v) {
				continue
			}
			if routed[v] != 0 {
				d.errorf(s, "severity %q already routed on line %d (first matching route wins)", v, routed[v])
			}
			routed[v] = s.Line
			r.Severities = append(r.Severities, v)
		}
		for _, to := range d.seq(f["to"], "to") {
			r.To = append(r.To, d.recipient(to, contacts))
		}
		for _, st := range d.seq(f["escalate"], "escalate") {
			r.Escalate = append(r.Escalate, d.step(st, contacts))
		}
		if v := f["repeat"]; !isNull(v) {
			r.Repeat = d.count(v, "repeat", 0, 10)
			if len(r.Escalate) == 0 && r.Repeat > 0 && isNull(f["repeat_after"]) {
				d.errorf(v, "repeat: a route without escalate steps needs repeat_after (how long to wait before notifying again)")
			}
		}
		if v := f["repeat_after"]; !isNull(v) {
			r.RepeatAfter = d.budget(v, "repeat_after")
			if r.Repeat == 0 {
				d.errorf(v, "repeat_after: set repeat as well (how many more rounds)")
			}
		}
		out = append(out, r)
	}
	return out
}

// step decodes one escalation step: after (a positive duration), to, and
// optionally hours (a service_hours value) outside which it is skipped.
func (d *decoder) step(n *yaml.Node, contacts map[string]Contact) Step {
	f := d.fields(n, "escalation step", "after", "to", "hours")
	d.require(n, f, "after", "to")
	var s Step
	if !isNull(f["after"]) {
		s.After = d.budget(f["after"], "after")
	}
	for _, to := range d.seq(f["to"], "to") {
		s.To = append(s.To, d.recipient(to, contacts))
	}
	if v := f["hours"]; !isNull(v) {
		s.Hours = d.str(v, "hours")
		h, err := ParseServiceHours(s.Hours)
		if err != nil {
			d.errorf(v, "hours: %v", err)
		}
		s.Window = h
	}
	return s
}

// count reads an integer between lo and hi.
func (d *decoder) count(n *yaml.Node, key string, lo, hi int) int {
	v := d.str(n, key)
	k, err := strconv.Atoi(v)
	if err != nil || k < lo || k > hi {
		d.errorf(n, "%s %q: want a whole number from %d to %d", key, v, lo, hi)
		return 0
	}
	return k
}

func (d *decoder) recipient(n *yaml.Node, contacts map[string]Contact) Recipient {
	f := d.fields(n, "recipient", "contact", "via")
	d.require(n, f, "contact", "via")
	r := Recipient{Contact: d.str(f["contact"], "contact"), Via: Via(d.str(f["via"], "via"))}
	if r.Via != "" && !d.oneOf(f["via"], "via", string(r.Via), vias...) {
		return r
	}
	c, ok := contacts[r.Contact]
	switch {
	case r.Contact == "":
	case !ok:
		d.errorf(f["contact"], "contact %q: not in contacts", r.Contact)
	case r.Via != "" && c.Address(r.Via) == "":
		d.errorf(f["via"], "contact %q has no %s", r.Contact, r.Via)
	}
	return r
}

func (d *decoder) rules(n *yaml.Node) []Rule {
	var out []Rule
	first := map[string]int{}
	for _, item := range d.seq(n, "rules") {
		f := d.fields(item, "rule", "name", "when", "set")
		d.require(item, f, "name", "when", "set")
		r := Rule{Name: d.str(f["name"], "name"), When: d.str(f["when"], "when"), Set: d.outcome(f["set"])}
		if r.Name != "" {
			if first[r.Name] != 0 {
				d.errorf(f["name"], "rule name %q used twice (first on line %d)", r.Name, first[r.Name])
			}
			first[r.Name] = f["name"].Line
		}
		if w := f["when"]; w != nil {
			r.Line = w.Line
			if r.When != "" && r.Name != "" && d.o.ruleCheck != nil {
				if err := d.o.ruleCheck(r); err != nil {
					d.errorf(w, "rule %q: %v", r.Name, err)
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func (d *decoder) outcome(n *yaml.Node) Outcome {
	f := d.fields(n, "set", "severity", "priority", "suppress", "reason")
	o := Outcome{
		Severity: d.str(f["severity"], "severity"),
		Suppress: d.boolean(f["suppress"], "suppress"),
		Reason:   d.str(f["reason"], "reason"),
	}
	if o.Severity != "" {
		d.severity(f["severity"], "severity", o.Severity)
	}
	if p := d.str(f["priority"], "priority"); p != "" {
		var err error
		if o.Priority, err = alert.ParsePriority(p); err != nil {
			d.errorf(f["priority"], "%v", err)
		}
	}
	if n != nil && n.Kind == yaml.MappingNode && o.Severity == "" && isNull(f["priority"]) && !o.Suppress {
		d.errorf(n, "set: want at least one of severity, priority, suppress: true")
	}
	return o
}

func (d *decoder) assets(n *yaml.Node) []Asset {
	var out []Asset
	for _, item := range d.seq(n, "assets") {
		f := d.fields(item, "asset", "host", "role", "critical", "groups")
		d.require(item, f, "host")
		a := Asset{
			Role:     strings.TrimSpace(d.str(f["role"], "role")),
			Critical: d.boolean(f["critical"], "critical"),
			Groups:   d.strs(f["groups"], "groups"),
		}
		if !isNull(f["host"]) {
			a.Host = d.glob(f["host"], "host")
		}
		if a.Role != "" {
			d.oneOf(f["role"], "role", a.Role, RolePC, RoleServer, RoleBusiness)
		}
		out = append(out, a)
	}
	return out
}
