package app

import (
	"context"
	"fmt"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// notifyWorker builds the notification worker with the channels this node
// is configured for (all of them dry in replay).
func (a *App) notifyWorker() (*notify.Worker, error) {
	w := &notify.Worker{Store: notifyStore{a.DB}, Tenants: a.Estate, AckURL: a.Escalation.AckURL, Clock: a.cfg.Clock,
		VirtualTime: a.cfg.VirtualTime}
	if a.cfg.DryRunNotify {
		w.Channels = notify.DryChannels()
		return w, nil
	}
	w.Channels = map[string]notify.Channel{"slack": notify.NewSlack(), "webhook": notify.NewHook(a.cfg.WebhookSecret)}
	if a.cfg.Email.Host != "" {
		e, err := notify.NewEmail(a.cfg.Email)
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		w.Channels["email"] = e
	}
	if a.cfg.PhoneWebhook != "" {
		w.Channels["phone"] = notify.NewPhone(a.cfg.PhoneWebhook, a.cfg.PhoneSecret)
	}
	return w, nil
}

type notifyStore struct{ *sqlstore.DB }

func (s notifyStore) Alerts(ctx context.Context, tenant string, incidentID int64) ([]alert.Alert, error) {
	rows, err := s.IncidentAlerts(ctx, tenant, incidentID)
	out := make([]alert.Alert, len(rows))
	for i, r := range rows {
		out[i] = r.Alert
	}
	return out, err
}

var _ notify.WorkerStore = notifyStore{}
