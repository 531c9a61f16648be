package meter

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// labels are the words of the text form in one language.
type labels struct {
	title, period                                  string
	endpoints, endpointsNote, unattributed         string
	srcHead                                        string
	incidents, prioHead                            string
	prepaid, bought, used, expired, balance, lots  string
	lot, uses, use, from, expiredLots, none, count string
	expLot                                         string
	asOf                                           string
}

var text = map[string]labels{
	"en": {
		title:         "Metering for %s, %s",
		period:        "Period: %s – %s (%s)",
		endpoints:     "Endpoints seen (ID-based billing): %d",
		endpointsNote: "An endpoint seen by several sources counts once in the total.",
		unattributed:  "%d alert(s) named no endpoint and count towards none.",
		srcHead:       "source\tvendor\tendpoints\talerts",
		incidents:     "Incidents handled (per-handling billing): %d (human needed %d, automatic %d)",
		prioHead:      "priority\ttotal\thuman needed\tautomatic",
		prepaid:       "Prepaid option tickets (valid %s from purchase), as of %s:",
		bought:        "bought this month",
		used:          "used this month",
		expired:       "expired unused this month",
		balance:       "balance",
		lots:          "Usable lots:",
		lot:           "#%d bought %s: %d of %d left, usable until %s",
		expLot:        "#%d bought %s: %d of %d unused when it expired at %s",
		uses:          "Used this month:",
		use:           "%s  %d ticket(s)  %s%s",
		from:          " (from %s)",
		expiredLots:   "Expired this month:",
		none:          "none",
		count:         "%d",
		asOf:          "Prepaid option tickets of %s as of %s: %d usable",
	},
	"ja": {
		title:         "利用実績 %s %s",
		period:        "対象期間: %s 〜 %s (%s)",
		endpoints:     "検知端末数(ID数課金): %d台",
		endpointsNote: "複数のソースで検知された端末は合計では1台と数えます。",
		unattributed:  "端末を特定できないアラート %d件は端末数に含みません。",
		srcHead:       "ソース\t製品\t端末数\tアラート数",
		incidents:     "対応件数(対応件数課金): %d件(人による対応 %d件、自動対応 %d件)",
		prioHead:      "優先度\t件数\t人による対応\t自動対応",
		prepaid:       "オプションチケット(購入から%s有効) %s時点:",
		bought:        "当月購入",
		used:          "当月利用",
		expired:       "当月失効(未使用)",
		balance:       "残高",
		lots:          "利用可能なチケット:",
		lot:           "#%d %s購入: 残り%d枚(購入%d枚)、有効期限 %s",
		expLot:        "#%d %s購入: 未使用%d枚(購入%d枚)が %s に失効",
		uses:          "当月の利用:",
		use:           "%s  %d枚  %s%s",
		from:          "(%sから)",
		expiredLots:   "当月失効:",
		none:          "なし",
		count:         "%d枚",
		asOf:          "%s のオプションチケット %s時点: 利用可能 %d枚",
	},
}

func labelsFor(lang string) labels {
	if l, ok := text[lang]; ok {
		return l
	}
	return text["en"]
}

const (
	dayFmt  = "2006-01-02"
	timeFmt = "2006-01-02 15:04"
)

