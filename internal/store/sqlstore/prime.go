package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// A triage batch asks the same questions of every alert: was it stored
// already, is its fingerprint in an open incident, is there an open incident
// on its host, or with its hash on another host, and how prevalent is its
// pattern. Prime answers them for the whole batch in a few statements, and
// loads the open incidents they name; AlertSeen, OpenIncidentByFingerprint,
// OpenIncidentByHost, OpenIncidentByHash and PrevalenceWith then answer from
// memory, and InsertAlert keeps the answers true as the batch
// adds alerts. The transaction holds the tenants' triage locks, so no one
// else adds alerts meanwhile. Questions about alerts not primed go to the
// database as before.

type primed struct {
	seen  map[seenKey]bool // primed keys; true: stored
	fp    map[fpKey]int64  // primed fingerprints: the newest open incident holding one, or 0
	prev  map[fpKey]*sightings
	since int64 // the prevalence rows were read back to here
	// hosts maps a primed host to the open incidents holding its alerts,
	// with the latest receipt of each, read back to hostSince.
	hosts     map[fpKey]map[int64]int64
	hostSince int64
	// hashes maps a primed SHA-256 to the (host, incident) pairs of the
	// alerts that carry it for spread, with the latest receipt of each,
	// read back to hashSince; open holds the open incidents known.
	hashes    map[fpKey]map[hostInc]int64
	hashSince int64
	open      map[int64]bool
	loaded    map[int64]*ticket.Incident  // incidents read in this batch, as read
	allow     map[string][]AllowlistEntry // per tenant: entries applied PCRs made
}

type seenKey struct{ tenant, source, vendorID string }
type hostInc struct {
	host string
	inc  int64
}
type fpKey struct{ tenant, key string }

// sightings are the hosts and the days a pattern fired on, with the latest
// receipt of each, which is enough to count hosts and days since any time
// ≥ primed.
type sightings struct {
	hosts map[string]int64
	days  map[int64]int64
}

func newSightings() *sightings {
	return &sightings{hosts: map[string]int64{}, days: map[int64]int64{}}
}

func (s *sightings) add(host string, at int64) {
	s.hosts[host] = max(s.hosts[host], at)
	s.days[at/microsPerDay] = max(s.days[at/microsPerDay], at)
}

const microsPerDay = 86400000000

// Windows are how far back triage looks: for prevalence, for an open
// incident on the same host, and for the same hash on other hosts.
type Windows struct {
	Prevalence, Host, Spread time.Duration
}

// Prime reads ahead what triage will ask about alerts (stored with Tenant,
// Source and Received set), looking back as far as w says.
func (tx *Tx) Prime(ctx context.Context, alerts []alert.Alert, w Windows) error {
	p := &primed{seen: map[seenKey]bool{}, fp: map[fpKey]int64{}, prev: map[fpKey]*sightings{},
		hosts: map[fpKey]map[int64]int64{}, hashes: map[fpKey]map[hostInc]int64{}, open: map[int64]bool{}}
	byTenant := map[string][]*alert.Alert{}
	var earliest time.Time
	for i := range alerts {
		a := &alerts[i]
		byTenant[a.Tenant] = append(byTenant[a.Tenant], a)
		if earliest.IsZero() || a.Received.Before(earliest) {
			earliest = a.Received
		}
	}
	p.since = micros(earliest.Add(-w.Prevalence))
	p.hostSince = micros(earliest.Add(-w.Host))
	p.hashSince = micros(earliest.Add(-w.Spread))
	for tenant, as := range byTenant {
		if err := tx.primeTenant(ctx, p, tenant, as); err != nil {
			return fmt.Errorf("prime triage batch: %w", err)
		}
	}
	tx.primed = p
	return nil
}

