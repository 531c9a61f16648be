package tenant

import (
	"errors"
	"strings"
	"testing"
)

// Every case names the exact messages expected, each with its line. head
// takes lines 1–4, so a case's own lines start at 5.
func TestParseErrors(t *testing.T) {
	vendors := WithVendors(func(v string) bool { return v == "crowdstrike" || v == "syslog" || v == "mail" })
	tests := []struct {
		name  string
		src   string
		files map[string]string
		want  []string
	}{
		{"unknown top-level key", head + "contianment:\n  mode: hybrid\n",
			nil, []string{`tenant.yaml:5: unknown key "contianment" (want one of: id, name, language,`}},
		{"unknown nested key", head + "containment:\n  mode: hybrid\n  minseverity: high\n",
			nil, []string{`tenant.yaml:7: unknown key "minseverity" (want one of: mode, min_severity)`}},
		{"duplicate key", head + "name: Other\n",
			nil, []string{`tenant.yaml:5: duplicate key "name" (first on line 2)`}},
		{"language", "id: acme\nname: Acme\nlanguage: fr\ntimezone: UTC\n",
			nil, []string{`tenant.yaml:3: language "fr": want ja or en`}},
		{"id", "id: Acme_1\nname: Acme\nlanguage: en\ntimezone: UTC\n",
			nil, []string{`tenant.yaml:1: id "Acme_1": want lower-case letters, digits and -`}},
		{"missing keys", "id: acme\nlanguage: en\n",
			nil, []string{`tenant.yaml:1: missing key "name"`, `tenant.yaml:1: missing key "timezone"`}},
		{"empty value", "id: acme\nname:\nlanguage: en\ntimezone: UTC\n",
			nil, []string{`tenant.yaml:2: missing key "name"`}},
		{"timezone", "id: acme\nname: Acme\nlanguage: en\ntimezone: Mars/Olympus\n",
			nil, []string{`tenant.yaml:4: timezone "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"timezone Local", "id: acme\nname: Acme\nlanguage: en\ntimezone: Local\n",
			nil, []string{`tenant.yaml:4: timezone "Local": want an IANA name`}},
		{"scale too short", head + "severity_scale: [high, medium, low]\n",
			nil, []string{`tenant.yaml:5: severity_scale: severity scale has 3 levels: want 4 to 6`}},
		{"scale duplicate", head + "severity_scale: [high, high, medium, low]\n",
			nil, []string{`tenant.yaml:5: severity_scale: severity scale names "high" twice`}},
		{"scale not a list", head + "severity_scale: high\n",
			nil, []string{`tenant.yaml:5: severity_scale: want a list`}},
		{"service hours syntax", head + "service_hours: 9-18\n",
			nil, []string{`tenant.yaml:5: service_hours "9-18": want 24x7 or "weekdays HH:MM-HH:MM"`}},
		{"service hours order", head + "service_hours: weekdays 18:00-09:00\n",
			nil, []string{`tenant.yaml:5: service_hours "weekdays 18:00-09:00": start 18:00 is not before end 09:00`}},
		{"attention severity", head + "attention_min_severity: severe\n",
			nil, []string{`tenant.yaml:5: attention_min_severity "severe": not on the severity scale (emergency, critical, high, medium, low)`}},
		{"severity against a custom scale", head + "attention_min_severity: high\nseverity_scale: [深刻, 高, 中, 低]\n",
			nil, []string{`tenant.yaml:5: attention_min_severity "high": not on the severity scale (深刻, 高, 中, 低)`}},
		{"sources not a list", head + "sources: {name: x}\n",
			nil, []string{`tenant.yaml:5: sources: want a list`}},
		{"source name", head + "sources:\n  - {name: Falcon_1, vendor: crowdstrike}\n",
			nil, []string{`tenant.yaml:6: source name "Falcon_1": want lower-case letters, digits and -`}},
		{"source name twice", head + "sources:\n  - {name: f, vendor: crowdstrike}\n  - {name: f, vendor: crowdstrike}\n",
			nil, []string{`tenant.yaml:7: source name "f" used twice (first on line 6)`}},
		{"source missing vendor", head + "sources:\n  - name: f\n",
			nil, []string{`tenant.yaml:6: missing key "vendor"`}},
		{"source unknown vendor", head + "sources:\n  - name: f\n    vendor: mcafee\n",
			nil, []string{`tenant.yaml:7: vendor "mcafee": no such connector`}},
		{"source unknown key", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    secret: x\n",
			nil, []string{`tenant.yaml:8: unknown key "secret" (want one of: name, vendor, webhook_secret_file, url, client_id_file, client_secret_file, poll, listen_udp, listen_tcp, listen_tls, tls_cert_file, tls_key_file, allowed_peers, mail_address, allowed_senders)`}},
		{"escalation step hours", head + "contacts:\n  a: {email: a@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: a, via: email}]\n    escalate:\n      - {after: 10m, to: [{contact: a, via: email}], hours: weekdays 25:00-18:00}\n",
			nil, []string{`tenant.yaml:11: hours: service_hours "weekdays 25:00-18:00": want 24x7 or "weekdays HH:MM-HH:MM"`}},
		{"escalation step without after", head + "contacts:\n  a: {email: a@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: a, via: email}]\n    escalate:\n      - {to: [{contact: a, via: email}]}\n",
			nil, []string{`tenant.yaml:11: missing key "after"`}},
		{"escalation wait", head + "contacts:\n  a: {email: a@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: a, via: email}]\n    escalate:\n      - {after: soon, to: [{contact: a, via: email}]}\n",
			nil, []string{`tenant.yaml:11: after "soon": want a positive duration such as 10m or 2h`}},
		{"repeat without steps or wait", head + "contacts:\n  a: {email: a@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: a, via: email}]\n    repeat: 3\n",
			nil, []string{`tenant.yaml:10: repeat: a route without escalate steps needs repeat_after`}},
		{"repeat too many", head + "contacts:\n  a: {email: a@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: a, via: email}]\n    repeat: 50\n    repeat_after: 5m\n",
			nil, []string{`tenant.yaml:10: repeat "50": want a whole number from 0 to 10`}},
		{"warn_at order", head + "slo:\n  warn_at: [80, 50]\n",
			nil, []string{`tenant.yaml:6: warn_at: 50% is not above 80%`}},
		{"warn_at range", head + "slo:\n  warn_at: [100]\n",
			nil, []string{`tenant.yaml:6: warn_at "100": want a whole number from 1 to 99`}},
		{"exclusion order", head + "slo:\n  exclude:\n    - {from: 2026-10-03, to: 2026-10-01, reason: scan}\n",
			nil, []string{`tenant.yaml:7: exclusion: from 2026-10-03T00:00:00Z is not before to 2026-10-01T00:00:00Z`}},
		{"exclusion without reason", head + "slo:\n  exclude:\n    - {from: 2026-10-01, to: 2026-10-03}\n",
			nil, []string{`tenant.yaml:7: missing key "reason"`}},
		{"exclusion date", head + "slo:\n  exclude:\n    - {from: 1 Oct, to: 2026-10-03, reason: scan}\n",
			nil, []string{`tenant.yaml:7: from "1 Oct": want an RFC 3339 time`}},
		{"start day", head + "slo:\n  start_day: 31\n",
			nil, []string{`tenant.yaml:6: start_day "31": want a whole number from 1 to 28`}},
		{"pcr days", head + "slo:\n  pcr: 0\n",
			nil, []string{`tenant.yaml:6: pcr "0": want a whole number from 1 to 60`}},
		{"listen on a non-syslog source", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    listen_udp: 0.0.0.0:5514\n",
			nil, []string{`tenant.yaml:8: listen_udp: only syslog sources listen (this one is crowdstrike)`}},
		{"listen address", head + "sources:\n  - name: fw\n    vendor: syslog\n    listen_tcp: 5514\n",
			nil, []string{`tenant.yaml:8: listen_tcp "5514": want host:port, e.g. 0.0.0.0:5514`}},
		{"listen_tls without a certificate", head + "sources:\n  - name: fw\n    vendor: syslog\n    listen_tls: :6514\n",
			nil, []string{`tenant.yaml:8: listen_tls needs tls_cert_file and tls_key_file, and they need listen_tls`}},
		{"allowed peers", head + "sources:\n  - name: fw\n    vendor: syslog\n    listen_udp: :5514\n    allowed_peers: [10.0.0.0/33, fw01]\n",
			nil, []string{`tenant.yaml:9: allowed_peers "10.0.0.0/33": want an address or a network (10.0.0.0/8)`, `allowed_peers "fw01": want`}},
		{"mail without senders", head + "sources:\n  - name: m\n    vendor: mail\n    mail_address: acme@alerts.soc.example\n",
			nil, []string{`tenant.yaml:6: mail source m: give mail_address and allowed_senders`}},
		{"mail sender", head + "sources:\n  - name: m\n    vendor: mail\n    mail_address: acme@soc.example\n    allowed_senders: [nx01]\n",
			nil, []string{`tenant.yaml:9: allowed_senders "nx01": want an address or @domain`}},
		{"mail address on another vendor", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    mail_address: a@b.example\n",
			nil, []string{`tenant.yaml:6: source f: mail_address and allowed_senders are for mail sources`}},
		{"slo budget", head + "slo:\n  notification: soon\n",
			nil, []string{`tenant.yaml:6: notification "soon": want a positive duration such as 10m or 2h`}},
		{"slo priority", head + "slo:\n  first_response: {P4: 10m}\n",
			nil, []string{`tenant.yaml:6: unknown key "P4" (want one of: P0, P1, P2, P3)`}},
		{"webhook secret missing", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    webhook_secret_file: nope.hook\n",
			nil, []string{`tenant.yaml:8: webhook_secret_file: open `, `nope.hook: no such file or directory`}},
		{"webhook secret empty", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    webhook_secret_file: empty.hook\n",
			map[string]string{"empty.hook": " \n"}, []string{`tenant.yaml:8: webhook_secret_file: `, `empty.hook is empty`}},
		{"webhook secret not a file", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    webhook_secret_file: /dev/zero\n",
			nil, []string{`tenant.yaml:8: webhook_secret_file: /dev/zero is not a regular file`}},
		{"client secret missing", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    url: https://api.example.com\n    client_secret_file: cs\n",
			nil, []string{`tenant.yaml:9: client_secret_file: open `}},
		{"source url", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    url: api.example.com\n",
			nil, []string{`tenant.yaml:8: url "api.example.com": want an absolute http or https URL`}},
		{"poll", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    url: https://x.example\n    poll: often\n",
			nil, []string{`tenant.yaml:9: poll "often": want a duration such as 30s`}},
		{"poll too short", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    url: https://x.example\n    poll: 10ms\n",
			nil, []string{`tenant.yaml:9: poll "10ms": want at least 1s`}},
		{"poll without url", head + "sources:\n  - name: f\n    vendor: crowdstrike\n    poll: 30s\n",
			nil, []string{`tenant.yaml:8: poll: needs url`}},
		{"critical host pattern", head + "critical_hosts: [fs01, \"srv-[\"]\n",
			nil, []string{`tenant.yaml:5: critical_hosts: bad pattern "srv-[": syntax error in pattern`}},
		{"containment mode", head + "containment:\n  mode: isolate\n",
			nil, []string{`tenant.yaml:6: containment mode "isolate": want isolate_first, investigate_first or hybrid`}},
		{"containment severity", head + "containment:\n  min_severity: severe\n",
			nil, []string{`tenant.yaml:6: min_severity "severe": not on the severity scale`}},
		{"allowlist no matcher", head + "allowlist:\n  - {hosts: [\"srv-*\"], reason: all of it}\n",
			nil, []string{`tenant.yaml:6: allowlist entry: want at least one of sha256, process_name, command_line, rule`}},
		{"allowlist no reason", head + "allowlist:\n  - process_name: a.exe\n",
			nil, []string{`tenant.yaml:6: missing key "reason"`}},
		{"allowlist sha256", head + "allowlist:\n  - {sha256: abc, reason: r}\n",
			nil, []string{`tenant.yaml:6: sha256 "abc": want 64 hex digits`}},
		{"allowlist host glob", head + "allowlist:\n  - process_name: a.exe\n    hosts: [\"[a\"]\n    reason: r\n",
			nil, []string{`tenant.yaml:7: hosts: bad pattern "[a"`}},
		{"contact email", head + "contacts:\n  it: {email: \"IT <it@example.com>\"}\n",
			nil, []string{`tenant.yaml:6: email "IT <it@example.com>": want an address such as soc@example.com`}},
		{"contact no address", head + "contacts:\n  it:\n    name: IT\n",
			nil, []string{`tenant.yaml:7: contact "it": want at least one of email, phone, slack, webhook`}},
		{"contact phone", head + "contacts:\n  it: {phone: call me}\n",
			nil, []string{`tenant.yaml:6: phone "call me": want digits`}},
		{"contact slack", head + "contacts:\n  it: {slack: \"http://hooks.slack.com/x\"}\n",
			nil, []string{`tenant.yaml:6: slack "http://hooks.slack.com/x": want an https incoming-webhook URL`}},
		{"contact language", head + "contacts:\n  it:\n    email: it@example.com\n    language: de\n",
			nil, []string{`tenant.yaml:8: language "de": want ja or en`}},
		{"contact name", head + "contacts:\n  IT Team: {email: it@example.com}\n",
			nil, []string{`tenant.yaml:6: contact name "IT Team": want lower-case`}},
		{"contact unknown key", head + "contacts:\n  it: {mail: it@example.com}\n",
			nil, []string{`tenant.yaml:6: unknown key "mail" (want one of: name, email, phone, slack, webhook, language)`}},
		{"route severity", head + "contacts:\n  it: {email: it@example.com}\nnotify:\n  - severities: [urgent]\n    to: [{contact: it, via: email}]\n",
			nil, []string{`tenant.yaml:8: severity "urgent": not on the severity scale`}},
		{"route contact", head + "notify:\n  - severities: [high]\n    to: [{contact: it, via: email}]\n",
			nil, []string{`tenant.yaml:7: contact "it": not in contacts`}},
		{"route via without address", head + "contacts:\n  it: {email: it@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: it, via: phone}]\n",
			nil, []string{`tenant.yaml:9: contact "it" has no phone`}},
		{"route via", head + "contacts:\n  it: {email: it@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: it, via: fax}]\n",
			nil, []string{`tenant.yaml:9: via "fax": want email, phone, slack or webhook`}},
		{"route missing to", head + "notify:\n  - severities: [high]\n",
			nil, []string{`tenant.yaml:6: missing key "to"`}},
		{"severity routed twice", head + "contacts:\n  it: {email: it@example.com}\nnotify:\n  - severities: [high]\n    to: [{contact: it, via: email}]\n  - severities: [critical, high]\n    to: [{contact: it, via: email}]\n",
			nil, []string{`tenant.yaml:10: severity "high" already routed on line 8 (first matching route wins)`}},
		{"rule missing when", head + "rules:\n  - name: r\n    set: {priority: P1}\n",
			nil, []string{`tenant.yaml:6: missing key "when"`}},
		{"rule priority", head + "rules:\n  - name: r\n    when: 'true'\n    set: {priority: P9}\n",
			nil, []string{`tenant.yaml:8: priority "P9": want P0, P1, P2 or P3`}},
		{"rule severity", head + "rules:\n  - name: r\n    when: 'true'\n    set:\n      severity: urgent\n",
			nil, []string{`tenant.yaml:9: severity "urgent": not on the severity scale`}},
		{"rule empty set", head + "rules:\n  - name: r\n    when: 'true'\n    set: {reason: why}\n",
			nil, []string{`tenant.yaml:8: set: want at least one of severity, priority, suppress: true`}},
		{"rule suppress", head + "rules:\n  - name: r\n    when: 'true'\n    set: {suppress: yes}\n",
			nil, []string{`tenant.yaml:8: suppress "yes": want true or false`}},
		{"rule name twice", head + "rules:\n  - {name: r, when: 'true', set: {priority: P1}}\n  - {name: r, when: 'true', set: {priority: P2}}\n",
			nil, []string{`tenant.yaml:7: rule name "r" used twice (first on line 6)`}},
		{"asset role", head + "assets:\n  - {host: pc-1, role: laptop}\n",
			nil, []string{`tenant.yaml:6: role "laptop": want pc, server or business`}},
		{"asset host", head + "assets:\n  - {role: pc}\n",
			nil, []string{`tenant.yaml:6: missing key "host"`}},
		{"asset critical", head + "assets:\n  - host: fs01\n    critical: \"true\"\n",
			nil, []string{`tenant.yaml:7: critical "true": want true or false`}},
		{"yaml syntax", head + "sources:\n  - name: f\n   vendor: x\n",
			// yaml.v3 names the line where the enclosing block starts.
			nil, []string{`tenant.yaml:5: did not find expected '-' indicator`}},
		{"tab indentation", head + "containment:\n\tmode: hybrid\n",
			nil, []string{`tenant.yaml:6: found character that cannot start any token`}},
		{"alias", head + "contacts:\n  it: &it {email: it@example.com}\n  cso: *it\n",
			nil, []string{`tenant.yaml:6: anchors and aliases are not supported`, `tenant.yaml:7: anchors and aliases are not supported`}},
		{"explicit tag", "id: acme\nname: Acme\nlanguage: !!str en\ntimezone: UTC\n",
			nil, []string{`tenant.yaml:3: explicit tag "!!str" is not supported: quote the value instead`}},
		{"quoted empty value", "id: acme\nname: Acme\nlanguage: \"\"\ntimezone: UTC\n",
			nil, []string{`tenant.yaml:3: missing key "language"`}},
		{"contact without anything", head + "contacts:\n  it:\n",
			nil, []string{`tenant.yaml:6: contact "it": want at least one of email, phone, slack, webhook`}},
		{"second document", head + "---\nid: other\n",
			nil, []string{`tenant.yaml:5: a second YAML document: want one`}},
		{"not a mapping", "- id: acme\n",
			nil, []string{`tenant.yaml:1: tenant file: want a mapping`}},
		{"empty", "# nothing\n",
			nil, []string{`tenant.yaml:1: empty tenant file`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Parse([]byte(tt.src), dir, vendors)
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestAllErrorsReported checks that one pass reports every problem, in line
// order, each as a *LineError.
func TestAllErrorsReported(t *testing.T) {
	src := "id: ACME\n" + // 1
		"name: Acme\n" + // 2
		"language: fr\n" + // 3
		"timezone: Nowhere/City\n" + // 4
		"contianment: {}\n" + // 5
		"notify:\n" + // 6
		"  - severities: [urgent]\n" + // 7
		"    to: [{contact: nobody, via: email}]\n" // 8
	_, err := Parse([]byte(src), t.TempDir(), WithFilename("acme.yaml"))
	want := []int{1, 3, 4, 5, 7, 8}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("err = %v, want a joined error", err)
	}
	errs := joined.Unwrap()
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, e := range errs {
		var le *LineError
		if !errors.As(e, &le) || le.Line != want[i] || le.File != "acme.yaml" {
			t.Errorf("error %d = %v, want acme.yaml line %d", i, e, want[i])
		}
	}
}

func TestLoadNamesThePath(t *testing.T) {
	dir := writeFiles(t, map[string]string{"t.yaml": head + "language: de\n"})
	_, err := Load(dir + "/t.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), dir+"/t.yaml:5: ") {
		t.Errorf("err = %v, want it to start with the path and line", err)
	}
	if _, err := Load(dir + "/missing.yaml"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