func validityIn(lang string) string {
	if lang == "ja" {
		return "1年間"
	}
	return Validity
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the report for people, in the report's language (ja or
// en; anything else is en).
func (r *Report) WriteText(w io.Writer) error {
	l := labelsFor(r.Language)
	var b strings.Builder
	name := r.Tenant
	if r.TenantName != "" && r.TenantName != r.Tenant {
		name = fmt.Sprintf("%s (%s)", r.Tenant, r.TenantName)
	}
	month := r.Month
	if r.Language == "ja" {
		month = fmt.Sprintf("%d年%d月", r.From.Year(), int(r.From.Month()))
	}
	fmt.Fprintf(&b, l.title+"\n", name, month)
	fmt.Fprintf(&b, l.period+"\n\n", r.From.Format(timeFmt), r.To.Format(timeFmt), r.Timezone)

	fmt.Fprintf(&b, l.endpoints+"\n", r.Endpoints.Distinct)
	if len(r.Endpoints.BySource) > 0 {
		rows := [][]string{strings.Split(l.srcHead, "\t")}
		for _, s := range r.Endpoints.BySource {
			rows = append(rows, []string{s.Source, s.Vendor, strconv.Itoa(s.Endpoints), strconv.Itoa(s.Alerts)})
		}
		writeTable(&b, rows, 2)
		if len(r.Endpoints.BySource) > 1 {
			fmt.Fprintf(&b, "  %s\n", l.endpointsNote)
		}
	}
	if r.Endpoints.Unattributed > 0 {
		fmt.Fprintf(&b, "  "+l.unattributed+"\n", r.Endpoints.Unattributed)
	}
	b.WriteString("\n")

	in := r.Incidents
	fmt.Fprintf(&b, l.incidents+"\n", in.Handled, in.NeedsHuman, in.Automatic)
	rows := [][]string{strings.Split(l.prioHead, "\t")}
	for _, p := range in.ByPriority {
		prio := string(p.Priority)
		if prio == "" {
			prio = "-"
		}
		rows = append(rows, []string{prio, strconv.Itoa(p.Total), strconv.Itoa(p.NeedsHuman), strconv.Itoa(p.Automatic)})
	}
	writeTable(&b, rows, 3)
	b.WriteString("\n")

	p := r.Prepaid
	fmt.Fprintf(&b, l.prepaid+"\n", validityIn(r.Language), p.AsOf.Format(timeFmt))
	rows = nil
	for _, row := range []struct {
		k string
		v int
	}{{l.bought, p.Purchased}, {l.used, p.Used}, {l.expired, p.Expired}, {l.balance, p.Balance}} {
		rows = append(rows, []string{row.k, fmt.Sprintf(l.count, row.v)})
	}
	writeTable(&b, rows, 1)
	writeLots(&b, l, p.ValidLots)
	if len(p.Uses) > 0 {
		fmt.Fprintf(&b, "  %s\n", l.uses)
		for _, u := range p.Uses {
			fmt.Fprintf(&b, "    %s\n", useLine(l, u))
		}
	}
	if len(p.ExpiredLots) > 0 {
		fmt.Fprintf(&b, "  %s\n", l.expiredLots)
		for _, x := range p.ExpiredLots {
			fmt.Fprintf(&b, "    "+l.expLot+"\n", x.ID, x.PurchasedAt.Format(dayFmt), x.Expired, x.Quantity, x.ExpiresAt.Format(timeFmt))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLots(b *strings.Builder, l labels, lots []Lot) {
	fmt.Fprintf(b, "  %s", l.lots)
	if len(lots) == 0 {
		fmt.Fprintf(b, " %s\n", l.none)
		return
	}
	b.WriteString("\n")
	for _, x := range lots {
		fmt.Fprintf(b, "    "+l.lot+"\n", x.ID, x.PurchasedAt.Format(dayFmt), x.Remaining, x.Quantity, x.ExpiresAt.Format(timeFmt))
	}
}

func useLine(l labels, u Use) string {
	what := u.Reason
	if u.Ref != "" {
		what = u.Ref + " " + what
	}
	var from []string
	for _, d := range u.Draws {
		from = append(from, fmt.Sprintf("#%d×%d", d.PurchaseID, d.Quantity))
	}
	src := ""
	if len(from) > 0 {
		src = fmt.Sprintf(l.from, strings.Join(from, ", "))
	}
	return fmt.Sprintf(l.use, u.At.Format(timeFmt), u.Quantity, what, src)
}

// In returns the ledger with its times in loc.
func (led *Ledger) In(loc *time.Location) *Ledger {
	out := &Ledger{At: led.At.In(loc), Available: led.Available, Lots: make([]Lot, len(led.Lots)), Uses: make([]Use, len(led.Uses))}
	for i, l := range led.Lots {
		l.Purchase = l.Purchase.in(loc)
		out.Lots[i] = l
	}
	for i, u := range led.Uses {
		u.At = u.At.In(loc)
		out.Uses[i] = u
	}
	return out
}

// WriteText writes the balance for people: the usable lots, soonest expiry
// first, in lang (ja or en).
func (led *Ledger) WriteText(w io.Writer, tenantID, lang string) error {
	l := labelsFor(lang)
	var b strings.Builder
	fmt.Fprintf(&b, l.asOf+"\n", tenantID, led.At.Format(timeFmt), led.Available)
	var usable []Lot
	for _, x := range led.Lots {
		if x.Remaining > 0 {
			usable = append(usable, x)
		}
	}
	writeLots(&b, l, usable)
	_, err := io.WriteString(w, b.String())
	return err
}

// UseText describes one use, with the lots it drew from, in lang.
func UseText(u Use, lang string) string { return useLine(labelsFor(lang), u) }

// writeTable writes rows indented by two spaces, columns two apart; the
// last numeric columns (from the end) are right-aligned. Widths count
// East Asian wide characters as two columns, so Japanese headings line up
// in a terminal.
func writeTable(b *strings.Builder, rows [][]string, numeric int) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		line.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-displayWidth(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if i >= len(r)-numeric {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// displayWidth is the terminal width of s: two columns for the wide
// characters of Japanese (kana, kanji, full-width forms), one for others.
func displayWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case r >= 0x1100 && r <= 0x115F, r >= 0x2E80 && r <= 0xA4CF, r >= 0xAC00 && r <= 0xD7A3,
			r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F, r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6:
			w += 2
		default:
			w++
		}
	}
	return w
}
