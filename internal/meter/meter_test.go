package meter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/tenant"
)

var tokyo = mustZone("Asia/Tokyo")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func jst(s string) time.Time {
	v, err := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
	if err != nil {
		panic(err)
	}
	return v
}

func TestParseMonth(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Month
		err  string
	}{
		{"2026-10", Month{2026, time.October}, ""},
		{"2026-01", Month{2026, time.January}, ""},
		{"1970-12", Month{1970, time.December}, ""},
		{"2026-1", Month{}, "want YYYY-MM"},
		{"2026/10", Month{}, "want YYYY-MM"},
		{"2026-10-01", Month{}, "want YYYY-MM"},
		{"26-10", Month{}, "want YYYY-MM"},
		{"", Month{}, "want YYYY-MM"},
		{"2026-13", Month{}, "month 01–12"},
		{"2026-00", Month{}, "month 01–12"},
		{"0999-05", Month{}, "year from 1970"},
	} {
		got, err := ParseMonth(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseMonth(%q) = %v, %v; want an error saying %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || got.String() != c.in {
			t.Errorf("ParseMonth(%q) = %v (%s), %v; want %v", c.in, got, got, err, c.want)
		}
	}
}

func TestBounds(t *testing.T) {
	for _, c := range []struct {
		m        Month
		loc      *time.Location
		from, to string // UTC
	}{
		{Month{2026, time.October}, tokyo, "2026-09-30T15:00:00Z", "2026-10-31T15:00:00Z"},
		{Month{2026, time.December}, tokyo, "2026-11-30T15:00:00Z", "2026-12-31T15:00:00Z"},
		{Month{2028, time.February}, tokyo, "2028-01-31T15:00:00Z", "2028-02-29T15:00:00Z"}, // leap year
		{Month{2026, time.October}, time.UTC, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"},
		// New York leaves summer time on 1 November 2026: October has 31 days and one hour.
		{Month{2026, time.October}, mustZone("America/New_York"), "2026-10-01T04:00:00Z", "2026-11-01T04:00:00Z"},
		{Month{2026, time.November}, mustZone("America/New_York"), "2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z"},
	} {
		from, to := c.m.Bounds(c.loc)
		if got := from.UTC().Format(time.RFC3339); got != c.from {
			t.Errorf("%s in %s starts %s, want %s", c.m, c.loc, got, c.from)
		}
		if got := to.UTC().Format(time.RFC3339); got != c.to {
			t.Errorf("%s in %s ends %s, want %s", c.m, c.loc, got, c.to)
		}
	}
	if m := MonthOf(time.Date(2026, 10, 31, 15, 30, 0, 0, time.UTC), tokyo); m != (Month{2026, time.November}) {
		t.Errorf("MonthOf(2026-10-31T15:30Z, Tokyo) = %s, want 2026-11", m)
	}
}

func TestExpiry(t *testing.T) {
	for _, c := range []struct{ bought, until string }{
		{"2026-04-01 10:00", "2027-04-01 10:00"},
		{"2028-02-29 09:00", "2029-03-01 09:00"}, // no 29 February in 2029
		{"2026-12-31 23:59", "2027-12-31 23:59"},
	} {
		if got := Expiry(jst(c.bought)); !got.Equal(jst(c.until)) {
			t.Errorf("Expiry(%s) = %s, want %s", c.bought, got.Format("2006-01-02 15:04"), c.until)
		}
	}
}

func lot(id int64, n int, bought string) Purchase {
	at := jst(bought)
	return Purchase{ID: id, Tenant: "a", PurchasedAt: at, ExpiresAt: Expiry(at), Quantity: n}
}

func spend(id int64, n int, at string) Consumption {
	return Consumption{ID: id, Tenant: "a", At: jst(at), Quantity: n, Reason: "work"}
}

func TestReplay(t *testing.T) {
	lots := []Purchase{lot(2, 5, "2025-10-01 10:00"), lot(1, 10, "2025-04-01 10:00")} // out of order on purpose
	for _, c := range []struct {
		name      string
		uses      []Consumption
		at        string
		available int
		draws     [][]Draw
		expired   []int // per lot, oldest first
		short     int64 // id of the consumption that falls short
	}{
		{name: "nothing used", at: "2025-12-01 00:00", available: 15, expired: []int{0, 0}},
		{name: "before any purchase", at: "2025-03-01 00:00", available: 0},
		{name: "only the older lot bought", at: "2025-05-01 00:00", available: 10, expired: []int{0}},
		{name: "oldest first", uses: []Consumption{spend(1, 4, "2025-11-01 09:00")}, at: "2025-12-01 00:00",
			available: 11, draws: [][]Draw{{{1, 4}}}, expired: []int{0, 0}},
		{name: "across two lots", uses: []Consumption{spend(1, 4, "2025-11-01 09:00"), spend(2, 8, "2025-12-01 09:00")},
			at: "2025-12-02 00:00", available: 3, draws: [][]Draw{{{1, 4}}, {{1, 6}, {2, 2}}}, expired: []int{0, 0}},
		{name: "uses after the instant are left out", uses: []Consumption{spend(1, 4, "2025-11-01 09:00"), spend(2, 8, "2025-12-01 09:00")},
			at: "2025-11-15 00:00", available: 11, draws: [][]Draw{{{1, 4}}}, expired: []int{0, 0}},
		{name: "the older lot expires unused", uses: []Consumption{spend(1, 4, "2025-11-01 09:00")},
			at: "2026-04-01 10:00", available: 5, draws: [][]Draw{{{1, 4}}}, expired: []int{6, 0}},
		{name: "the last instant of validity", uses: []Consumption{spend(1, 4, "2025-11-01 09:00")},
			at: "2026-04-01 09:59", available: 11, draws: [][]Draw{{{1, 4}}}, expired: []int{0, 0}},
		{name: "a use at expiry takes the newer lot", uses: []Consumption{spend(1, 3, "2026-04-01 10:00")},
			at: "2026-04-02 00:00", available: 2, draws: [][]Draw{{{2, 3}}}, expired: []int{10, 0}},
		{name: "both expired", uses: []Consumption{spend(1, 1, "2025-11-01 09:00")},
			at: "2026-10-01 10:00", available: 0, draws: [][]Draw{{{1, 1}}}, expired: []int{9, 5}},
		{name: "same instant: by id", uses: []Consumption{spend(7, 10, "2025-11-01 09:00"), spend(3, 2, "2025-11-01 09:00")},
			at: "2025-11-02 00:00", available: 3, draws: [][]Draw{{{1, 2}}, {{1, 8}, {2, 2}}}, expired: []int{0, 0}},
		{name: "short", uses: []Consumption{spend(1, 4, "2025-11-01 09:00"), spend(2, 12, "2025-12-01 09:00")},
			at: "2026-01-01 00:00", short: 2},
		{name: "short after expiry", uses: []Consumption{spend(1, 6, "2026-04-01 10:00")}, at: "2026-05-01 00:00", short: 1},
		{name: "short before purchase", uses: []Consumption{spend(1, 1, "2025-04-01 09:59")}, at: "2026-05-01 00:00", short: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			led, err := Replay(lots, c.uses, jst(c.at))
			if c.short != 0 {
				var ie *InsufficientError
				if !errors.As(err, &ie) || !errors.Is(err, ErrInsufficient) || ie.Consumption.ID != c.short {
					t.Fatalf("got %v, want use %d short", err, c.short)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if led.Available != c.available {
				t.Errorf("available %d, want %d", led.Available, c.available)
			}
			var draws [][]Draw
			for _, u := range led.Uses {
				draws = append(draws, u.Draws)
			}
			if d := cmp.Diff(c.draws, draws); d != "" {
				t.Errorf("draws (-want +got):\n%s", d)
			}
			var expired []int
			sum := 0
			for _, l := range led.Lots {
				expired = append(expired, l.Expired)
				sum += l.Used + l.Expired + l.Remaining
				if l.Used+l.Expired+l.Remaining != l.Quantity {
					t.Errorf("lot %d: used %d + expired %d + remaining %d != %d", l.ID, l.Used, l.Expired, l.Remaining, l.Quantity)
				}
			}
			if d := cmp.Diff(c.expired, expired); d != "" {
				t.Errorf("expired (-want +got):\n%s", d)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	lots := []Purchase{lot(1, 10, "2025-04-01 10:00"), lot(2, 5, "2025-10-01 10:00")}
	recorded := []Consumption{spend(1, 4, "2025-11-01 09:00"), spend(2, 5, "2026-03-31 12:00")}
	for _, c := range []struct {
		name  string
		c     Consumption
		draws []Draw
		err   string
	}{
		{"fits", spend(0, 1, "2026-03-31 13:00"), []Draw{{1, 1}}, ""},
		{"fits at the same instant as a recorded use, after it", spend(0, 2, "2026-03-31 12:00"), []Draw{{1, 1}, {2, 1}}, ""},
		{"too many now", spend(0, 7, "2026-03-31 13:00"), nil, "only 6 valid"},
		{"back-dated, the later use falls short", spend(0, 7, "2025-12-01 09:00"), nil, "would leave use #2"},
		{"back-dated, the later use still covered", spend(0, 6, "2025-12-01 09:00"), []Draw{{1, 6}}, ""},
		{"after everything expired", spend(0, 1, "2026-10-01 10:00"), nil, "only 0 valid"},
		{"no tickets", spend(0, 0, "2026-01-01 00:00"), nil, "at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := Check(lots, recorded, c.c)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, %v; want an error saying %q", u, err, c.err)
				}
				var ie *InsufficientError
				if errors.As(err, &ie) && ie.Consumption.ID != 0 {
					t.Errorf("the candidate's error carries id %d, want 0", ie.Consumption.ID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.draws, u.Draws); d != "" || u.ID != 0 {
				t.Errorf("use %d, draws (-want +got):\n%s", u.ID, d)
			}
		})
	}
}

// fakeReader answers Compute from fixed rows.
type fakeReader struct {
	usage     Usage
	from, to  time.Time
	purchases []Purchase
	uses      []Consumption
}

func (f *fakeReader) MeterUsage(_ context.Context, tenantID string, from, to time.Time) (*Usage, error) {
	if tenantID != "hokuto" {
		return nil, errors.New("wrong tenant")
	}
	f.from, f.to = from, to
	u := f.usage
	return &u, nil
}

func (f *fakeReader) PrepaidLedger(context.Context, string) ([]Purchase, []Consumption, error) {
	return f.purchases, f.uses, nil
}

func sample(lang string) (*fakeReader, *tenant.Tenant) {
	r := &fakeReader{
		usage: Usage{Endpoints: 12, Alerts: 340, Unattributed: 2,
			Sources: []SourceUsage{
				{Source: "falcon", Vendor: "crowdstrike", Endpoints: 10, Alerts: 300},
				{Source: "s1", Vendor: "sentinelone", Endpoints: 3, Alerts: 40},
			},
			Incidents: []IncidentCount{
				{Priority: alert.P0, NeedsHuman: true, Count: 1},
				{Priority: alert.P2, NeedsHuman: true, Count: 1},
				{Priority: alert.P2, Count: 3},
			}},
		purchases: []Purchase{
			lot(1, 10, "2025-10-15 10:00"), // expires 2026-10-15 10:00, inside October 2026
			lot(2, 20, "2026-10-01 09:00"),
			lot(3, 5, "2026-11-02 09:00"), // after the month
		},
		uses: []Consumption{
			spend(1, 7, "2026-01-10 12:00"),
			{ID: 2, Tenant: "hokuto", At: jst("2026-10-20 15:00"), Quantity: 4, Reason: "forensic analysis", Ref: "INC-000042"},
			spend(3, 1, "2026-11-03 09:00"), // after the month
		},
	}
	return r, &tenant.Tenant{ID: "hokuto", Name: "北斗精機株式会社", Language: lang, Timezone: "Asia/Tokyo", Location: tokyo}
}

func TestCompute(t *testing.T) {
	r, tn := sample("en")
	rep, err := Compute(t.Context(), r, tn, Month{2026, time.October}, jst("2026-11-23 12:00"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.from.Equal(jst("2026-10-01 00:00")) || !r.to.Equal(jst("2026-11-01 00:00")) {
		t.Errorf("usage asked for [%s, %s), want October in Tokyo", r.from, r.to)
	}
	if rep.Endpoints.Distinct != 12 || rep.Endpoints.Alerts != 340 || rep.Endpoints.Unattributed != 2 || len(rep.Endpoints.BySource) != 2 {
		t.Errorf("endpoints %+v", rep.Endpoints)
	}
	wantInc := Incidents{Handled: 5, NeedsHuman: 2, Automatic: 3, ByPriority: []PriorityCount{
		{alert.P0, 1, 1, 0}, {alert.P1, 0, 0, 0}, {alert.P2, 4, 1, 3}, {alert.P3, 0, 0, 0}}}
	if d := cmp.Diff(wantInc, rep.Incidents); d != "" {
		t.Errorf("incidents (-want +got):\n%s", d)
	}
	p := rep.Prepaid
	// Lot 1: 10 bought, 7 used in January, 3 expire on 15 October. Lot 2:
	// 20 bought on 1 October, 4 used on 20 October.
	if p.Purchased != 20 || p.Used != 4 || p.Expired != 3 || p.Balance != 16 {
		t.Errorf("prepaid bought %d used %d expired %d balance %d; want 20, 4, 3, 16", p.Purchased, p.Used, p.Expired, p.Balance)
	}
	if !p.AsOf.Equal(jst("2026-11-01 00:00").Add(-time.Microsecond)) || p.AsOf.Location() != tokyo {
		t.Errorf("as of %s, want the month's last microsecond in Tokyo", p.AsOf)
	}
	if len(p.Uses) != 1 || p.Uses[0].Ref != "INC-000042" || len(p.ExpiredLots) != 1 || p.ExpiredLots[0].ID != 1 ||
		len(p.ValidLots) != 1 || p.ValidLots[0].ID != 2 || p.ValidLots[0].Remaining != 16 {
		t.Errorf("prepaid lists: %+v", p)
	}

	// While the month runs, the tickets are as of now.
	rep, err = Compute(t.Context(), r, tn, Month{2026, time.October}, jst("2026-10-10 00:00"))
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Prepaid; p.Balance != 23 || p.Expired != 0 || p.Used != 0 || !p.AsOf.Equal(jst("2026-10-10 00:00")) {
		t.Errorf("mid-month prepaid %+v; want balance 23 as of 10 October", p)
	}

	if _, err := Compute(t.Context(), r, &tenant.Tenant{ID: "hokuto"}, Month{2026, time.October}, time.Now()); err == nil {
		t.Error("a tenant without a zone: no error")
	}
	r.uses = append(r.uses, spend(9, 100, "2026-10-02 00:00"))
	if _, err := Compute(t.Context(), r, tn, Month{2026, time.October}, time.Now()); !errors.Is(err, ErrInsufficient) {
		t.Errorf("an unbalanced ledger: %v, want ErrInsufficient", err)
	}
}

func TestReportJSON(t *testing.T) {
	r, tn := sample("ja")
	rep, err := Compute(t.Context(), r, tn, Month{2026, time.October}, jst("2026-11-23 12:00"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{
		{"tenant"}, {"month"}, {"timezone"}, {"from"}, {"to"},
		{"endpoints", "distinct"}, {"endpoints", "by_source"}, {"endpoints", "alerts_without_endpoint"},
		{"incidents", "handled"}, {"incidents", "needs_human"}, {"incidents", "automatic"}, {"incidents", "by_priority"},
		{"prepaid", "balance"}, {"prepaid", "purchased"}, {"prepaid", "used"}, {"prepaid", "expired"}, {"prepaid", "valid_lots"},
	} {
		var v any = m
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		if v == nil {
			t.Errorf("JSON has no %s", strings.Join(path, "."))
		}
	}
	if m["from"] != "2026-10-01T00:00:00+09:00" || m["month"] != "2026-10" {
		t.Errorf("from %v, month %v: want the month in the tenant's zone", m["from"], m["month"])
	}
}

func TestReportText(t *testing.T) {
	for _, c := range []struct {
		lang string
		want []string
	}{
		{"en", []string{
			"Metering for hokuto (北斗精機株式会社), 2026-10",
			"Period: 2026-10-01 00:00 – 2026-11-01 00:00 (Asia/Tokyo)",
			"Endpoints seen (ID-based billing): 12",
			"  falcon  crowdstrike         10     300",
			"counts once in the total",
			"2 alert(s) named no endpoint",
			"Incidents handled (per-handling billing): 5 (human needed 2, automatic 3)",
			"  P2            4             1          3",
			"Prepaid option tickets (valid 1 year from purchase), as of 2026-10-31 23:59:",
			"  bought this month          20\n",
			"  used this month             4\n",
			"  expired unused this month   3\n",
			"  balance                    16\n",
			"#2 bought 2026-10-01: 16 of 20 left, usable until 2027-10-01 09:00",
			"2026-10-20 15:00  4 ticket(s)  INC-000042 forensic analysis (from #2×4)",
			"Expired this month:",
			"#1 bought 2025-10-15: 3 of 10 unused when it expired at 2026-10-15 10:00",
		}},
		{"ja", []string{
			"利用実績 hokuto (北斗精機株式会社) 2026年10月",
			"対象期間: 2026-10-01 00:00 〜 2026-11-01 00:00 (Asia/Tokyo)",
			"検知端末数(ID数課金): 12台",
			"複数のソースで検知された端末は合計では1台と数えます。",
			"端末を特定できないアラート 2件",
			"対応件数(対応件数課金): 5件(人による対応 2件、自動対応 3件)",
			"オプションチケット(購入から1年間有効) 2026-10-31 23:59時点:",
			"  ソース  製品         端末数  アラート数\n  falcon  crowdstrike      10         300\n",
			"  当月購入          20枚\n",
			"  当月失効(未使用)   3枚\n",
			"#1 2025-10-15購入: 未使用3枚(購入10枚)が 2026-10-15 10:00 に失効",
			"#2 2026-10-01購入: 残り16枚(購入20枚)、有効期限 2027-10-01 09:00",
			"2026-10-20 15:00  4枚  INC-000042 forensic analysis(#2×4から)",
		}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			r, tn := sample(c.lang)
			rep, err := Compute(t.Context(), r, tn, Month{2026, time.October}, jst("2026-11-23 12:00"))
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := rep.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, b.String())
				}
			}
			other := map[string]string{"en": "検知端末数", "ja": "Endpoints seen"}[c.lang]
			if strings.Contains(b.String(), other) {
				t.Errorf("%s text holds the other language's %q", c.lang, other)
			}
		})
	}
}

func TestLedgerText(t *testing.T) {
	led, err := Replay([]Purchase{lot(1, 10, "2026-04-01 10:00")}, []Consumption{spend(1, 3, "2026-05-01 10:00")}, jst("2026-06-01 00:00").UTC())
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{
		"en": "Prepaid option tickets of hokuto as of 2026-06-01 00:00: 7 usable\n  Usable lots:\n    #1 bought 2026-04-01: 7 of 10 left, usable until 2027-04-01 10:00\n",
		"ja": "hokuto のオプションチケット 2026-06-01 00:00時点: 利用可能 7枚\n  利用可能なチケット:\n    #1 2026-04-01購入: 残り7枚(購入10枚)、有効期限 2027-04-01 10:00\n",
	} {
		var b bytes.Buffer
		if err := led.In(tokyo).WriteText(&b, "hokuto", lang); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s:\n got %q\nwant %q", lang, b.String(), want)
		}
	}
}
