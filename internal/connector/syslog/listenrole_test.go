package syslog

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
)

// TestListenerRole: the registry's listener role starts a Listener per
// source with listen addresses, feeding the Sink, and none for the others;
// a TLS certificate that cannot be loaded names the tenant and source.
func TestListenerRole(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	if v.NewListeners == nil {
		t.Fatal("no listener role")
	}
	sink := &fakeSink{}
	env := connector.ListenerEnv{Sink: sink, Log: slog.New(slog.DiscardHandler)}
	sources := []connector.PushSource{
		{Tenant: "acme", Source: "edge", ListenTCP: "127.0.0.1:0"}, // the only pair fakeSink takes
		{Tenant: "acme", Source: "replayed"},
	}
	ls, err := v.NewListeners(ctxT(t), env, sources)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 {
		t.Fatalf("%d listeners, want one (acme/edge)", len(ls))
	}
	r := ls[0].(*Running)
	if r.String() != "acme/edge" || r.TCPAddr() == nil || r.UDPAddr() != nil {
		t.Errorf("listener %s tcp %v udp %v, want acme/edge on TCP only", r, r.TCPAddr(), r.UDPAddr())
	}
	if err := Send(ctxT(t), "tcp", r.TCPAddr().String(), "<14>Mar 10 12:03:05 host app: hello"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the line in the sink", func() bool { return sink.count() == 1 })
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	missing := filepath.Join(t.TempDir(), "none.pem")
	sources = []connector.PushSource{
		{Tenant: "t1", Source: "fw", ListenTCP: "127.0.0.1:0"},
		{Tenant: "t2", Source: "tls", ListenTLS: "127.0.0.1:0", TLSCertFile: missing, TLSKeyFile: missing},
	}
	_, err = v.NewListeners(ctxT(t), env, sources)
	if err == nil || !strings.HasPrefix(err.Error(), "tenant t2 source tls: TLS certificate: ") {
		t.Errorf("missing certificate: %v, want it to name tenant t2 source tls", err)
	}
}
