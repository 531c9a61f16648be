package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// RecordReportSent records that a report was delivered, audited. The first
// record wins: recording again changes nothing and returns the first, with
// fresh false.
func (db *DB) RecordReportSent(ctx context.Context, tenant string, r ReportSent) (got *ReportSent, fresh bool, err error) {
	if strings.TrimSpace(r.By) == "" || r.Kind == "" || r.Period == "" {
		return nil, false, fmt.Errorf("%w: a report delivery names its kind, period and who sent it", ErrConflict)
	}
	err = db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO reports_sent (tenant, kind, period, sent_at, sent_by, note)
			VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (tenant, kind, period) DO NOTHING`,
			tenant, r.Kind, r.Period, micros(r.At), r.By, r.Note)
		if err != nil {
			return fmt.Errorf("record report: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			got, err = reportSent(ctx, tx, tenant, r.Kind, r.Period)
			return err
		}
		got, fresh = &r, true
		return tx.Audit(ctx, AuditEntry{Tenant: tenant, At: r.At, Actor: r.By, Action: "report.sent",
			Object: r.Kind + ":" + r.Period, Detail: r.Note})
	})
	return got, fresh, err
}

// ReportDelivery returns the delivery of a tenant's report, or nil.
func (db *DB) ReportDelivery(ctx context.Context, tenant, kind, period string) (*ReportSent, error) {
	return reportSent(ctx, db.sql, tenant, kind, period)
}

func reportSent(ctx context.Context, q queryer, tenant, kind, period string) (*ReportSent, error) {
	r := ReportSent{Kind: kind, Period: period}
	var at int64
	err := q.QueryRowContext(ctx, `SELECT sent_at, sent_by, note FROM reports_sent WHERE tenant=$1 AND kind=$2 AND period=$3`,
		tenant, kind, period).Scan(&at, &r.By, &r.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report delivery: %w", err)
	}
	r.At = fromMicros(at)
	return &r, nil
}
