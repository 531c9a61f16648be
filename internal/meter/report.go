package meter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bannin-soc/bannin/internal/tenant"
)

// Reader is what Compute needs from the store (sqlstore.DB has it).
type Reader interface {
	// MeterUsage counts the tenant's alerts received and incidents created
	// in [from, to).
	MeterUsage(ctx context.Context, tenant string, from, to time.Time) (*Usage, error)
	// PrepaidLedger returns all of the tenant's ticket purchases and
	// consumptions.
	PrepaidLedger(ctx context.Context, tenant string) ([]Purchase, []Consumption, error)
}

// Report is a tenant's metering for one month: what both billing models
// count, and the prepaid tickets.
type Report struct {
	Tenant     string `json:"tenant"`
	TenantName string `json:"tenant_name,omitempty"`
	Language   string `json:"language"` // of the text form: ja or en
	Month      string `json:"month"`    // YYYY-MM
	Timezone   string `json:"timezone"`
	// The month is [From, To) in the tenant's zone.
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Endpoints Endpoints `json:"endpoints"`
	Incidents Incidents `json:"incidents"`
	Prepaid   Prepaid   `json:"prepaid"`
}

// Endpoints is the ID-based billing count (ID数課金): distinct endpoints
// alerts were received from in the month.
type Endpoints struct {
	Distinct int `json:"distinct"` // all sources together; an endpoint counts once
	Alerts   int `json:"alerts"`
	// Unattributed alerts named no endpoint and count towards none.
	Unattributed int           `json:"alerts_without_endpoint"`
	BySource     []SourceUsage `json:"by_source"`
}

// Incidents is the per-handling billing count (対応件数課金): incidents
// created in the month.
type Incidents struct {
	Handled    int             `json:"handled"`
	NeedsHuman int             `json:"needs_human"`
	Automatic  int             `json:"automatic"`
	ByPriority []PriorityCount `json:"by_priority"` // P0–P3, always all four
}

// Prepaid is the option tickets as of AsOf: the end of the month, or the
// report's time while the month is still running.
type Prepaid struct {
	AsOf      time.Time `json:"as_of"`
	Purchased int       `json:"purchased"` // bought in the month
	Used      int       `json:"used"`      // consumed in the month
	Expired   int       `json:"expired"`   // left unused by lots whose year ended in the month
	Balance   int       `json:"balance"`   // usable at AsOf
	// Purchases and Uses are those of the month; ExpiredLots the lots that
	// expired in the month with tickets left; ValidLots the lots usable at
	// AsOf with tickets left, soonest expiry first.
	Purchases   []Purchase `json:"purchases"`
	Uses        []Use      `json:"uses"`
	ExpiredLots []Lot      `json:"expired_lots"`
	ValidLots   []Lot      `json:"valid_lots"`
}

// Compute builds the report of tenant t for month m; now bounds the
// prepaid figures of a month still running.
func Compute(ctx context.Context, r Reader, t *tenant.Tenant, m Month, now time.Time) (*Report, error) {
	if t == nil || t.Location == nil {
		return nil, errors.New("meter: the tenant has no time zone")
	}
	loc := t.Location
	from, to := m.Bounds(loc)
	rep := &Report{Tenant: t.ID, TenantName: t.Name, Language: t.Language, Month: m.String(),
		Timezone: loc.String(), From: from, To: to}

	u, err := r.MeterUsage(ctx, t.ID, from, to)
	if err != nil {
		return nil, err
	}
	rep.Endpoints = Endpoints{Distinct: u.Endpoints, Alerts: u.Alerts, Unattributed: u.Unattributed,
		BySource: nonNilSlice(u.Sources)}
	rep.Incidents.ByPriority = byPriority(u.Incidents)
	for _, c := range u.Incidents {
		rep.Incidents.Handled += c.Count
		if c.NeedsHuman {
			rep.Incidents.NeedsHuman += c.Count
		} else {
			rep.Incidents.Automatic += c.Count
		}
	}

	purchases, consumptions, err := r.PrepaidLedger(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	asOf := to.Add(-time.Microsecond) // the store keeps microseconds
	if !now.Before(from) && now.Before(asOf) {
		asOf = now
	}
	led, err := Replay(purchases, consumptions, asOf)
	if err != nil {
		return nil, fmt.Errorf("prepaid tickets of tenant %s do not balance: %w", t.ID, err)
	}
	p := Prepaid{AsOf: asOf.In(loc), Balance: led.Available, Purchases: []Purchase{}, Uses: []Use{},
		ExpiredLots: []Lot{}, ValidLots: []Lot{}}
	in := func(x time.Time) bool { return !x.Before(from) && !x.After(asOf) }
	for _, l := range led.Lots {
		l.Purchase = l.Purchase.in(loc)
		if in(l.PurchasedAt) {
			p.Purchased += l.Quantity
			p.Purchases = append(p.Purchases, l.Purchase)
		}
		if in(l.ExpiresAt) && l.Expired > 0 {
			p.Expired += l.Expired
			p.ExpiredLots = append(p.ExpiredLots, l)
		}
		if l.Remaining > 0 {
			p.ValidLots = append(p.ValidLots, l) // oldest purchase, so soonest expiry, first
		}
	}
	for _, use := range led.Uses {
		if in(use.At) {
			use.At = use.At.In(loc)
			p.Used += use.Quantity
			p.Uses = append(p.Uses, use)
		}
	}
	rep.Prepaid = p
	return rep, nil
}

func (p Purchase) in(loc *time.Location) Purchase {
	p.PurchasedAt, p.ExpiresAt = p.PurchasedAt.In(loc), p.ExpiresAt.In(loc)
	return p
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
