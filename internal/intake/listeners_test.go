package intake_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/intake"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// Three vendors of this test's own: listen-a and listen-b have a listener
// role (listen-b's factory fails), listen-none has not.
func init() {
	connector.Register(connector.Vendor{Name: "listen-a", Decoder: noDecoder{}, NewListeners: fakes.factory("listen-a")})
	connector.Register(connector.Vendor{Name: "listen-b", Decoder: noDecoder{}, NewListeners: fakes.factory("listen-b")})
	connector.Register(connector.Vendor{Name: "listen-none", Decoder: noDecoder{}})
}

type noDecoder struct{}

func (noDecoder) Decode([]byte) ([]alert.Alert, error) { return nil, nil }

// fakeRegistry records what the fake factories were given and which of
// their listeners were closed.
type fakeRegistry struct {
	mu      sync.Mutex
	calls   map[string][]connector.PushSource // by vendor
	envs    map[string]connector.ListenerEnv
	started []*fakeListener
	closed  []string // listener names, in closing order
}

var fakes = &fakeRegistry{}

func (f *fakeRegistry) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.envs, f.started, f.closed = map[string][]connector.PushSource{}, map[string]connector.ListenerEnv{}, nil, nil
}

// factory starts one listener per source, which hands a payload naming its
// source to the Sink at once; listen-b fails instead.
func (f *fakeRegistry) factory(vendor string) connector.ListenerFactory {
	return func(ctx context.Context, env connector.ListenerEnv, sources []connector.PushSource) ([]connector.Listener, error) {
		f.mu.Lock()
		f.calls[vendor] = append(f.calls[vendor], sources...)
		f.envs[vendor] = env
		f.mu.Unlock()
		if vendor == "listen-b" {
			return nil, errors.New("listen-b: no port")
		}
		var out []connector.Listener
		for _, s := range sources {
			if err := env.Sink.Accept(ctx, s.Tenant, s.Source, [][]byte{[]byte(`{"from":"` + s.Source + `"}`)}); err != nil {
				return nil, err
			}
			l := &fakeListener{name: s.Tenant + "/" + s.Source, reg: f}
			f.mu.Lock()
			f.started = append(f.started, l)
			f.mu.Unlock()
			out = append(out, l)
		}
		return out, nil
	}
}

type fakeListener struct {
	name        string
	reg         *fakeRegistry
	hadDeadline bool
}

func (l *fakeListener) Close(ctx context.Context) error {
	_, l.hadDeadline = ctx.Deadline()
	l.reg.mu.Lock()
	defer l.reg.mu.Unlock()
	l.reg.closed = append(l.reg.closed, l.name)
	return nil
}

func pushTenant(id string, sources ...tenant.Source) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Sources: sources}
}

// TestListenersFromRegistry: Start gives each vendor with a listener role
// all its sources of every tenant, and the node's settings, in one call;
// what the listeners push reaches the committer; Close closes every
// listener, last started first, once.
func TestListenersFromRegistry(t *testing.T) {
	fakes.reset()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	c := intake.NewCommitter(ctx, rec, intake.CommitterOptions{Logger: log})
	peers := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	tenants := []*tenant.Tenant{
		pushTenant("t1", tenant.Source{Name: "fw", Vendor: "listen-a", ListenUDP: "127.0.0.1:0", AllowedPeers: peers},
			tenant.Source{Name: "api", Vendor: "listen-none"}),
		pushTenant("t2", tenant.Source{Name: "mx", Vendor: "listen-a", MailAddress: "soc@t2.example", AllowedSenders: []string{"@t2.example"}}),
	}
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	smtp := connector.SMTPConfig{Listen: "127.0.0.1:0", Domain: "bannin.example"}
	var ls intake.Listeners
	if err := ls.Start(ctx, intake.ListenerConfig{Tenants: tenants, Committer: c, SMTP: smtp,
		Clock: func() time.Time { return at }, Log: log}); err != nil {
		t.Fatal(err)
	}
	want := []connector.PushSource{
		{Tenant: "t1", Source: "fw", ListenUDP: "127.0.0.1:0", AllowedPeers: peers},
		{Tenant: "t2", Source: "mx", MailAddress: "soc@t2.example", AllowedSenders: []string{"@t2.example"}},
	}
	got := fakes.calls["listen-a"]
	if len(fakes.calls) != 1 || len(got) != 2 || got[0].Tenant != "t1" || got[0].ListenUDP != want[0].ListenUDP ||
		!slices.Equal(got[0].AllowedPeers, peers) || got[1].MailAddress != want[1].MailAddress ||
		!slices.Equal(got[1].AllowedSenders, want[1].AllowedSenders) {
		t.Fatalf("factories were given %+v, want listen-a only with %+v", fakes.calls, want)
	}
	if env := fakes.envs["listen-a"]; env.SMTP != smtp || env.Sink == nil || env.Log == nil || env.Clock == nil {
		t.Errorf("factory env %+v: want the node's SMTP settings, a sink, a logger and the clock", env)
	}
	items := rec.take()
	if len(items) != 2 || items[0].Tenant != "t1" || items[0].Source != "fw" || items[1].Tenant != "t2" ||
		items[1].Source != "mx" || !items[0].ReceivedAt.Equal(at) {
		t.Errorf("the committer stored %+v, want one payload each from t1/fw and t2/mx at %v", items, at)
	}
	if n := len(ls.All()); n != 2 {
		t.Fatalf("%d listeners running, want 2", n)
	}
	ls.Close()
	ls.Close()
	if !slices.Equal(fakes.closed, []string{"t2/mx", "t1/fw"}) {
		t.Errorf("closed %v, want t2/mx then t1/fw, each once", fakes.closed)
	}
	for _, l := range fakes.started {
		if !l.hadDeadline {
			t.Errorf("%s closed without a deadline", l.name)
		}
	}
	if n := len(ls.All()); n != 0 {
		t.Errorf("%d listeners left after Close", n)
	}
}

// TestListenersStartFails: when a vendor's factory fails, Start reports it
// and closes the listeners other vendors had started.
func TestListenersStartFails(t *testing.T) {
	fakes.reset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	c := intake.NewCommitter(ctx, &recorder{}, intake.CommitterOptions{Logger: log})
	tenants := []*tenant.Tenant{pushTenant("t1",
		tenant.Source{Name: "a", Vendor: "listen-a"}, tenant.Source{Name: "b", Vendor: "listen-b"})}
	var ls intake.Listeners
	err := ls.Start(ctx, intake.ListenerConfig{Tenants: tenants, Committer: c, Log: log})
	if err == nil || err.Error() != "listen-b: no port" {
		t.Fatalf("Start: %v, want listen-b's error", err)
	}
	if !slices.Equal(fakes.closed, []string{"t1/a"}) || len(ls.All()) != 0 {
		t.Errorf("after the failure closed %v with %d running, want t1/a closed and none running", fakes.closed, len(ls.All()))
	}
}

// TestListenersUnknownVendor: a source whose vendor is not registered is an
// error, not silently left without a listener.
func TestListenersUnknownVendor(t *testing.T) {
	fakes.reset()
	var ls intake.Listeners
	err := ls.Start(t.Context(), intake.ListenerConfig{Log: slog.New(slog.DiscardHandler),
		Tenants: []*tenant.Tenant{pushTenant("t1", tenant.Source{Name: "x", Vendor: "no-such-vendor"})}})
	if err == nil {
		t.Fatal("Start accepted a source of an unknown vendor")
	}
}
