package syslog

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Running is a Listener that the registry's listener role started for one
// tenant source.
type Running struct {
	*Listener
	Tenant, Source string
}

// Close stops the Listener, handing on what it had read; ctx is not needed.
func (r *Running) Close(context.Context) error { return r.Listener.Close() }

// String names the source, for logs.
func (r *Running) String() string { return r.Tenant + "/" + r.Source }

// newListeners starts a Listener for each source that has listen
// addresses; the others take their lines some other way (replay, files).
func newListeners(ctx context.Context, env connector.ListenerEnv, sources []connector.PushSource) ([]connector.Listener, error) {
	var started []connector.Listener
	fail := func(err error) ([]connector.Listener, error) {
		for _, l := range started {
			l.Close(ctx)
		}
		return nil, err
	}
	for _, s := range sources {
		if s.ListenUDP == "" && s.ListenTCP == "" && s.ListenTLS == "" {
			continue
		}
		cfg := Config{Tenant: s.Tenant, Source: s.Source, UDPAddr: s.ListenUDP, TCPAddr: s.ListenTCP,
			TLSAddr: s.ListenTLS, AllowedPeers: s.AllowedPeers, Sink: env.Sink, Now: env.Clock, Log: env.Log}
		if s.ListenTLS != "" {
			cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
			if err != nil {
				return fail(fmt.Errorf("tenant %s source %s: TLS certificate: %w", s.Tenant, s.Source, err))
			}
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		l, err := Listen(ctx, cfg)
		if err != nil {
			return fail(fmt.Errorf("tenant %s source %s: %w", s.Tenant, s.Source, err))
		}
		started = append(started, &Running{Listener: l, Tenant: s.Tenant, Source: s.Source})
		env.Log.Info("syslog listener", "tenant", s.Tenant, "source", s.Source, "udp", addrOf(l.UDPAddr()),
			"tcp", addrOf(l.TCPAddr()), "tls", addrOf(l.TLSAddr()))
	}
	return started, nil
}

func addrOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
