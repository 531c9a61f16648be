package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/riverqueue/river"
)

// maxNotifyTries bounds delivery attempts of one notification.
const maxNotifyTries = 10

// Worker delivers one notification and records every attempt.
type Worker struct {
	river.WorkerDefaults[jobs.NotifyArgs]
	Store   WorkerStore
	Tenants Tenants
	// Channels by name: email, phone, slack, webhook.
	Channels map[string]Channel
	// AckURL is the signed acknowledgement link for one contact of an
	// incident, or "" when there is none to give.
	AckURL func(tenant string, incidentID int64, contact, via string) string
	Clock  func() time.Time
	// VirtualTime stamps attempts with the notification's creation time
	// (replay).
	VirtualTime bool
}

// WorkerStore is what the Worker reads and records.
type WorkerStore interface {
	Notification(ctx context.Context, tenant string, id int64) (*Notification, error)
	Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error)
	// Alerts lists the alerts of an incident.
	Alerts(ctx context.Context, tenant string, incidentID int64) ([]alert.Alert, error)
	IncidentActions(ctx context.Context, tenant string, incidentID int64) ([]*response.Action, error)
	RecordAttempt(ctx context.Context, n *Notification, at time.Time, ok bool, detail string) error
}

// Tenants finds a running tenant's file.
type Tenants interface {
	File(id string) (*tenant.Tenant, bool)
}

// DryChannels render and record notifications without delivering them.
func DryChannels() map[string]Channel {
	out := map[string]Channel{}
	for _, c := range []string{"email", "phone", "slack", "webhook"} {
		out[c] = dryChannel(c)
	}
	return out
}

// Work sends the notification unless it was already sent (a rerun after a
// crash between send and record may send once more: mail has no idempotency).
func (w *Worker) Work(ctx context.Context, job *river.Job[jobs.NotifyArgs]) error {
	n, err := w.Store.Notification(ctx, job.Args.Tenant, job.Args.NotificationID)
	if err != nil {
		return err
	}
	if n.State != "pending" {
		return nil
	}
	ch, ok := w.Channels[n.Channel]
	if !ok {
		return w.finish(ctx, n, false, fmt.Sprintf("channel %s is not configured on this bannin (see --smtp / --phone-webhook)", n.Channel), true)
	}
	msg, err := w.message(ctx, n)
	var re renderError
	if errors.As(err, &re) {
		return w.finish(ctx, n, false, "cannot render: "+err.Error(), true)
	}
	if err != nil {
		return err // the store: River retries
	}
	receipt, err := ch.Send(ctx, address(n), msg)
	n.Attempts++
	if err == nil {
		n.State, n.SentAt, n.Detail = "sent", w.stamp(n), receipt.Detail
		return w.Store.RecordAttempt(ctx, n, n.SentAt, true, receipt.Detail)
	}
	permanent := IsPermanent(err) || n.Attempts >= maxNotifyTries
	if ferr := w.finish(ctx, n, false, err.Error(), permanent); permanent || ferr != nil {
		return ferr
	}
	if after, ok := RetryAfter(err); ok {
		return river.JobSnooze(after)
	}
	return err
}

// finish records an unsuccessful attempt; a permanent one fails the
// notification and cancels the job.
func (w *Worker) finish(ctx context.Context, n *Notification, ok bool, detail string, permanent bool) error {
	n.Detail = detail
	if permanent {
		n.State = "failed"
	}
	if err := w.Store.RecordAttempt(ctx, n, w.stamp(n), ok, detail); err != nil {
		return err
	}
	if permanent {
		return river.JobCancel(errors.New(detail))
	}
	return nil
}

func (w *Worker) stamp(n *Notification) time.Time {
	if w.VirtualTime {
		return n.CreatedAt
	}
	return w.Clock().UTC()
}

func address(n *Notification) Address {
	a := Address{Name: n.Contact}
	switch n.Channel {
	case "email":
		a.Email = n.Address
	case "phone":
		a.Phone = n.Address
	case "slack":
		a.SlackWebhook = n.Address
	case "webhook":
		a.URL = n.Address
	}
	return a
}

