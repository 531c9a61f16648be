package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// MeterUsage counts a tenant's alerts received and incidents created in
// [from, to): distinct endpoints (host keys) over all sources and per
// source, and incidents per priority and need of a human (meter.Reader).
func (db *DB) MeterUsage(ctx context.Context, tenant string, from, to time.Time) (*meter.Usage, error) {
	u := &meter.Usage{Sources: []meter.SourceUsage{}, Incidents: []meter.IncidentCount{}}
	// An alert that named no endpoint has an empty host key: NULLIF keeps
	// it out of the distinct count (COUNT ignores NULL).
	var attributed int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(DISTINCT NULLIF(host_key, '')), COUNT(*), COUNT(NULLIF(host_key, ''))
		FROM alerts WHERE tenant=$1 AND received_at >= $2 AND received_at < $3`,
		tenant, micros(from), micros(to)).Scan(&u.Endpoints, &u.Alerts, &attributed)
	if err != nil {
		return nil, fmt.Errorf("meter endpoints: %w", err)
	}
	u.Unattributed = u.Alerts - attributed

	rows, err := db.sql.QueryContext(ctx, `SELECT source, vendor, COUNT(DISTINCT NULLIF(host_key, '')), COUNT(*)
		FROM alerts WHERE tenant=$1 AND received_at >= $2 AND received_at < $3
		GROUP BY source, vendor ORDER BY source, vendor`, tenant, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("meter endpoints by source: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s meter.SourceUsage
		if err := rows.Scan(&s.Source, &s.Vendor, &s.Endpoints, &s.Alerts); err != nil {
			return nil, err
		}
		u.Sources = append(u.Sources, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()

	rows, err = db.sql.QueryContext(ctx, `SELECT priority, needs_human, COUNT(*) FROM incidents
		WHERE tenant=$1 AND created_at >= $2 AND created_at < $3
		GROUP BY priority, needs_human ORDER BY priority, needs_human`, tenant, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("meter incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c meter.IncidentCount
		var prio string
		var human int64
		if err := rows.Scan(&prio, &human, &c.Count); err != nil {
			return nil, err
		}
		c.Priority, c.NeedsHuman = alert.Priority(prio), human != 0
		u.Incidents = append(u.Incidents, c)
	}
	return u, rows.Err()
}

// AddPurchase records a lot of prepaid option tickets bought at
// p.PurchasedAt, valid until meter.Expiry of it; it sets p.ID and
// p.ExpiresAt. The purchase is audited.
func (db *DB) AddPurchase(ctx context.Context, p *meter.Purchase, actor string) error {
	if p.Tenant == "" {
		return errors.New("prepaid purchase: no tenant")
	}
	if p.Quantity <= 0 {
		return fmt.Errorf("prepaid purchase: quantity %d: want at least 1 ticket", p.Quantity)
	}
	if p.PurchasedAt.IsZero() {
		return errors.New("prepaid purchase: no purchase time")
	}
	p.PurchasedAt = p.PurchasedAt.Truncate(time.Microsecond)
	p.ExpiresAt = meter.Expiry(p.PurchasedAt)
	return db.InTx(ctx, func(tx *Tx) error {
		now := time.Now()
		id, err := insertID(ctx, tx, `INSERT INTO prepaid_purchases (tenant, purchased_at, expires_at, quantity, note, created_at)
			VALUES ($1,$2,$3,$4,$5,$6)`, p.Tenant, micros(p.PurchasedAt), micros(p.ExpiresAt), p.Quantity, p.Note, micros(now))
		if err != nil {
			return fmt.Errorf("prepaid purchase: %w", err)
		}
		p.ID = id
		return tx.Audit(ctx, AuditEntry{Tenant: p.Tenant, At: now, Actor: actor, Action: "prepaid.purchased",
			Object: fmt.Sprintf("lot #%d", id), Detail: fmt.Sprintf("%d ticket(s) bought %s, usable until %s; %s",
				p.Quantity, p.PurchasedAt.Format(time.RFC3339), p.ExpiresAt.Format(time.RFC3339), p.Note)})
	})
}

// ConsumeTickets records option work paid with prepaid tickets, taken from
// the lots valid at c.At, oldest first. It refuses, changing nothing, when
// those lots cannot cover it — or, for work dated before uses already
// recorded, when one of those would no longer be covered — with an error
// matching meter.ErrInsufficient. A ref of the form INC-000123 must name an
// incident of the tenant (ErrNotFound otherwise); other refs (tickets) are
// kept as given. It sets c.ID and returns the lots drawn from.
func (db *DB) ConsumeTickets(ctx context.Context, c *meter.Consumption, actor string) (*meter.Use, error) {
	if c.Tenant == "" {
		return nil, errors.New("prepaid use: no tenant")
	}
	if c.Quantity <= 0 {
		return nil, fmt.Errorf("prepaid use: quantity %d: want at least 1 ticket", c.Quantity)
	}
	if strings.TrimSpace(c.Reason) == "" {
		return nil, errors.New("prepaid use: no reason: say what option work the tickets paid for")
	}
	if c.At.IsZero() {
		return nil, errors.New("prepaid use: no time")
	}
	c.At = c.At.Truncate(time.Microsecond)
	var use *meter.Use
	err := db.InTx(ctx, func(tx *Tx) error {
		// Uses of one tenant are checked against each other one at a time.
		if err := tx.LockTenant(ctx, "prepaid:"+c.Tenant); err != nil {
			return fmt.Errorf("prepaid use: lock: %w", err)
		}
		if strings.HasPrefix(strings.ToUpper(c.Ref), "INC-") {
			id, err := ticket.ParseRef(strings.ToUpper(c.Ref))
			if err != nil {
				return fmt.Errorf("prepaid use: ref %w", err)
			}
			if _, err := getIncident(ctx, tx, c.Tenant, id); err != nil {
				return fmt.Errorf("prepaid use: ref: %w", err)
			}
			c.Ref = ticket.RefFor(id)
		}
		purchases, recorded, err := prepaidLedger(ctx, tx, c.Tenant)
		if err != nil {
			return err
		}
		if use, err = meter.Check(purchases, recorded, *c); err != nil {
			return fmt.Errorf("prepaid use for tenant %s: %w", c.Tenant, err)
		}
		now := time.Now()
		id, err := insertID(ctx, tx, `INSERT INTO prepaid_consumptions (tenant, at, quantity, reason, ref, created_at)
			VALUES ($1,$2,$3,$4,$5,$6)`, c.Tenant, micros(c.At), c.Quantity, c.Reason, c.Ref, micros(now))
		if err != nil {
			return fmt.Errorf("prepaid use: %w", err)
		}
		c.ID, use.ID = id, id
		var from []string
		for _, d := range use.Draws {
			from = append(from, fmt.Sprintf("%d from lot #%d", d.Quantity, d.PurchaseID))
		}
		obj := c.Ref
		if obj == "" {
			obj = fmt.Sprintf("use #%d", id)
		}
		return tx.Audit(ctx, AuditEntry{Tenant: c.Tenant, At: now, Actor: actor, Action: "prepaid.used", Object: obj,
			Detail: fmt.Sprintf("%d ticket(s) at %s (%s): %s", c.Quantity, c.At.Format(time.RFC3339),
				strings.Join(from, ", "), c.Reason)})
	})
	if err != nil {
		return nil, err
	}
	return use, nil
}

// PrepaidLedger returns all of a tenant's ticket purchases and uses, oldest
// first (meter.Reader).
func (db *DB) PrepaidLedger(ctx context.Context, tenant string) ([]meter.Purchase, []meter.Consumption, error) {
	return prepaidLedger(ctx, db.sql, tenant)
}

// PrepaidBalance is the tenant's ticket ledger as of at (meter.Replay).
func (db *DB) PrepaidBalance(ctx context.Context, tenant string, at time.Time) (*meter.Ledger, error) {
	p, c, err := db.PrepaidLedger(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return meter.Replay(p, c, at)
}

func prepaidLedger(ctx context.Context, q queryer, tenant string) ([]meter.Purchase, []meter.Consumption, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, purchased_at, expires_at, quantity, note FROM prepaid_purchases
		WHERE tenant=$1 ORDER BY purchased_at, id`, tenant)
	if err != nil {
		return nil, nil, fmt.Errorf("prepaid purchases: %w", err)
	}
	defer rows.Close()
	purchases := []meter.Purchase{}
	for rows.Next() {
		p := meter.Purchase{Tenant: tenant}
		var at, exp int64
		if err := rows.Scan(&p.ID, &at, &exp, &p.Quantity, &p.Note); err != nil {
			return nil, nil, err
		}
		p.PurchasedAt, p.ExpiresAt = fromMicros(at), fromMicros(exp)
		purchases = append(purchases, p)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close()

	rows, err = q.QueryContext(ctx, `SELECT id, at, quantity, reason, ref FROM prepaid_consumptions
		WHERE tenant=$1 ORDER BY at, id`, tenant)
	if err != nil {
		return nil, nil, fmt.Errorf("prepaid uses: %w", err)
	}
	defer rows.Close()
	uses := []meter.Consumption{}
	for rows.Next() {
		c := meter.Consumption{Tenant: tenant}
		var at int64
		if err := rows.Scan(&c.ID, &at, &c.Quantity, &c.Reason, &c.Ref); err != nil {
			return nil, nil, err
		}
		c.At = fromMicros(at)
		uses = append(uses, c)
	}
	return purchases, uses, rows.Err()
}
