package app

import (
	"context"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/view"
)

// The domain packages declare the transactions they work in with their own
// Tx interfaces; these adapters begin a store transaction and hand it on
// as that interface. *sqlstore.Tx implements each (checked in sqlstore).

type responseStore struct{ db *sqlstore.DB }

func (s responseStore) InTx(ctx context.Context, fn func(response.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sqlstore.Tx) error { return fn(tx) })
}

type viewStore struct{ *sqlstore.DB }

func (s viewStore) AlertsOf(ctx context.Context, tenant string, incidentID int64) ([]view.AlertOut, error) {
	rows, err := s.IncidentAlerts(ctx, tenant, incidentID)
	if err != nil {
		return nil, err
	}
	var out []view.AlertOut
	for _, r := range rows {
		out = append(out, view.AlertOut{VendorID: r.Alert.VendorID, Vendor: r.Alert.Vendor, Host: alert.HostKey(r.Alert.Host),
			Title: r.Alert.Title, Disposition: r.Disposition, Score: r.Score, Reason: r.Reason, Received: r.Alert.Received})
	}
	return out, nil
}

var (
	_ slo.Store  = (*sqlstore.DB)(nil)
	_ view.Store = viewStore{}
)

type escalationStore struct{ *sqlstore.DB }

func (s escalationStore) InTx(ctx context.Context, fn func(escalation.Tx) error) error {
	return s.DB.InTx(ctx, func(tx *sqlstore.Tx) error { return fn(tx) })
}

func (s escalationStore) TryLease(ctx context.Context, key string) (escalation.Lease, bool, error) {
	l, ok, err := s.DB.TryLease(ctx, key)
	if l == nil {
		return nil, ok, err
	}
	return l, ok, err
}

var _ escalation.Store = escalationStore{}
