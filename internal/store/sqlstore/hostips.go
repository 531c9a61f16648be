package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
)

// HostAt is the host an IP address belonged to when last named.
type HostAt struct {
	HostKey  string
	Vendor   string
	LastSeen time.Time
}

type ipKey struct{ tenant, ip string }

// noteHostIPs remembers, for an alert that names its host, which host each
// of its addresses belongs to. The rows are written with the transaction's
// other deferred writes; HostByIP sees them at once.
func (tx *Tx) noteHostIPs(a *alert.Alert) {
	name := strings.TrimSpace(a.Host.Name)
	if _, err := netip.ParseAddr(name); name == "" || err == nil {
		return // only a host's name ties an address to it
	}
	for _, ip := range a.Host.IPs {
		addr, err := netip.ParseAddr(ip)
		if err != nil || addr.IsLoopback() || addr.IsUnspecified() || addr.IsLinkLocalUnicast() {
			continue
		}
		if tx.behind.hostIPs == nil {
			tx.behind.hostIPs = map[ipKey]HostAt{}
		}
		k := ipKey{a.Tenant, addr.String()}
		if old, ok := tx.behind.hostIPs[k]; !ok || !a.Received.Before(old.LastSeen) {
			tx.behind.hostIPs[k] = HostAt{HostKey: alert.HostKey(a.Host), Vendor: a.Vendor, LastSeen: a.Received}
		}
	}
}

// HostByIP returns the host that last had ip, if that was since the given
// time.
func (tx *Tx) HostByIP(ctx context.Context, tenant, ip string, since time.Time) (HostAt, bool, error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return HostAt{}, false, nil
	}
	if h, ok := tx.behind.hostIPs[ipKey{tenant, addr.String()}]; ok {
		return h, !h.LastSeen.Before(since), nil
	}
	var h HostAt
	var seen int64
	err = tx.QueryRowContext(ctx, `SELECT host_key, vendor, last_seen FROM host_ips WHERE tenant=$1 AND ip=$2`,
		tenant, addr.String()).Scan(&h.HostKey, &h.Vendor, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return HostAt{}, false, nil
	}
	if err != nil {
		return HostAt{}, false, fmt.Errorf("host by ip: %w", err)
	}
	h.LastSeen = fromMicros(seen)
	return h, !h.LastSeen.Before(since), nil
}

func (tx *Tx) flushHostIPs(ctx context.Context) error {
	rows := make([][]any, 0, len(tx.behind.hostIPs))
	for k, h := range tx.behind.hostIPs {
		rows = append(rows, []any{k.tenant, k.ip, h.HostKey, h.Vendor, micros(h.LastSeen)})
	}
	tx.behind.hostIPs = nil
	// A later sighting wins; an older one (replayed late) does not move the
	// address back.
	err := tx.execRows(ctx, "INSERT INTO host_ips (tenant, ip, host_key, vendor, last_seen) VALUES ", rows,
		` ON CONFLICT (tenant, ip) DO UPDATE SET host_key = excluded.host_key, vendor = excluded.vendor,
		last_seen = excluded.last_seen WHERE excluded.last_seen >= host_ips.last_seen`, nil)
	if err != nil {
		return fmt.Errorf("host addresses: %w", err)
	}
	return nil
}
