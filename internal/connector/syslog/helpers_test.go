package syslog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeSink records what it commits. It can refuse the next calls, or hold
// every call until released.
type fakeSink struct {
	mu       sync.Mutex
	payloads [][]byte
	calls    int
	failNext int
	gate     chan struct{} // when set, Accept waits for it to close
	entered  chan struct{} // signalled (non-blocking) when Accept is entered
}

func (s *fakeSink) Accept(ctx context.Context, tenant, source string, payloads [][]byte) error {
	s.mu.Lock()
	s.calls++
	gate, entered := s.gate, s.entered
	if s.failNext > 0 {
		s.failNext--
		s.mu.Unlock()
		return errors.New("store unavailable")
	}
	s.mu.Unlock()
	if entered != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if tenant != "acme" || source != "edge" {
		return errors.New("wrong tenant or source")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range payloads {
		s.payloads = append(s.payloads, append([]byte(nil), p...))
	}
	return nil
}

// envelopes returns what the sink committed, decoded.
func (s *fakeSink) envelopes(t *testing.T) []Envelope {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, 0, len(s.payloads))
	for _, p := range s.payloads {
		var e Envelope
		if err := json.Unmarshal(p, &e); err != nil {
			t.Fatalf("sink holds a payload that is not an envelope: %s", p)
		}
		out = append(out, e)
	}
	return out
}

func (s *fakeSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.payloads)
}

// waitFor polls cond until it holds, failing the test after a generous
// limit; it never asserts on how long it took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// listen starts a Listener for tenant acme, source edge on loopback ports.
func listen(t *testing.T, sink Sink, mod func(*Config)) *Listener {
	t.Helper()
	cfg := Config{Tenant: "acme", Source: "edge", UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Sink: sink}
	if mod != nil {
		mod(&cfg)
	}
	l, err := Listen(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// selfSigned returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1 and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bannin syslog test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
