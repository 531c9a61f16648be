package intake

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// Push sources — syslog senders and appliances that mail their alerts —
// reach bannin through listeners of its own, which the vendors' listener
// role (connector.Vendor.NewListeners) starts. They hand what they receive
// to the committer and acknowledge (TCP read on, SMTP 250) only once it is
// durable.

// ListenerConfig is what StartListeners needs.
type ListenerConfig struct {
	Tenants   []*tenant.Tenant
	Committer *Committer
	// SMTP is the node's shared inbound-mail listener.
	SMTP  connector.SMTPConfig
	Clock func() time.Time // nil means time.Now
	Log   *slog.Logger     // nil means slog.Default()
}

// closeWait bounds how long a listener's open sessions may finish at Close.
const closeWait = 10 * time.Second

// Listeners are the push listeners a node runs. The zero value has none.
type Listeners struct {
	running []running // in start order
	log     *slog.Logger
}

type running struct {
	vendor string
	l      connector.Listener
}

// Start walks the connector registry and, for each vendor with a listener
// role and sources among the tenants, starts its listeners. On error the
// ones already started are closed.
func (ls *Listeners) Start(ctx context.Context, cfg ListenerConfig) error {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ls.log = cfg.Log
	byVendor, err := pushSources(cfg.Tenants)
	if err != nil {
		return err
	}
	env := connector.ListenerEnv{Sink: inboxSink{c: cfg.Committer, clock: cfg.Clock}, SMTP: cfg.SMTP,
		Clock: cfg.Clock, Log: cfg.Log}
	for _, name := range connector.Names() {
		sources := byVendor[name]
		if len(sources) == 0 {
			continue
		}
		v, err := connector.Lookup(name)
		if err != nil {
			ls.Close()
			return err
		}
		started, err := v.NewListeners(ctx, env, sources)
		if err != nil {
			ls.Close()
			return err
		}
		for _, l := range started {
			ls.running = append(ls.running, running{vendor: name, l: l})
		}
	}
	return nil
}

// pushSources gathers, per vendor with a listener role, its sources of
// every tenant.
func pushSources(tenants []*tenant.Tenant) (map[string][]connector.PushSource, error) {
	by := map[string][]connector.PushSource{}
	for _, t := range tenants {
		for _, s := range t.Sources {
			v, err := connector.Lookup(s.Vendor)
			if err != nil {
				return nil, fmt.Errorf("tenant %s source %s: %w", t.ID, s.Name, err)
			}
			if v.NewListeners == nil {
				continue
			}
			by[v.Name] = append(by[v.Name], connector.PushSource{Tenant: t.ID, Source: s.Name,
				ListenUDP: s.ListenUDP, ListenTCP: s.ListenTCP, ListenTLS: s.ListenTLS,
				TLSCertFile: s.TLSCertFile, TLSKeyFile: s.TLSKeyFile, AllowedPeers: s.AllowedPeers,
				MailAddress: s.MailAddress, AllowedSenders: s.AllowedSenders})
		}
	}
	return by, nil
}

// All returns the running listeners in start order; callers type-assert to
// a vendor's own type for its addresses and counters.
func (ls *Listeners) All() []connector.Listener {
	out := make([]connector.Listener, len(ls.running))
	for i, r := range ls.running {
		out[i] = r.l
	}
	return out
}

// Close stops the listeners, last started first, each handing on what it
// holds; call it before the committer stops. Closing again does nothing.
func (ls *Listeners) Close() {
	for _, r := range slices.Backward(ls.running) {
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		if err := r.l.Close(ctx); err != nil {
			ls.log.Warn("closing "+r.vendor+" listener", "source", fmt.Sprint(r.l), "err", err)
		}
		cancel()
	}
	ls.running = nil
}

// inboxSink stores pushed payloads in the inbox through the committer.
type inboxSink struct {
	c     *Committer
	clock func() time.Time
}

func (s inboxSink) Accept(ctx context.Context, tenant, source string, payloads [][]byte) error {
	now := s.clock().UTC()
	items := make([]sqlstore.InboxItem, len(payloads))
	for i, p := range payloads {
		items[i] = sqlstore.InboxItem{Tenant: tenant, Source: source, ReceivedAt: now, Payload: p}
	}
	return s.c.Submit(ctx, items)
}
