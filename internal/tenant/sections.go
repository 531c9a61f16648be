package tenant

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/alert"
)

// The top-level keys of the tenant file, in the order DESIGN.md lists them.
var topKeys = []string{
	"id", "name", "language", "timezone", "severity_scale", "service_hours",
	"attention_min_severity", "sources", "critical_hosts", "containment", "slo",
	"allowlist", "contacts", "notify", "rules", "assets",
}

var (
	namePattern    = regexp.MustCompile(`^[a-z0-9-]+$`)
	contactPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	hexPattern     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	phonePattern   = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{3,30}$`)
)

// tenant decodes the root mapping. Sections are decoded in dependency order
// (the scale before anything naming a severity, contacts before routes),
// whatever their order in the file.
func (d *decoder) tenant(root *yaml.Node) *Tenant {
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "tenant file: want a mapping of keys (id, name, …)")
		return nil
	}
	f := d.fields(root, "tenant file", topKeys...)
	d.require(root, f, "id", "name", "language", "timezone")
	t := &Tenant{
		ID:       d.str(f["id"], "id"),
		Name:     d.str(f["name"], "name"),
		Language: d.str(f["language"], "language"),
		Timezone: d.str(f["timezone"], "timezone"),
	}
	if t.ID != "" && !namePattern.MatchString(t.ID) {
		d.errorf(f["id"], "id %q: want lower-case letters, digits and -", t.ID)
	}
	if t.Language != "" {
		d.oneOf(f["language"], "language", t.Language, "ja", "en")
	}
	t.Location = d.location(f["timezone"], t.Timezone)
	t.SeverityScale = d.scaleOf(f["severity_scale"])
	d.scale = t.SeverityScale
	t.ServiceHours, t.Hours = d.serviceHours(f["service_hours"])
	t.AttentionMinSeverity = d.levelOr(f["attention_min_severity"], "attention_min_severity",
		"high", (len(d.scale)-1)/2)
	t.Sources = d.sources(f["sources"])
	t.CriticalHosts = d.globs(f["critical_hosts"], "critical_hosts")
	t.Containment = d.containment(f["containment"])
	t.Allowlist = d.allowlist(f["allowlist"])
	t.Contacts = d.contacts(f["contacts"])
	t.Notify = d.routes(f["notify"], t.Contacts)
	t.Rules = d.rules(f["rules"])
	t.Assets = d.assets(f["assets"])
	t.SLO = d.slo(f["slo"], t.Contacts, t.Location)
	return t
}

var sloKeys = []string{"notification", "first_response", "warn_at", "warn_to", "pcr", "exclude", "start_day", "monthly_report"}

// slo decodes the contract's clock targets; absent keys keep the defaults.
func (d *decoder) slo(n *yaml.Node, contacts map[string]Contact, loc *time.Location) SLO {
	s := DefaultSLO()
	f := d.fields(n, "slo", sloKeys...)
	if v := f["notification"]; !isNull(v) {
		s.Notification = d.budget(v, "notification")
	}
	if v := f["first_response"]; !isNull(v) {
		pf := d.fields(v, "first_response", "P0", "P1", "P2", "P3")
		for k, pv := range pf {
			s.FirstResponse[alert.Priority(k)] = d.budget(pv, "first_response."+k)
		}
	}
	if v := f["warn_at"]; v != nil {
		s.WarnAt = nil
		for _, w := range d.seq(v, "warn_at") {
			p := d.count(w, "warn_at", 1, 99)
			if n := len(s.WarnAt); p != 0 && n > 0 && p <= s.WarnAt[n-1] {
				d.errorf(w, "warn_at: %d%% is not above %d%%: list the warnings in ascending order, each once", p, s.WarnAt[n-1])
			}
			s.WarnAt = append(s.WarnAt, p)
		}
	}
	for _, to := range d.seq(f["warn_to"], "warn_to") {
		s.WarnTo = append(s.WarnTo, d.recipient(to, contacts))
	}
	if v := f["pcr"]; !isNull(v) {
		s.PCR = d.count(v, "pcr", 1, 60)
	}
	if v := f["start_day"]; !isNull(v) {
		s.StartDay = d.count(v, "start_day", 1, 28)
	}
	if v := f["monthly_report"]; !isNull(v) {
		s.MonthlyReport = d.count(v, "monthly_report", 1, 60)
	}
	for _, e := range d.seq(f["exclude"], "exclude") {
		s.Exclude = append(s.Exclude, d.exclusion(e, loc))
	}
	return s
}

// exclusion decodes one period left out of SLO attainment: from and to are
// RFC 3339 timestamps or dates (YYYY-MM-DD, midnight in the tenant's zone;
// to is then exclusive), and a reason is required.
func (d *decoder) exclusion(n *yaml.Node, loc *time.Location) Exclusion {
	f := d.fields(n, "exclusion", "from", "to", "reason")
	d.require(n, f, "from", "to", "reason")
	e := Exclusion{Reason: d.str(f["reason"], "reason")}
	e.From = d.instant(f["from"], "from", loc)
	e.To = d.instant(f["to"], "to", loc)
	if !e.From.IsZero() && !e.To.IsZero() && !e.From.Before(e.To) {
		d.errorf(n, "exclusion: from %s is not before to %s", e.From.Format(time.RFC3339), e.To.Format(time.RFC3339))
	}
	return e
}

func (d *decoder) instant(n *yaml.Node, key string, loc *time.Location) time.Time {
	v := d.str(n, key)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t
	}
	if loc == nil {
		loc = time.UTC
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t
	}
	d.errorf(n, "%s %q: want an RFC 3339 time (2026-10-01T09:00:00+09:00) or a date (2026-10-01)", key, v)
	return time.Time{}
}

// budget reads a positive duration such as 10m or 2h.
func (d *decoder) budget(n *yaml.Node, key string) time.Duration {
	v := d.str(n, key)
	b, err := time.ParseDuration(v)
	if err != nil || b <= 0 {
		d.errorf(n, "%s %q: want a positive duration such as 10m or 2h", key, v)
		return 0
	}
	return b
}

func (d *decoder) location(n *yaml.Node, name string) *time.Location {
	if name == "" {
		return nil
	}
	if name == "Local" {
		d.errorf(n, "timezone %q: want an IANA name such as Asia/Tokyo", name)
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		d.errorf(n, "timezone %q: %v", name, err)
		return nil
	}
	return loc
}

func (d *decoder) scaleOf(n *yaml.Node) alert.Scale {
	if isNull(n) {
		return append(alert.Scale(nil), alert.DefaultScale...)
	}
	s := alert.Scale(d.strs(n, "severity_scale"))
	if err := s.Validate(); err != nil {
		d.errorf(n, "severity_scale: %v", err)
	}
	return s
}

// levelOr returns the severity named by n, or def when it is on the scale,
// else the level at index fallback.
func (d *decoder) levelOr(n *yaml.Node, key, def string, fallback int) string {
	if v := d.str(n, key); v != "" {
		d.severity(n, key, v)
		return v
	}
	if d.scale.Index(def) >= 0 || len(d.scale) <= fallback {
		return def
	}
	return d.scale[fallback]
}

func (d *decoder) serviceHours(n *yaml.Node) (string, Hours) {
	s := d.str(n, "service_hours")
	if s == "" {
		return "24x7", Hours{Always: true}
	}
	h, err := ParseServiceHours(s)
	if err != nil {
		d.errorf(n, "%v", err)
	}
	return s, h
}

// ParseServiceHours parses "24x7" or "weekdays HH:MM-HH:MM" (start before end).
func ParseServiceHours(s string) (Hours, error) {
	if s == "24x7" {
		return Hours{Always: true}, nil
	}
	bad := fmt.Errorf("service_hours %q: want 24x7 or \"weekdays HH:MM-HH:MM\"", s)
	f := strings.Fields(s)
	if len(f) != 2 || f[0] != "weekdays" {
		return Hours{}, bad
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return Hours{}, bad
	}
	start, err1 := clock(from)
	end, err2 := clock(to)
	if err1 != nil || err2 != nil {
		return Hours{}, bad
	}
	if start >= end {
		return Hours{}, fmt.Errorf("service_hours %q: start %s is not before end %s", s, from, to)
	}
	return Hours{Start: start, End: end}, nil
}

var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

func clock(s string) (time.Duration, error) {
	m := clockPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad time %q", s)
	}
	h, _ := time.ParseDuration(m[1] + "h" + m[2] + "m")
	return h, nil
}

var sourceKeys = []string{"name", "vendor", "webhook_secret_file", "url", "client_id_file", "client_secret_file", "poll",
	"listen_udp", "listen_tcp", "listen_tls", "tls_cert_file", "tls_key_file", "allowed_peers", "mail_address", "allowed_senders"}

func (d *decoder) sources(n *yaml.Node) []Source {
	var out []Source
	first := map[string]int{}
	for _, item := range d.seq(n, "sources") {
		f := d.fields(item, "source", sourceKeys...)
		d.require(item, f, "name", "vendor")
		s := Source{Name: d.str(f["name"], "name"), Vendor: d.str(f["vendor"], "vendor")}
		switch {
		case s.Name == "":
		case !namePattern.MatchString(s.Name):
			d.errorf(f["name"], "source name %q: want lower-case letters, digits and -", s.Name)
		case first[s.Name] != 0:
			d.errorf(f["name"], "source name %q used twice (first on line %d)", s.Name, first[s.Name])
		default:
			first[s.Name] = f["name"].Line
		}
		if s.Vendor != "" && d.o.vendors != nil && !d.o.vendors(s.Vendor) {
			d.errorf(f["vendor"], "vendor %q: no such connector", s.Vendor)
		}
		d.sourceAPI(f, &s)
		d.sourcePush(f, &s)
		out = append(out, s)
	}
	return out
}

// sourceAPI decodes how a source is reached: webhook secret, API URL,
// credentials and poll interval.
func (d *decoder) sourceAPI(f map[string]*yaml.Node, s *Source) {
	if s.WebhookSecretFile = d.str(f["webhook_secret_file"], "webhook_secret_file"); s.WebhookSecretFile != "" {
		s.WebhookSecret = d.secret(f["webhook_secret_file"], "webhook_secret_file", s.WebhookSecretFile)
	}
	if s.URL = d.str(f["url"], "url"); s.URL != "" && !isURL(s.URL, "http", "https") {
		d.errorf(f["url"], "url %q: want an absolute http or https URL", s.URL)
	}
	if s.ClientIDFile = d.str(f["client_id_file"], "client_id_file"); s.ClientIDFile != "" {
		s.ClientID = string(d.secret(f["client_id_file"], "client_id_file", s.ClientIDFile))
	}
	if s.ClientSecretFile = d.str(f["client_secret_file"], "client_secret_file"); s.ClientSecretFile != "" {
		s.ClientSecret = string(d.secret(f["client_secret_file"], "client_secret_file", s.ClientSecretFile))
	}
	if p := d.str(f["poll"], "poll"); p != "" {
		var err error
		if s.Poll, err = time.ParseDuration(p); err != nil {
			d.errorf(f["poll"], "poll %q: want a duration such as 30s", p)
		} else if s.Poll < time.Second {
			d.errorf(f["poll"], "poll %q: want at least 1s", p)
		}
	}
	for _, k := range []string{"client_id_file", "client_secret_file", "poll"} {
		if !isNull(f[k]) && s.URL == "" && isNull(f["url"]) {
			d.errorf(f[k], "%s: needs url", k)
		}
	}
	if s.URL != "" && s.Poll == 0 {
		s.Poll = 30 * time.Second
	}
}

// sourcePush decodes the listeners of push sources: syslog addresses and
// the mail address with its allowed senders.
func (d *decoder) sourcePush(f map[string]*yaml.Node, s *Source) {
	for _, l := range []struct {
		key string
		to  *string
	}{{"listen_udp", &s.ListenUDP}, {"listen_tcp", &s.ListenTCP}, {"listen_tls", &s.ListenTLS}} {
		if *l.to = d.str(f[l.key], l.key); *l.to == "" {
			continue
		}
		if s.Vendor != "syslog" {
			d.errorf(f[l.key], "%s: only syslog sources listen (this one is %s)", l.key, s.Vendor)
		} else if _, port, err := net.SplitHostPort(*l.to); err != nil || port == "" {
			d.errorf(f[l.key], "%s %q: want host:port, e.g. 0.0.0.0:5514", l.key, *l.to)
		}
	}
	s.TLSCertFile, s.TLSKeyFile = d.path(f["tls_cert_file"], "tls_cert_file"), d.path(f["tls_key_file"], "tls_key_file")
	if (s.ListenTLS != "") != (s.TLSCertFile != "" && s.TLSKeyFile != "") {
		n := f["listen_tls"]
		if n == nil {
			n = f["tls_cert_file"]
			if n == nil {
				n = f["tls_key_file"]
			}
		}
		d.errorf(n, "listen_tls needs tls_cert_file and tls_key_file, and they need listen_tls")
	}
	for _, c := range d.seq(f["allowed_peers"], "allowed_peers") {
		v := d.str(c, "allowed_peers")
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				d.errorf(c, "allowed_peers %q: want an address or a network (10.0.0.0/8)", v)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		s.AllowedPeers = append(s.AllowedPeers, p.Masked())
	}
	s.MailAddress = strings.ToLower(strings.TrimSpace(d.str(f["mail_address"], "mail_address")))
	s.AllowedSenders = d.strs(f["allowed_senders"], "allowed_senders")
	switch {
	case s.Vendor == "mail" && (s.MailAddress == "" || len(s.AllowedSenders) == 0):
		d.errorf(f["name"], "mail source %s: give mail_address and allowed_senders (the appliances' sender addresses or @domain)", s.Name)
	case s.Vendor != "mail" && (s.MailAddress != "" || len(s.AllowedSenders) > 0):
		d.errorf(f["name"], "source %s: mail_address and allowed_senders are for mail sources", s.Name)
	}
	if s.MailAddress != "" && !strings.Contains(s.MailAddress, "@") {
		d.errorf(f["mail_address"], "mail_address %q: want an e-mail address", s.MailAddress)
	}
	for i, a := range s.AllowedSenders {
		if !strings.Contains(a, "@") {
			d.errorf(f["allowed_senders"].Content[i], "allowed_senders %q: want an address or @domain", a)
		}
	}
}

func isURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return true
		}
	}
	return false
}

func (d *decoder) globs(n *yaml.Node, key string) []string {
	var out []string
	for _, item := range d.seq(n, key) {
		if g := d.glob(item, key); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// glob returns a valid host-name glob, or "" after reporting why not.
func (d *decoder) glob(n *yaml.Node, key string) string {
	g := d.str(n, key)
	if g == "" {
		d.errorf(n, "%s: empty host name", key)
		return ""
	}
	if _, err := path.Match(g, ""); err != nil {
		d.errorf(n, "%s: bad pattern %q: %v", key, g, err)
		return ""
	}
	return g
}

func (d *decoder) containment(n *yaml.Node) Containment {
	f := d.fields(n, "containment", "mode", "min_severity")
	c := Containment{Mode: Mode(d.str(f["mode"], "mode"))}
	if c.Mode == "" {
		c.Mode = Hybrid
	} else {
		d.oneOf(f["mode"], "containment mode", string(c.Mode),
			string(IsolateFirst), string(InvestigateFirst), string(Hybrid))
	}
	c.MinSeverity = d.levelOr(f["min_severity"], "min_severity", "critical", 1)
	return c
}

var allowKeys = []string{"sha256", "process_name", "command_line", "hosts", "rule", "reason"}

func (d *decoder) allowlist(n *yaml.Node) []AllowEntry {
	var out []AllowEntry
	for _, item := range d.seq(n, "allowlist") {
		f := d.fields(item, "allowlist entry", allowKeys...)
		d.require(item, f, "reason")
		e := AllowEntry{
			SHA256:      strings.ToLower(d.str(f["sha256"], "sha256")),
			ProcessName: d.str(f["process_name"], "process_name"),
			CommandLine: d.str(f["command_line"], "command_line"),
			Hosts:       d.globs(f["hosts"], "hosts"),
			Rule:        d.str(f["rule"], "rule"),
			Reason:      d.str(f["reason"], "reason"),
		}
		if e.SHA256 != "" && !hexPattern.MatchString(e.SHA256) {
			d.errorf(f["sha256"], "sha256 %q: want 64 hex digits", e.SHA256)
		}
		if e.SHA256 == "" && e.ProcessName == "" && e.CommandLine == "" && e.Rule == "" {
			d.errorf(item, "allowlist entry: want at least one of sha256, process_name, command_line, rule")
		}
		out = append(out, e)
	}
	return out
}
