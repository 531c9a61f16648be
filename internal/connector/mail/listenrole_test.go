package mail

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

func mailSource(tenant, source, addr string, peers ...string) connector.PushSource {
	s := connector.PushSource{Tenant: tenant, Source: source, MailAddress: addr, AllowedSenders: []string{"@acme.example"}}
	for _, p := range peers {
		s.AllowedPeers = append(s.AllowedPeers, netip.MustParsePrefix(p))
	}
	return s
}

// TestListenerRole: the registry's listener role runs one SMTP listener for
// all mail sources; it admits the union of their peers only when every
// source limits them; a recipient address used twice, and a node without
// --smtp-listen, are reported.
func TestListenerRole(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	if v.NewListeners == nil {
		t.Fatal("no listener role")
	}
	var logs bytes.Buffer
	env := connector.ListenerEnv{Sink: &fakeSink{}, SMTP: connector.SMTPConfig{Listen: "127.0.0.1:0"},
		Clock: func() time.Time { return testClock }, Log: slog.New(slog.NewTextHandler(&logs, nil))}

	for _, tc := range []struct {
		name    string
		sources []connector.PushSource
		peers   []netip.Prefix
	}{
		{"all limited", []connector.PushSource{mailSource("t1", "m", "a@x", "192.0.2.0/24"), mailSource("t2", "m", "b@x", "198.51.100.7/32")},
			[]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.7/32")}},
		{"one open", []connector.PushSource{mailSource("t1", "m", "a@x", "192.0.2.0/24"), mailSource("t2", "m", "b@x")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := v.NewListeners(context.Background(), env, tc.sources)
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != 1 {
				t.Fatalf("%d listeners, want one for the node", len(ls))
			}
			r := ls[0].(*Running)
			if r.Addr() == nil || len(r.routes) != 2 || !slices.Equal(r.cfg.AllowedPeers, tc.peers) {
				t.Errorf("addr %v, %d routes, peers %v; want bound, 2 routes, peers %v", r.Addr(), len(r.routes), r.cfg.AllowedPeers, tc.peers)
			}
			if err := r.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}

	_, err = v.NewListeners(context.Background(), env, []connector.PushSource{mailSource("t1", "m", "a@x"), mailSource("t2", "n", "a@x")})
	if want := "mail_address a@x is used by tenant t1 source m and by tenant t2 source n"; err == nil || err.Error() != want {
		t.Errorf("duplicate address: %v, want %q", err, want)
	}

	env.SMTP = connector.SMTPConfig{}
	ls, err := v.NewListeners(context.Background(), env, []connector.PushSource{mailSource("t1", "m", "a@x")})
	if err != nil || len(ls) != 0 || !strings.Contains(logs.String(), "no SMTP listener is configured") {
		t.Errorf("without --smtp-listen: %d listeners, err %v, log %q; want none, a warning", len(ls), err, logs.String())
	}
}
