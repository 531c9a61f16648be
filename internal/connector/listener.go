package connector

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// The listener role: vendors whose appliances push their alerts (syslog
// senders, alert mail) run listeners of their own. At start-up the node
// gives each such vendor's Vendor.NewListeners every (tenant, source) pair
// of that vendor at once, so that one factory can serve a listener per source
// (syslog) or one shared listener for the whole node (SMTP, routing by
// recipient).

// Sink takes pushed payloads and returns once they are durable: a listener
// acknowledges (TCP read on, SMTP 250) only after Accept returned nil.
type Sink interface {
	Accept(ctx context.Context, tenant, source string, payloads [][]byte) error
}

// Listener is a running listener for pushed alerts.
type Listener interface {
	// Close stops receiving and returns once what the listener had read is
	// handed to the Sink; ctx bounds how long open sessions may finish
	// before they are cut off.
	Close(ctx context.Context) error
}

// PushSource is one tenant source of a vendor with a listener role, as its
// tenant file sets it. Which fields matter is the vendor's business.
type PushSource struct {
	Tenant, Source string
	// ListenUDP, ListenTCP and ListenTLS (with TLSCertFile and TLSKeyFile)
	// are the source's own addresses; all empty: it has no listener of its
	// own.
	ListenUDP, ListenTCP, ListenTLS string
	TLSCertFile, TLSKeyFile         string
	// AllowedPeers limits which networks may send; empty allows all.
	AllowedPeers []netip.Prefix
	// MailAddress is the recipient that routes mail to the source, from
	// AllowedSenders (addresses, or @domain).
	MailAddress    string
	AllowedSenders []string
}

// SMTPConfig is the node's inbound alert-mail listener: one per node,
// routing by recipient address to the tenants' mail sources.
type SMTPConfig struct {
	Listen   string // host:port; empty: no listener
	Domain   string // the name in the greeting
	CertFile string // with KeyFile: offer STARTTLS
	KeyFile  string
}

// ListenerEnv is what the node gives every listener factory.
type ListenerEnv struct {
	Sink  Sink
	SMTP  SMTPConfig       // node-level: the shared SMTP listener's settings
	Clock func() time.Time // the received stamp
	Log   *slog.Logger
}

// ListenerFactory starts a vendor's listeners for sources — every source of
// that vendor, of every tenant — and returns those it started (zero or
// more). ctx is the context of their Sink calls; it ends after they are
// closed. On error the factory has closed whatever it had started.
type ListenerFactory func(ctx context.Context, env ListenerEnv, sources []PushSource) ([]Listener, error)
