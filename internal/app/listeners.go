package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/mail"
	"github.com/bannin-soc/bannin/internal/connector/syslog"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// Push sources — syslog senders and appliances that mail their alerts —
// reach bannin through listeners of its own. Both hand what they receive
// to the committer and acknowledge (TCP read on, SMTP 250) only once it is
// durable.

// SMTPConfig is the inbound alert-mail listener: one per node, routing by
// recipient address to the tenants' mail sources.
type SMTPConfig struct {
	Listen   string // host:port; empty: no listener
	Domain   string // the name in the greeting
	CertFile string // with KeyFile: offer STARTTLS
	KeyFile  string
}

// inboxSink stores pushed payloads in the inbox through the committer.
type inboxSink struct {
	c     *intake.Committer
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

// Listeners are the push listeners an App runs.
type Listeners struct {
	Syslog map[string]*syslog.Listener // by tenant/source
	Mail   *mail.Listener
	// MailAddr is where the SMTP listener is bound (for ":0").
	MailAddr net.Addr
}

// startListeners starts a syslog listener per syslog source that has
// listen addresses, and the SMTP listener when it is configured and some
// tenant has a mail source.
func (a *App) startListeners(ctx context.Context) error {
	sink := inboxSink{c: a.Committer, clock: a.cfg.Clock}
	a.listeners.Syslog = map[string]*syslog.Listener{}
	routes := map[string]mail.Route{}
	var mailPeers []netip.Prefix
	for _, t := range a.cfg.Tenants {
		for _, s := range t.Sources {
			switch {
			case s.Vendor == "syslog" && s.Listens():
				cfg := syslog.Config{Tenant: t.ID, Source: s.Name, UDPAddr: s.ListenUDP, TCPAddr: s.ListenTCP,
					TLSAddr: s.ListenTLS, AllowedPeers: s.AllowedPeers, Sink: sink, Now: a.cfg.Clock, Log: a.log}
				if s.ListenTLS != "" {
					cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
					if err != nil {
						return fmt.Errorf("tenant %s source %s: TLS certificate: %w", t.ID, s.Name, err)
					}
					cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
				}
				l, err := syslog.Listen(ctx, cfg)
				if err != nil {
					return fmt.Errorf("tenant %s source %s: %w", t.ID, s.Name, err)
				}
				a.listeners.Syslog[t.ID+"/"+s.Name] = l
				a.log.Info("syslog listener", "tenant", t.ID, "source", s.Name, "udp", addrOf(l.UDPAddr()),
					"tcp", addrOf(l.TCPAddr()), "tls", addrOf(l.TLSAddr()))
			case s.Vendor == "mail":
				if r, dup := routes[s.MailAddress]; dup {
					return fmt.Errorf("mail_address %s is used by tenant %s source %s and by tenant %s source %s",
						s.MailAddress, r.Tenant, r.Source, t.ID, s.Name)
				}
				routes[s.MailAddress] = mail.Route{Tenant: t.ID, Source: s.Name, AllowedSenders: s.AllowedSenders}
				mailPeers = append(mailPeers, s.AllowedPeers...)
			}
		}
	}
	if len(routes) == 0 {
		return nil
	}
	if a.cfg.SMTP.Listen == "" {
		a.log.Warn("tenants have mail sources but no SMTP listener is configured (serve --smtp-listen): their alert mails cannot arrive")
		return nil
	}
	cfg := mail.Config{Addr: a.cfg.SMTP.Listen, Domain: a.cfg.SMTP.Domain, Routes: routes, Sink: sink,
		Clock: a.cfg.Clock, Logger: a.log, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute}
	// Peer limits are per source; the listener is shared, so it admits the
	// union (an empty list on any mail source admits everyone).
	if allLimited(a, len(routes)) {
		cfg.AllowedPeers = mailPeers
	}
	if a.cfg.SMTP.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.SMTP.CertFile, a.cfg.SMTP.KeyFile)
		if err != nil {
			return fmt.Errorf("SMTP listener certificate: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := mail.NewListener(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.SMTP.Listen)
	if err != nil {
		return fmt.Errorf("SMTP listener: %w", err)
	}
	a.listeners.Mail, a.listeners.MailAddr = l, ln.Addr()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := l.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
			a.log.Error("SMTP listener stopped", "err", err)
		}
	}()
	a.log.Info("SMTP listener for alert mail", "addr", ln.Addr().String(), "addresses", len(routes))
	return nil
}

// allLimited reports whether every mail source limits its peers.
func allLimited(a *App, mailSources int) bool {
	n := 0
	for _, t := range a.cfg.Tenants {
		for _, s := range t.Sources {
			if s.Vendor == "mail" && len(s.AllowedPeers) > 0 {
				n++
			}
		}
	}
	return n == mailSources
}

// closeListeners stops the listeners; syslog ones hand on what they hold.
func (a *App) closeListeners() {
	for key, l := range a.listeners.Syslog {
		if err := l.Close(); err != nil {
			a.log.Warn("closing syslog listener", "source", key, "err", err)
		}
	}
	if a.listeners.Mail != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.listeners.Mail.Shutdown(ctx); err != nil {
			a.listeners.Mail.Close()
		}
	}
}

// Listeners returns the running push listeners (their bound addresses and
// counters).
func (a *App) Listeners() *Listeners { return &a.listeners }

func addrOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
