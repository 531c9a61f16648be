package slo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// ClockMonthlyReport is the monthly-report clock: from the start day (起点日)
// of the month after the report's month to the report's delivery, within
// monthly_report business days (seed 000).
const ClockMonthlyReport = "monthly_report"

// ReportMonthly is the kind of a monthly report's delivery record.
const ReportMonthly = "monthly"

// ClockPCR is the allowlist-request clock: a PCR ticket's receipt → applied
// or refused, within pcr business days (seed 000: 5営業日).
const ClockPCR = "pcr"

// Attainment is a tenant's SLO attainment over one month (in its zone):
// every clock that started in the month, counted by how it ended.
type Attainment struct {
	Tenant   string            `json:"tenant"`
	Month    string            `json:"month"`
	Language string            `json:"-"`
	Clocks   []ClockAttainment `json:"clocks"`
	// Misses are the breached clocks, for the report's follow-up.
	Misses []ClockMiss `json:"misses"`
}

// ClockAttainment counts one clock's outcomes. Attainment is met over met
// plus breached, in percent (null with nothing decided); running and
// excluded clocks do not count.
type ClockAttainment struct {
	Name       string   `json:"name"`
	Total      int      `json:"total"`
	Met        int      `json:"met"`
	Breached   int      `json:"breached"`
	Running    int      `json:"running"`
	Excluded   int      `json:"excluded"`
	Attainment *float64 `json:"attainment_pct"`
}

// ClockMiss is one breached clock.
type ClockMiss struct {
	Object  string     `json:"object"` // INC-… or TKT-…
	Clock   string     `json:"clock"`
	Started time.Time  `json:"started"`
	Due     time.Time  `json:"due"`
	Stopped *time.Time `json:"stopped"`
}

