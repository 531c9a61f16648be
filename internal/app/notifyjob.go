package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/bannin-soc/bannin/internal/estate"
	"github.com/bannin-soc/bannin/internal/jobs"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// maxNotifyTries bounds delivery attempts of one notification.
const maxNotifyTries = 10

// notifyWorker delivers one notification and records every attempt.
type notifyWorker struct {
	river.WorkerDefaults[jobs.NotifyArgs]
	app      *App
	channels map[string]notify.Channel
}

func (a *App) notifyWorker() (*notifyWorker, error) {
	if a.cfg.DryRunNotify {
		w := &notifyWorker{app: a, channels: map[string]notify.Channel{}}
		for _, c := range []string{"email", "phone", "slack", "webhook"} {
			w.channels[c] = dryChannel(c)
		}
		return w, nil
	}
	w := &notifyWorker{app: a, channels: map[string]notify.Channel{"slack": notify.NewSlack(), "webhook": notify.NewHook(a.cfg.WebhookSecret)}}
	if a.cfg.Email.Host != "" {
		e, err := notify.NewEmail(a.cfg.Email)
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		w.channels["email"] = e
	}
	if a.cfg.PhoneWebhook != "" {
		w.channels["phone"] = notify.NewPhone(a.cfg.PhoneWebhook, a.cfg.PhoneSecret)
	}
	return w, nil
}

// Work sends the notification unless it was already sent (a rerun after a
// crash between send and record may send once more: mail has no idempotency).
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[jobs.NotifyArgs]) error {
	db := w.app.DB
	n, err := db.Notification(ctx, job.Args.Tenant, job.Args.NotificationID)
	if err != nil {
		return err
	}
	if n.State != "pending" {
		return nil
	}
	ch, ok := w.channels[n.Channel]
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
		return db.RecordAttempt(ctx, n, n.SentAt, true, receipt.Detail)
	}
	permanent := notify.IsPermanent(err) || n.Attempts >= maxNotifyTries
	if ferr := w.finish(ctx, n, false, err.Error(), permanent); permanent || ferr != nil {
		return ferr
	}
	if after, ok := notify.RetryAfter(err); ok {
		return river.JobSnooze(after)
	}
	return err
}

// finish records an unsuccessful attempt; a permanent one fails the
// notification and cancels the job.
func (w *notifyWorker) finish(ctx context.Context, n *sqlstore.Notification, ok bool, detail string, permanent bool) error {
	n.Detail = detail
	if permanent {
		n.State = "failed"
	}
	if err := w.app.DB.RecordAttempt(ctx, n, w.stamp(n), ok, detail); err != nil {
		return err
	}
	if permanent {
		return river.JobCancel(errors.New(detail))
	}
	return nil
}

func (w *notifyWorker) stamp(n *sqlstore.Notification) time.Time {
	if w.app.cfg.VirtualTime {
		return n.CreatedAt
	}
	return w.app.cfg.Clock().UTC()
}

func address(n *sqlstore.Notification) notify.Address {
	a := notify.Address{Name: n.Contact}
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
func (w *notifyWorker) message(ctx context.Context, n *sqlstore.Notification) (notify.Message, error) {
	db := w.app.DB
	inc, err := db.Incident(ctx, n.Tenant, n.IncidentID)
	if err != nil {
		return notify.Message{}, err
	}
	alerts, err := db.IncidentAlerts(ctx, n.Tenant, n.IncidentID)
	if err != nil {
		return notify.Message{}, err
	}
	acts, err := db.IncidentActions(ctx, n.Tenant, n.IncidentID)
	if err != nil {
		return notify.Message{}, err
	}
	rt, ok := w.app.Estate.Tenant(n.Tenant)
	if !ok {
		return notify.Message{}, fmt.Errorf("tenant %s is not loaded", n.Tenant)
	}
	notice := buildNotice(rt, inc, alerts, acts, n)
	if n.About != "" {
		var ab notify.SLOAbout
		if err := json.Unmarshal([]byte(n.About), &ab); err != nil {
			return notify.Message{}, renderError{fmt.Errorf("notification %d: about: %w", n.ID, err)}
		}
		notice.Clock, notice.Percent, notice.Due = ab.Clock, ab.Percent, ab.Due
	}
	if inc.Status == ticket.StatusOpen && inc.NeedsHuman {
		notice.AckURL = w.app.Escalation.AckURL(n.Tenant, inc.ID, n.Contact, n.Channel)
	}
	m, err := notify.Render(notice)
	if err != nil {
		return m, renderError{err}
	}
	return m, nil
}

// renderError is a notice that cannot be rendered: retrying will not help.
type renderError struct{ error }

func (e renderError) Unwrap() error { return e.error }

func buildNotice(rt *estate.Tenant, inc *ticket.Incident, alerts []sqlstore.AlertRow, acts []*response.Action,
	n *sqlstore.Notification) notify.Notice {
	t := rt.Triage.Tenant
	lang := n.Language
	if lang == "" {
		lang = t.Language
	}
	nt := notify.Notice{TenantName: t.Name, Language: lang, IncidentID: inc.Ref, Priority: inc.Priority,
		Severity: inc.Severity, Score: inc.Score, Hosts: inc.Hosts, Techniques: inc.Techniques, Title: inc.Title,
		Location: t.Location, DetectedAt: inc.FirstSeen, Kind: notify.Kind(n.Kind), Isolation: isolationState(acts),
		VendorAction: "none"}
	for _, e := range inc.Evidence {
		nt.Evidence = append(nt.Evidence, notify.Evidence{Signal: e.Signal, Contribution: e.Contribution, Detail: e.DetailIn(lang)})
	}
	users := map[string]bool{}
	for _, r := range alerts {
		if u := r.Alert.User; u != "" && !users[u] {
			users[u] = true
			nt.Users = append(nt.Users, u)
		}
		if r.Alert.Action.Mitigated() {
			nt.VendorAction = string(r.Alert.Action)
		}
		if nt.Summary == "" && r.Alert.Description != "" {
			nt.Summary = r.Alert.Description
		}
	}
	return nt
}

// isolationState summarises an incident's containment for the notice: the
// least advanced state wins, since that is what needs attention.
func isolationState(acts []*response.Action) notify.IsolationState {
	order := []response.State{response.StateFailed, response.StateAwaitingApproval, response.StateRequested, response.StateDone}
	states := map[response.State]bool{}
	for _, a := range acts {
		if a.Kind == response.KindIsolate {
			states[a.State] = true
		}
	}
	for _, s := range order {
		if states[s] {
			return notify.IsolationState(s)
		}
	}
	return notify.IsolationNotNeeded
}

// dryChannel renders and records a notification without delivering it
// (replay: what would have been sent, to whom, when).
type dryChannel string

func (c dryChannel) Name() string { return string(c) }

func (c dryChannel) Send(_ context.Context, _ notify.Address, m notify.Message) (notify.Receipt, error) {
	return notify.Receipt{Detail: "replay: rendered (" + m.Language + "), not delivered"}, nil
}
