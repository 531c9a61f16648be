package tenant

import (
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// The file* types are the tenant file's shape for writing it back
// (bannin tenant export); reading goes through the strict decoder.
type fileTenant struct {
	ID                   string                 `yaml:"id"`
	Name                 string                 `yaml:"name"`
	Language             string                 `yaml:"language"`
	Timezone             string                 `yaml:"timezone"`
	SeverityScale        []string               `yaml:"severity_scale,flow"`
	ServiceHours         string                 `yaml:"service_hours"`
	AttentionMinSeverity string                 `yaml:"attention_min_severity"`
	Sources              []fileSource           `yaml:"sources,omitempty"`
	CriticalHosts        []string               `yaml:"critical_hosts,flow,omitempty"`
	Containment          fileContainment        `yaml:"containment"`
	Allowlist            []fileAllow            `yaml:"allowlist,omitempty"`
	Contacts             map[string]fileContact `yaml:"contacts,omitempty"`
	Notify               []fileRoute            `yaml:"notify,omitempty"`
	Rules                []fileRule             `yaml:"rules,omitempty"`
	Assets               []fileAsset            `yaml:"assets,omitempty"`
	SLO                  fileSLO                `yaml:"slo"`
}

type fileSLO struct {
	Notification  string            `yaml:"notification"`
	FirstResponse map[string]string `yaml:"first_response,flow"`
	WarnAt        []int             `yaml:"warn_at,flow"`
	WarnTo        []fileRecipient   `yaml:"warn_to,omitempty"`
	PCR           int               `yaml:"pcr"`
	StartDay      int               `yaml:"start_day"`
	MonthlyReport int               `yaml:"monthly_report"`
	Exclude       []fileExclusion   `yaml:"exclude,omitempty"`
}

type fileExclusion struct {
	From   string `yaml:"from"`
	To     string `yaml:"to"`
	Reason string `yaml:"reason"`
}

type fileSource struct {
	Name              string   `yaml:"name"`
	Vendor            string   `yaml:"vendor"`
	WebhookSecretFile string   `yaml:"webhook_secret_file,omitempty"`
	URL               string   `yaml:"url,omitempty"`
	ClientIDFile      string   `yaml:"client_id_file,omitempty"`
	ClientSecretFile  string   `yaml:"client_secret_file,omitempty"`
	Poll              string   `yaml:"poll,omitempty"`
	ListenUDP         string   `yaml:"listen_udp,omitempty"`
	ListenTCP         string   `yaml:"listen_tcp,omitempty"`
	ListenTLS         string   `yaml:"listen_tls,omitempty"`
	TLSCertFile       string   `yaml:"tls_cert_file,omitempty"`
	TLSKeyFile        string   `yaml:"tls_key_file,omitempty"`
	AllowedPeers      []string `yaml:"allowed_peers,flow,omitempty"`
	MailAddress       string   `yaml:"mail_address,omitempty"`
	AllowedSenders    []string `yaml:"allowed_senders,flow,omitempty"`
}

type fileContainment struct {
	Mode        Mode   `yaml:"mode"`
	MinSeverity string `yaml:"min_severity"`
}

type fileAllow struct {
	SHA256      string   `yaml:"sha256,omitempty"`
	ProcessName string   `yaml:"process_name,omitempty"`
	CommandLine string   `yaml:"command_line,omitempty"`
	Hosts       []string `yaml:"hosts,flow,omitempty"`
	Rule        string   `yaml:"rule,omitempty"`
	Reason      string   `yaml:"reason"`
}

type fileContact struct {
	Name     string `yaml:"name,omitempty"`
	Email    string `yaml:"email,omitempty"`
	Phone    string `yaml:"phone,omitempty"`
	Slack    string `yaml:"slack,omitempty"`
	Webhook  string `yaml:"webhook,omitempty"`
	Language string `yaml:"language,omitempty"`
}

type fileRoute struct {
	Severities  []string        `yaml:"severities,flow"`
	To          []fileRecipient `yaml:"to"`
	Escalate    []fileStep      `yaml:"escalate,omitempty"`
	Repeat      int             `yaml:"repeat,omitempty"`
	RepeatAfter string          `yaml:"repeat_after,omitempty"`
}

type fileStep struct {
	After string          `yaml:"after"`
	To    []fileRecipient `yaml:"to"`
	Hours string          `yaml:"hours,omitempty"`
}

type fileRecipient struct {
	Contact string `yaml:"contact"`
	Via     Via    `yaml:"via"`
}

type fileRule struct {
	Name string      `yaml:"name"`
	When string      `yaml:"when"`
	Set  fileOutcome `yaml:"set"`
}

type fileOutcome struct {
	Severity string         `yaml:"severity,omitempty"`
	Priority alert.Priority `yaml:"priority,omitempty"`
	Suppress bool           `yaml:"suppress,omitempty"`
	Reason   string         `yaml:"reason,omitempty"`
}

type fileAsset struct {
	Host     string   `yaml:"host"`
	Role     string   `yaml:"role,omitempty"`
	Critical bool     `yaml:"critical,omitempty"`
	Groups   []string `yaml:"groups,flow,omitempty"`
}

// MarshalYAML writes the tenant back as a tenant file, defaults spelled out
// and secrets named by their files, never inlined. Parse reads the result
// back to an equal Tenant.
func (t *Tenant) MarshalYAML() (any, error) {
	f := fileTenant{
		ID: t.ID, Name: t.Name, Language: t.Language, Timezone: t.Timezone,
		SeverityScale:        t.SeverityScale,
		ServiceHours:         t.ServiceHours,
		AttentionMinSeverity: t.AttentionMinSeverity,
		CriticalHosts:        t.CriticalHosts,
		Containment:          fileContainment(t.Containment),
		SLO: fileSLO{Notification: t.SLO.Notification.String(), FirstResponse: map[string]string{},
			WarnAt: t.SLO.WarnAt, PCR: t.SLO.PCR, StartDay: t.SLO.StartDay, MonthlyReport: t.SLO.MonthlyReport},
	}
	for _, to := range t.SLO.WarnTo {
		f.SLO.WarnTo = append(f.SLO.WarnTo, fileRecipient(to))
	}
	for _, e := range t.SLO.Exclude {
		f.SLO.Exclude = append(f.SLO.Exclude, fileExclusion{From: e.From.Format(time.RFC3339), To: e.To.Format(time.RFC3339), Reason: e.Reason})
	}
	for p, d := range t.SLO.FirstResponse {
		f.SLO.FirstResponse[string(p)] = d.String()
	}
	for _, s := range t.Sources {
		fs := fileSource{Name: s.Name, Vendor: s.Vendor, WebhookSecretFile: s.WebhookSecretFile,
			URL: s.URL, ClientIDFile: s.ClientIDFile, ClientSecretFile: s.ClientSecretFile,
			ListenUDP: s.ListenUDP, ListenTCP: s.ListenTCP, ListenTLS: s.ListenTLS, TLSCertFile: s.TLSCertFile,
			TLSKeyFile: s.TLSKeyFile, MailAddress: s.MailAddress, AllowedSenders: s.AllowedSenders}
		for _, p := range s.AllowedPeers {
			fs.AllowedPeers = append(fs.AllowedPeers, p.String())
		}
		if s.Poll != 0 {
			fs.Poll = s.Poll.String()
		}
		f.Sources = append(f.Sources, fs)
	}
	for _, a := range t.Allowlist {
		f.Allowlist = append(f.Allowlist, fileAllow(a))
	}
	if len(t.Contacts) > 0 {
		f.Contacts = map[string]fileContact{}
		for n, c := range t.Contacts {
			f.Contacts[n] = fileContact(c)
		}
	}
	for _, r := range t.Notify {
		fr := fileRoute{Severities: r.Severities, Repeat: r.Repeat}
		for _, to := range r.To {
			fr.To = append(fr.To, fileRecipient(to))
		}
		if r.RepeatAfter != 0 {
			fr.RepeatAfter = r.RepeatAfter.String()
		}
		for _, st := range r.Escalate {
			fs := fileStep{After: st.After.String(), Hours: st.Hours}
			for _, to := range st.To {
				fs.To = append(fs.To, fileRecipient(to))
			}
			fr.Escalate = append(fr.Escalate, fs)
		}
		f.Notify = append(f.Notify, fr)
	}
	for _, r := range t.Rules {
		f.Rules = append(f.Rules, fileRule{Name: r.Name, When: r.When, Set: fileOutcome(r.Set)})
	}
	for _, a := range t.Assets {
		f.Assets = append(f.Assets, fileAsset(a))
	}
	return f, nil
}