// message renders the incident as it stands now, in the contact's language.
func (w *Worker) message(ctx context.Context, n *Notification) (Message, error) {
	inc, err := w.Store.Incident(ctx, n.Tenant, n.IncidentID)
	if err != nil {
		return Message{}, err
	}
	alerts, err := w.Store.Alerts(ctx, n.Tenant, n.IncidentID)
	if err != nil {
		return Message{}, err
	}
	acts, err := w.Store.IncidentActions(ctx, n.Tenant, n.IncidentID)
	if err != nil {
		return Message{}, err
	}
	t, ok := w.Tenants.File(n.Tenant)
	if !ok {
		return Message{}, fmt.Errorf("tenant %s is not loaded", n.Tenant)
	}
	notice := buildNotice(t, inc, alerts, acts, n)
	if n.About != "" {
		var ab SLOAbout
		if err := json.Unmarshal([]byte(n.About), &ab); err != nil {
			return Message{}, renderError{fmt.Errorf("notification %d: about: %w", n.ID, err)}
		}
		notice.Clock, notice.Percent, notice.Due = ab.Clock, ab.Percent, ab.Due
	}
	if inc.Status == ticket.StatusOpen && inc.NeedsHuman {
		notice.AckURL = w.ackURL(n.Tenant, inc.ID, n.Contact, n.Channel)
	}
	m, err := Render(notice)
	if err != nil {
		return m, renderError{err}
	}
	return m, nil
}

// renderError is a notice that cannot be rendered: retrying will not help.
type renderError struct{ error }

func (e renderError) Unwrap() error { return e.error }

func buildNotice(t *tenant.Tenant, inc *ticket.Incident, alerts []alert.Alert, acts []*response.Action,
	n *Notification) Notice {
	lang := n.Language
	if lang == "" {
		lang = t.Language
	}
	nt := Notice{TenantName: t.Name, Language: lang, IncidentID: inc.Ref, Priority: inc.Priority,
		Severity: inc.Severity, Score: inc.Score, Hosts: inc.Hosts, Techniques: inc.Techniques, Title: inc.Title,
		Location: t.Location, DetectedAt: inc.FirstSeen, Kind: Kind(n.Kind), Isolation: isolationState(acts),
		VendorAction: "none"}
	for _, e := range inc.Evidence {
		nt.Evidence = append(nt.Evidence, Evidence{Signal: e.Signal, Contribution: e.Contribution, Detail: e.DetailIn(lang)})
	}
	users := map[string]bool{}
	for _, r := range alerts {
		if u := r.User; u != "" && !users[u] {
			users[u] = true
			nt.Users = append(nt.Users, u)
		}
		if r.Action.Mitigated() {
			nt.VendorAction = string(r.Action)
		}
		if nt.Summary == "" && r.Description != "" {
			nt.Summary = r.Description
		}
	}
	return nt
}

// isolationState summarises an incident's containment for the notice: the
// least advanced state wins, since that is what needs attention.
func isolationState(acts []*response.Action) IsolationState {
	order := []response.State{response.StateFailed, response.StateAwaitingApproval, response.StateRequested, response.StateDone}
	states := map[response.State]bool{}
	for _, a := range acts {
		if a.Kind == response.KindIsolate {
			states[a.State] = true
		}
	}
	for _, s := range order {
		if states[s] {
			return IsolationState(s)
		}
	}
	return IsolationNotNeeded
}

// dryChannel renders and records a notification without delivering it
// (replay: what would have been sent, to whom, when).
type dryChannel string

func (c dryChannel) Name() string { return string(c) }

func (c dryChannel) Send(_ context.Context, _ Address, m Message) (Receipt, error) {
	return Receipt{Detail: "replay: rendered (" + m.Language + "), not delivered"}, nil
}

func (w *Worker) ackURL(tenant string, incidentID int64, contact, via string) string {
	if w.AckURL == nil {
		return ""
	}
	return w.AckURL(tenant, incidentID, contact, via)
}
