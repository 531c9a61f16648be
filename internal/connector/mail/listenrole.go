package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Running is the node's SMTP listener as the registry's listener role
// started it: one server for every tenant's mail sources.
type Running struct {
	*Listener
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
}

// Addr is where the listener is bound (for ":0").
func (r *Running) Addr() net.Addr { return r.ln.Addr() }

// Close lets open sessions finish until ctx ends, then drops them, and
// returns once the server has stopped.
func (r *Running) Close(ctx context.Context) error {
	if err := r.Shutdown(ctx); err != nil {
		r.Listener.Close()
	}
	// Serve may not yet have handed ln to the server when Shutdown ran.
	r.ln.Close()
	<-r.done
	return nil
}

// String names the listener, for logs.
func (r *Running) String() string { return "smtp " + r.Addr().String() }

// newListeners starts the node's SMTP listener for all mail sources, when
// one is configured (connector.ListenerEnv.SMTP): the recipient address
// picks the tenant's source.
func newListeners(ctx context.Context, env connector.ListenerEnv, sources []connector.PushSource) ([]connector.Listener, error) {
	routes := map[string]Route{}
	var peers []netip.Prefix
	limited := 0
	for _, s := range sources {
		if r, dup := routes[s.MailAddress]; dup {
			return nil, fmt.Errorf("mail_address %s is used by tenant %s source %s and by tenant %s source %s",
				s.MailAddress, r.Tenant, r.Source, s.Tenant, s.Source)
		}
		routes[s.MailAddress] = Route{Tenant: s.Tenant, Source: s.Source, AllowedSenders: s.AllowedSenders}
		peers = append(peers, s.AllowedPeers...)
		if len(s.AllowedPeers) > 0 {
			limited++
		}
	}
	if len(routes) == 0 {
		return nil, nil
	}
	node := env.SMTP
	if node.Listen == "" {
		env.Log.Warn("tenants have mail sources but no SMTP listener is configured (serve --smtp-listen): their alert mails cannot arrive")
		return nil, nil
	}
	cfg := Config{Addr: node.Listen, Domain: node.Domain, Routes: routes, Sink: env.Sink,
		Clock: env.Clock, Logger: env.Log, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute}
	// Peer limits are per source; the listener is shared, so it admits the
	// union (an empty list on any mail source admits everyone).
	if limited == len(routes) {
		cfg.AllowedPeers = peers
	}
	if node.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(node.CertFile, node.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("SMTP listener certificate: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := NewListener(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", node.Listen)
	if err != nil {
		return nil, fmt.Errorf("SMTP listener: %w", err)
	}
	r := &Running{Listener: l, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := l.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
			env.Log.Error("SMTP listener stopped", "err", err)
		}
	}()
	env.Log.Info("SMTP listener for alert mail", "addr", ln.Addr().String(), "addresses", len(routes))
	return []connector.Listener{r}, nil
}