func (tx *Tx) primeTenant(ctx context.Context, p *primed, tenant string, as []*alert.Alert) error {
	var fps, pats, hosts, hashes []string
	ids := map[string][]string{} // per source: the unique key is (tenant, source, vendor_id)
	for _, a := range as {
		k := seenKey{tenant, a.Source, a.VendorID}
		if _, ok := p.seen[k]; !ok {
			p.seen[k] = false
			ids[a.Source] = append(ids[a.Source], a.VendorID)
		}
		f := fpKey{tenant, a.Fingerprint()}
		if _, ok := p.fp[f]; !ok {
			p.fp[f] = 0
			fps = append(fps, f.key)
		}
		hk := fpKey{tenant, alert.HostKey(a.Host)}
		if _, ok := p.hosts[hk]; !ok {
			p.hosts[hk] = map[int64]int64{}
			hosts = append(hosts, hk.key)
		}
		if h := a.SuspiciousHash(); h != "" {
			if _, ok := p.hashes[fpKey{tenant, h}]; !ok {
				p.hashes[fpKey{tenant, h}] = map[hostInc]int64{}
				hashes = append(hashes, h)
			}
		}
		pk := fpKey{tenant, a.Pattern()}
		if _, ok := p.prev[pk]; !ok {
			p.prev[pk] = newSightings()
			pats = append(pats, pk.key)
		}
	}
	for src, list := range ids {
		for part := range chunks(list) {
			err := tx.eachRow(ctx, `SELECT vendor_id FROM alerts WHERE tenant=$1 AND source=$2 AND vendor_id IN (`+placeholders(3, len(part))+`)`,
				append([]any{tenant, src}, part...), func(scan func(...any) error) error {
					var id string
					if err := scan(&id); err != nil {
						return err
					}
					p.seen[seenKey{tenant, src, id}] = true
					return nil
				})
			if err != nil {
				return err
			}
		}
	}
	fpIncs := map[int64]bool{}
	for part := range chunks(fps) {
		err := tx.eachRow(ctx, `SELECT k.key, MAX(k.incident_id) FROM incident_keys k JOIN incidents i ON i.id = k.incident_id
			WHERE k.tenant=$1 AND k.kind='fp' AND i.tenant=$1 AND i.status='open' AND k.key IN (`+placeholders(2, len(part))+`)
			GROUP BY k.key`,
			append([]any{tenant}, part...), func(scan func(...any) error) error {
				var fp string
				var inc int64
				if err := scan(&fp, &inc); err != nil {
					return err
				}
				p.fp[fpKey{tenant, fp}] = inc
				fpIncs[inc] = true
				return nil
			})
		if err != nil {
			return err
		}
	}
	for part := range chunks(pats) {
		in := placeholders(3, len(part))
		err := tx.eachRow(ctx, `SELECT pattern, host_key, latest FROM pattern_hosts
			WHERE tenant=$1 AND latest >= $2 AND pattern IN (`+in+`)`,
			append([]any{tenant, p.since}, part...), func(scan func(...any) error) error {
				var pat, host string
				var latest int64
				if err := scan(&pat, &host, &latest); err != nil {
					return err
				}
				p.prev[fpKey{tenant, pat}].hosts[host] = latest
				return nil
			})
		if err != nil {
			return err
		}
		err = tx.eachRow(ctx, `SELECT pattern, day, latest FROM pattern_days
			WHERE tenant=$1 AND day >= $2 AND latest >= $3 AND pattern IN (`+placeholders(4, len(part))+`)`,
			append([]any{tenant, p.since / microsPerDay, p.since}, part...), func(scan func(...any) error) error {
				var pat string
				var day, latest int64
				if err := scan(&pat, &day, &latest); err != nil {
					return err
				}
				p.prev[fpKey{tenant, pat}].days[day] = latest
				return nil
			})
		if err != nil {
			return err
		}
	}
	// Plain queries rather than joins: the incidents of the batch's hosts
	// from the incident_keys rollup, the incidents holding the batch's
	// hashes, then which of them are open.
	type hostLatest struct {
		hostInc
		latest int64
	}
	var found []hostLatest
	incs := map[int64]bool{}
	for part := range chunks(hosts) {
		err := tx.eachRow(ctx, `SELECT key, incident_id, latest FROM incident_keys
			WHERE tenant=$1 AND kind='host' AND key IN (`+placeholders(3, len(part))+`) AND latest >= $2`,
			append([]any{tenant, p.hostSince}, part...), func(scan func(...any) error) error {
				var h hostLatest
				if err := scan(&h.host, &h.inc, &h.latest); err != nil {
					return err
				}
				found = append(found, h)
				incs[h.inc] = false
				return nil
			})
		if err != nil {
			return err
		}
	}
	for part := range chunks(hashes) {
		err := tx.eachRow(ctx, `SELECT sha256, host_key, incident_id, latest FROM hash_hosts
			WHERE tenant=$1 AND sha256 IN (`+placeholders(3, len(part))+`) AND latest >= $2`,
			append([]any{tenant, p.hashSince}, part...), func(scan func(...any) error) error {
				var hash string
				var h hostLatest
				if err := scan(&hash, &h.host, &h.inc, &h.latest); err != nil {
					return err
				}
				p.hashes[fpKey{tenant, hash}][h.hostInc] = h.latest
				if _, ok := incs[h.inc]; !ok {
					incs[h.inc] = false
				}
				return nil
			})
		if err != nil {
			return err
		}
	}
	// Which of them are open, loading those (and the fingerprints' open
	// incidents) once for the batch rather than one statement each.
	var incIDs []string
	for id := range incs {
		incIDs = append(incIDs, strconv.FormatInt(id, 10))
	}
	for id := range fpIncs {
		if _, ok := incs[id]; !ok {
			incIDs = append(incIDs, strconv.FormatInt(id, 10))
		}
	}
	slices.Sort(incIDs)
	for part := range chunks(incIDs) {
		err := tx.eachRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE tenant=$1 AND status='open' AND id IN (`+placeholders(2, len(part))+`)`,
			append([]any{tenant}, part...), func(scan func(...any) error) error {
				in, err := scanIncident(scanner(scan))
				if err != nil {
					return err
				}
				if _, ok := incs[in.ID]; ok {
					incs[in.ID] = true
				}
				p.open[in.ID] = true
				if p.loaded == nil {
					p.loaded = map[int64]*ticket.Incident{}
				}
				p.loaded[in.ID] = in
				return nil
			})
		if err != nil {
			return err
		}
	}
	for _, h := range found {
		if incs[h.inc] {
			p.hosts[fpKey{tenant, h.host}][h.inc] = h.latest
		}
	}
	return nil
}

// hostIncident answers OpenIncidentByHost for a primed host: the newest
// open incident with an alert on it since the given time (0: none); ok is
// false when the host was not primed that far back.
func (p *primed) hostIncident(tenant, host string, since int64) (id int64, ok bool) {
	incs, found := p.hosts[fpKey{tenant, host}]
	if !found || since < p.hostSince {
		return 0, false
	}
	for inc, latest := range incs {
		if latest >= since && inc > id {
			id = inc
		}
	}
	return id, true
}

// hashIncident answers OpenIncidentByHash for a primed hash: the newest
// open incident with an alert carrying it on another host since the given
// time (0: none); ok is false when the hash was not primed that far back.
func (p *primed) hashIncident(tenant, hash, host string, since int64) (id int64, ok bool) {
	hs, found := p.hashes[fpKey{tenant, hash}]
	if !found || since < p.hashSince {
		return 0, false
	}
	for hi, latest := range hs {
		if hi.host != host && latest >= since && p.open[hi.inc] && hi.inc > id {
			id = hi.inc
		}
	}
	return id, true
}

// sawAlert keeps the primed answers true after an alert is stored.
func (p *primed) sawAlert(r *AlertRow) {
	a := &r.Alert
	if r.IncidentID != 0 {
		p.open[r.IncidentID] = true // triage adds alerts to open incidents only
		if hs, ok := p.hashes[fpKey{a.Tenant, a.SuspiciousHash()}]; ok && !r.NoSpread {
			k := hostInc{alert.HostKey(a.Host), r.IncidentID}
			hs[k] = max(hs[k], micros(a.Received))
		}
	}
	k := seenKey{a.Tenant, a.Source, a.VendorID}
	if _, ok := p.seen[k]; ok {
		p.seen[k] = true
	}
	if f := (fpKey{a.Tenant, a.Fingerprint()}); r.IncidentID != 0 {
		if inc, ok := p.fp[f]; ok {
			p.fp[f] = max(inc, r.IncidentID) // incidents only open in triage: the newest holds it
		}
	}
	if incs, ok := p.hosts[fpKey{a.Tenant, alert.HostKey(a.Host)}]; ok && r.IncidentID != 0 {
		incs[r.IncidentID] = max(incs[r.IncidentID], micros(a.Received))
	}
	if s, ok := p.prev[fpKey{a.Tenant, a.Pattern()}]; ok {
		s.add(alert.HostKey(a.Host), micros(a.Received))
	}
}

// prevalence counts hosts and days of a primed pattern since a time,
// adding one sighting; ok is false when the pattern was not primed that
// far back.
func (p *primed) prevalence(tenant, pattern string, since int64, host string, at int64) (hosts, days int, ok bool) {
	s, found := p.prev[fpKey{tenant, pattern}]
	if !found || since < p.since {
		return 0, 0, false
	}
	hosts, days = 1, 1 // the sighting added
	for h, latest := range s.hosts {
		if latest >= since && h != host {
			hosts++
		}
	}
	for d, latest := range s.days {
		if latest >= since && d != at/microsPerDay {
			days++
		}
	}
	return hosts, days, true
}

// scanner adapts a scan function to scanIncident's argument.
type scanner func(...any) error

func (f scanner) Scan(dest ...any) error { return f(dest...) }

// eachRow runs a query built for this call (an IN list) and calls fn for
// every row.
func (tx *Tx) eachRow(ctx context.Context, q string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := tx.QueryContext(ctx, q, tx.oneOff(args)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// chunks yields strs as []any parts of at most 500 (an IN list's
// parameters are read once, so SQLite parses them fast enough).
func chunks(strs []string) func(func([]any) bool) {
	const n = 500
	return func(yield func([]any) bool) {
		for start := 0; start < len(strs); start += n {
			part := strs[start:min(start+n, len(strs))]
			args := make([]any, len(part))
			for i, s := range part {
				args[i] = s
			}
			if !yield(args) {
				return
			}
		}
	}
}

// placeholders writes n parameters starting at $first.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "$%d", first+i)
	}
	return b.String()
}
