package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"text/template"
	"time"
)

// All wording lives in templates/<language>/: phrases.txt.tmpl holds the
// sentences that vary with the incident (per priority, isolation state,
// vendor action), the other files lay them out. A translator edits one
// folder and never Go code.
//
//go:embed templates
var templateFS embed.FS

// langTemplates is one language's parsed templates.
type langTemplates struct {
	text *template.Template     // phrases, subject, text body, short
	html *htmltemplate.Template // HTML body
}

// templates are parsed once; a broken embedded template is a build defect,
// so it panics at start-up (and in every test) rather than at 3 a.m.
var templates = func() map[string]langTemplates {
	m := map[string]langTemplates{}
	for _, lang := range Languages {
		dir := "templates/" + lang + "/"
		m[lang] = langTemplates{
			text: template.Must(template.New(lang).Funcs(funcs).ParseFS(templateFS, dir+"*.txt.tmpl")),
			html: htmltemplate.Must(htmltemplate.New(lang).Funcs(htmltemplate.FuncMap(funcs)).ParseFS(templateFS, dir+"*.html.tmpl")),
		}
	}
	return m
}()

var funcs = template.FuncMap{
	"join":  strings.Join,
	"lower": strings.ToLower,
	"trim":  strings.TrimSpace,
	"add":   func(a, b int) int { return a + b },
	"sub":   func(a, b int) int { return a - b },
}

// view is what the layout templates see: the notice plus the phrases chosen
// for it, already in the notice's language.
type view struct {
	Notice
	SeverityName   string   // the severity level in the reader's language
	Meaning        string   // what the priority means, in plain words
	Urgency        string   // the opening sentence's call to action
	VendorText     string   // what the EDR already did
	IsolationLabel string   // needed or not, and how far it got
	IsolationText  string   // the explanation of the label
	IsolationShort string   // the isolation sentence for phone and chat
	Steps          []string // what to do, most important first
	When           string   // DetectedAt in the tenant's zone
	DueText        string   // Due in the tenant's zone (SLO notices)
	ClockName      string   // the clock's name in the reader's language
	HostsShort     string   // "fs01 他2台": the hosts for a subject line
}

// Render words a notice as a mail message (subject, plain text and HTML) in
// n.Language, with Short filled for phone and chat channels.
func Render(n Notice) (Message, error) {
	v, t, err := newView(n)
	if err != nil {
		return Message{}, err
	}
	var m Message
	if m.Subject, err = execText(t.text, "subject", v); err != nil {
		return Message{}, err
	}
	m.Subject = oneLine(m.Subject)
	if m.Text, err = execText(t.text, "text", v); err != nil {
		return Message{}, err
	}
	if m.Short, err = execText(t.text, "short", v); err != nil {
		return Message{}, err
	}
	m.Short = oneLine(m.Short)
	var b bytes.Buffer
	if err := t.html.ExecuteTemplate(&b, "html", v); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", v.Language, err)
	}
	m.HTML = b.String()
	m.Language, m.IncidentID, m.URL = v.Language, v.IncidentID, v.ConsoleURL
	if v.AckURL != "" {
		m.AckURL = v.AckURL
		if m.AckLabel, err = execText(t.text, "ack_label", v); err != nil {
			return Message{}, err
		}
		m.AckLabel = oneLine(m.AckLabel)
	}
	return m, nil
}

// RenderShort words a notice as one paragraph for a phone call or a chat
// message. It never fails: a call that does not happen because a field was
// missing is worse than a terse one, so an invalid notice gets a bare
// fallback naming the priority, incident and title.
func RenderShort(n Notice) string {
	v, t, err := newView(n)
	if err == nil {
		var s string
		if s, err = execText(t.text, "short", v); err == nil {
			return oneLine(s)
		}
	}
	return oneLine(fmt.Sprintf("[bannin] %s %s %s %s", n.Priority, n.Severity, n.IncidentID, n.Title))
}

// newView validates the notice and chooses its phrases.
func newView(n Notice) (*view, langTemplates, error) {
	n, err := n.normalize()
	if err != nil {
		return nil, langTemplates{}, err
	}
	t := templates[n.Language]
	v := &view{Notice: n}
	// Times and the clock's name first: the phrases quote them.
	if v.When, err = when(t.text, n.DetectedAt, n.Location); err != nil {
		return nil, t, err
	}
	if !n.Due.IsZero() {
		if v.DueText, err = when(t.text, n.Due, n.Location); err != nil {
			return nil, t, err
		}
	}
	if v.ClockName, err = execText(t.text, "clock_name", v); err != nil {
		return nil, t, err
	}
	v.ClockName = oneLine(v.ClockName)
	phrases := []struct {
		name string
		dst  *string
	}{
		{"severity", &v.SeverityName},
		{"meaning", &v.Meaning},
		{"urgency", &v.Urgency},
		{"vendor", &v.VendorText},
		{"isolation_label", &v.IsolationLabel},
		{"isolation_text", &v.IsolationText},
		{"isolation_short", &v.IsolationShort},
		{"hosts_short", &v.HostsShort},
	}
	for _, p := range phrases {
		s, err := execText(t.text, p.name, v)
		if err != nil {
			return nil, t, err
		}
		*p.dst = oneLine(s)
	}
	steps, err := execText(t.text, "steps", v)
	if err != nil {
		return nil, t, err
	}
	v.Steps = lines(steps)
	return v, t, nil
}

// when formats a time with the language's layout, in the tenant's zone.
func when(t *template.Template, at time.Time, loc *time.Location) (string, error) {
	if at.IsZero() {
		return execText(t, "time_unknown", nil)
	}
	layout, err := execText(t, "time_layout", nil)
	if err != nil {
		return "", err
	}
	return at.In(loc).Format(strings.TrimSpace(layout)), nil
}

func execText(t *template.Template, name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s %s: %w", t.Name(), name, err)
	}
	return b.String(), nil
}

// oneLine collapses all white space, line breaks included, into single
// spaces: caller-supplied titles and host names end up in a mail header,
// where a line break would start a new header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// lines splits a template's output into its non-blank lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = oneLine(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