// Attainment computes a tenant's month: the incident clocks of every
// incident that needed a human and was first seen in the month, the PCR
// clock of every PCR ticket received in it, and the clock of the monthly
// report that falls due in it (the previous month's).
// The tenant is its contract as parsed (a running tenant, or a stored one
// read with tenant.WithoutFiles).
func (tr *Tracker) Attainment(ctx context.Context, t *tenant.Tenant, m meter.Month) (*Attainment, error) {
	tenantID := t.ID
	from, to := m.Bounds(t.Location)
	in := func(at time.Time) bool { return !at.Before(from) && at.Before(to) }
	all, err := tr.Store.Incidents(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var incs []*ticket.Incident
	for _, inc := range all {
		if inc.NeedsHuman && in(inc.FirstSeen) {
			incs = append(incs, inc)
		}
	}
	out := &Attainment{Tenant: tenantID, Month: m.String(), Language: t.Language, Misses: []ClockMiss{}}
	counts := map[string]*ClockAttainment{}
	add := func(object string, c Clock) {
		ca := counts[c.Name]
		if ca == nil {
			ca = &ClockAttainment{Name: c.Name}
			counts[c.Name] = ca
		}
		ca.Total++
		switch {
		case c.Excluded != "":
			ca.Excluded++
		case c.State == Met:
			ca.Met++
		case c.State == Breached:
			ca.Breached++
			out.Misses = append(out.Misses, ClockMiss{Object: object, Clock: c.Name, Started: c.Started, Due: c.Due, Stopped: c.Stopped})
		default:
			ca.Running++
		}
	}
	if len(incs) > 0 {
		cv, err := tr.ViewFor(ctx, t, incs)
		if err != nil {
			return nil, err
		}
		for _, inc := range incs {
			acts, err := tr.Store.IncidentActions(ctx, tenantID, inc.ID)
			if err != nil {
				return nil, err
			}
			ns, err := tr.Store.IncidentNotifications(ctx, tenantID, inc.ID)
			if err != nil {
				return nil, err
			}
			for _, c := range cv.Clocks(inc, acts, ns) {
				add(inc.Ref, c)
			}
		}
	}
	pcrs, err := tr.Store.Tickets(ctx, tenantID, ticket.Filter{Kind: ticket.KindPCR})
	if err != nil {
		return nil, err
	}
	for _, tk := range pcrs {
		if in(tk.CreatedAt) {
			c, err := tr.PCRClock(t, tk)
			if err != nil {
				return nil, err
			}
			add(tk.Ref, c)
		}
	}
	// The monthly report whose clock starts in this month: the previous
	// month's, due monthly_report business days after this start day.
	prev := m.Prev()
	if c, err := tr.MonthlyReportClock(ctx, t, prev); err != nil {
		return nil, err
	} else if !c.Started.After(tr.Clock()) {
		add(ReportMonthly+":"+prev.String(), c)
	}
	order := []string{ClockNotification, ClockFirstResponse, ClockPCR, ClockMonthlyReport}
	for _, name := range order {
		if ca := counts[name]; ca != nil {
			if d := ca.Met + ca.Breached; d > 0 {
				p := float64(ca.Met) * 100 / float64(d)
				ca.Attainment = &p
			}
			out.Clocks = append(out.Clocks, *ca)
		}
	}
	if out.Clocks == nil {
		out.Clocks = []ClockAttainment{}
	}
	slices.SortStableFunc(out.Misses, func(x, y ClockMiss) int { return x.Started.Compare(y.Started) })
	return out, nil
}

// MonthlyReportClock is the clock of the monthly report for month m (the
// period from its start day to the day before the next month's): it starts
// at 00:00 on the next month's start day in the tenant's zone and is due at
// the close of the monthly_report-th business day after it; the
// report's recorded delivery stops it (seed 000: レポート対象月の翌月の起点日
// → 送付).
func (tr *Tracker) MonthlyReportClock(ctx context.Context, t *tenant.Tenant, m meter.Month) (Clock, error) {
	cal, err := NewCalendar(t.Hours, t.Location, true)
	if err != nil {
		return Clock{}, err
	}
	started := time.Date(m.Year, m.Month, t.SLO.StartDay, 0, 0, 0, 0, t.Location).AddDate(0, 1, 0)
	sent, err := tr.Store.ReportDelivery(ctx, t.ID, ReportMonthly, m.String())
	if err != nil {
		return Clock{}, err
	}
	var stopped time.Time
	if sent != nil {
		stopped = sent.At
	}
	c := NewDayClock(cal, ClockMonthlyReport, started, t.SLO.MonthlyReport, stopped, tr.Clock().UTC())
	if e, ok := t.SLO.Excluded(started); ok {
		c.Excluded = e.Reason
	}
	return c, nil
}

// PCRClock is a PCR ticket's clock: from its receipt to the decision
// (applied or refused), due at the close of service hours on the
// pcr-th business day after the day of receipt.
func (tr *Tracker) PCRClock(t *tenant.Tenant, tk *ticket.Ticket) (Clock, error) {
	cal, err := NewCalendar(t.Hours, t.Location, true)
	if err != nil {
		return Clock{}, err
	}
	var stopped time.Time
	if tk.PCR != nil && tk.PCR.Decision != ticket.DecisionNone {
		stopped = tk.PCR.DecidedAt
	}
	c := NewDayClock(cal, ClockPCR, tk.CreatedAt, t.SLO.PCR, stopped, tr.Clock().UTC())
	if e, ok := t.SLO.Excluded(tk.CreatedAt); ok {
		c.Excluded = e.Reason
	}
	return c, nil
}

// WriteText prints the attainment as a table, in the tenant's language.
func (r *Attainment) WriteText(w io.Writer) error {
	ja := r.Language == "ja"
	names := map[string][2]string{
		ClockNotification:  {"通知連絡", "notification"},
		ClockFirstResponse: {"1次レスポンス", "first response"},
		ClockPCR:           {"PCR（許可リスト申請）", "PCR (allowlist request)"},
		ClockMonthlyReport: {"月次レポート", "monthly report"},
	}
	pick := func(p [2]string) string {
		if ja {
			return p[0]
		}
		return p[1]
	}
	fmt.Fprintln(w, pick([2]string{fmt.Sprintf("%s の SLO 達成状況（%s）", r.Tenant, r.Month), fmt.Sprintf("SLO attainment of %s, %s", r.Tenant, r.Month)}))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, pick([2]string{"時計\t件数\t達成\t未達\t計測中\t対象外\t達成率", "CLOCK\tTOTAL\tMET\tBREACHED\tRUNNING\tEXCLUDED\tATTAINMENT"}))
	for _, c := range r.Clocks {
		pct := "-"
		if c.Attainment != nil {
			pct = fmt.Sprintf("%.1f%%", *c.Attainment)
		}
		name, ok := names[c.Name]
		label := c.Name
		if ok {
			label = pick(name)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", label, c.Total, c.Met, c.Breached, c.Running, c.Excluded, pct)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Clocks) == 0 {
		fmt.Fprintln(w, pick([2]string{"この月に開始した時計はありません。", "No clock started in this month."}))
	}
	for _, m := range r.Misses {
		stopped := pick([2]string{"未停止", "still running"})
		if m.Stopped != nil {
			stopped = m.Stopped.Format(time.RFC3339)
		}
		name := m.Clock
		if n, ok := names[m.Clock]; ok {
			name = pick(n)
		}
		fmt.Fprintf(w, "%s %s %s: %s %s, %s %s\n", pick([2]string{"未達", "breached"}), m.Object, name,
			pick([2]string{"期限", "due"}), m.Due.Format(time.RFC3339), pick([2]string{"停止", "stopped"}), stopped)
	}
	return nil
}

// TicketView is a ticket with its clocks (a PCR's decision clock).
type TicketView struct {
	*ticket.Ticket
	Clocks []Clock `json:"clocks"`
	// VendorEscalations are the requests to the EDR maker and answers.
	VendorEscalations []ticket.VendorEscalation `json:"vendor_escalations"`
}

// TicketView loads a ticket of the tenant with its clocks.
func (tr *Tracker) TicketView(ctx context.Context, t *tenant.Tenant, id int64) (*TicketView, error) {
	tk, err := tr.Store.Ticket(ctx, t.ID, id)
	if err != nil {
		return nil, err
	}
	v := &TicketView{Ticket: tk, Clocks: []Clock{}}
	if v.VendorEscalations, err = tr.Store.VendorEscalations(ctx, t.ID, id); err != nil {
		return nil, err
	}
	if tk.Kind == ticket.KindPCR {
		c, err := tr.PCRClock(t, tk)
		if err != nil {
			return nil, err
		}
		v.Clocks = append(v.Clocks, c)
	}
	return v, nil
}

// RecordMonthlyReport records that the monthly report for month m was
// delivered to the customer, which stops its clock. The first record wins.
func (tr *Tracker) RecordMonthlyReport(ctx context.Context, t *tenant.Tenant, m meter.Month, at time.Time, by, note string) (*ticket.ReportSent, bool, error) {
	if at.IsZero() {
		at = tr.Clock().UTC()
	}
	start := time.Date(m.Year, m.Month, t.SLO.StartDay, 0, 0, 0, 0, t.Location).AddDate(0, 1, 0)
	if at.After(tr.Clock().Add(time.Minute)) {
		return nil, false, fmt.Errorf("%w: a report cannot be recorded as sent in the future (%s)", ticket.ErrInvalid, at.Format(time.RFC3339))
	}
	if at.Before(start) {
		return nil, false, fmt.Errorf("%w: the report for %s cannot be sent before its month ends (%s)", ticket.ErrInvalid,
			m, start.Format(time.RFC3339))
	}
	return tr.Store.RecordReportSent(ctx, t.ID, ticket.ReportSent{Kind: ReportMonthly, Period: m.String(), At: at.UTC(), By: by, Note: note})
}
