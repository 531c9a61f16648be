package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

var sample = []string{
	"<134>Mar 10 12:05:00 mx01 CEF:0|Imperva Inc.|SecureSphere|14.7.0|SQL Injection|SQL Injection|High|src=198.51.100.77 dst=10.3.0.25",
	"<86>Mar 10 12:12:01 bastion01 sshd[4123]: Failed password for invalid user admin",
	"<13>1 2026-03-10T12:11:00.123Z relay app - - - LEEF:1.0|V|P|1|7|sev=3\tsrc=10.0.0.9",
}

// rawStream writes body to a new TCP connection and closes its write side.
func rawStream(t *testing.T, addr net.Addr, body string) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatal(err)
	}
}

func TestListenerTransports(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name, transport string
		send            func(t *testing.T, l *Listener)
	}{
		{"udp", "udp", func(t *testing.T, l *Listener) {
			if err := Send(ctxT(t), "udp", l.UDPAddr().String(), sample...); err != nil {
				t.Fatal(err)
			}
		}},
		{"tcp octet counting", "tcp", func(t *testing.T, l *Listener) {
			if err := Send(ctxT(t), "tcp", l.TCPAddr().String(), sample...); err != nil {
				t.Fatal(err)
			}
		}},
		{"tcp newline", "tcp", func(t *testing.T, l *Listener) {
			// CRLF after one, LF after another, none after the last.
			rawStream(t, l.TCPAddr(), sample[0]+"\r\n"+sample[1]+"\n\n"+sample[2])
		}},
		{"tls", "tls", func(t *testing.T, l *Listener) {
			if err := SendTLS(ctxT(t), l.TLSAddr().String(), clientTLS, sample...); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			l := listen(t, sink, func(c *Config) { c.TLSAddr, c.TLS = "127.0.0.1:0", serverTLS })
			tt.send(t, l)
			waitFor(t, "three messages in the sink", func() bool { return sink.count() == len(sample) })
			got := sink.envelopes(t)
			seen := map[string]bool{}
			for _, e := range got {
				seen[e.Message] = true
				if e.Transport != tt.transport || !strings.HasPrefix(e.Peer, "127.0.0.1:") || e.Received.IsZero() || e.Error != "" {
					t.Errorf("envelope %+v: want transport %s, a loopback peer, a received time, no error", e, tt.transport)
				}
			}
			for _, m := range sample {
				if !seen[m] {
					t.Errorf("message %.40q… not in the sink", m)
				}
			}
			st := l.Stats()
			if st.Received != 3 || st.Accepted != 3 || st.Dropped != 0 || st.TooLong != 0 {
				t.Errorf("stats %+v, want 3 received and accepted", st)
			}
			// What the sink stored decodes.
			sink.mu.Lock()
			defer sink.mu.Unlock()
			for _, p := range sink.payloads {
				if _, err := (Decoder{}).Decode(p); err != nil {
					t.Errorf("stored payload does not decode: %v", err)
				}
			}
		})
	}
}

func TestListenerBoundAddresses(t *testing.T) {
	l := listen(t, &fakeSink{}, func(c *Config) { c.UDPAddr = "" })
	if l.UDPAddr() != nil || l.TLSAddr() != nil {
		t.Errorf("UDPAddr %v, TLSAddr %v: want nil for transports that are off", l.UDPAddr(), l.TLSAddr())
	}
	if a, ok := l.TCPAddr().(*net.TCPAddr); !ok || a.Port == 0 {
		t.Errorf("TCPAddr %v: want the bound port", l.TCPAddr())
	}
	for _, cfg := range []Config{
		{TCPAddr: "127.0.0.1:0"},                    // no sink
		{Sink: &fakeSink{}},                         // no address
		{Sink: &fakeSink{}, TLSAddr: "127.0.0.1:0"}, // TLS without a config
	} {
		if _, err := Listen(context.Background(), cfg); err == nil {
			t.Errorf("Listen(%+v) succeeded", cfg)
		}
	}
}

func TestListenerPeerFilter(t *testing.T) {
	tests := []struct {
		name     string
		allowed  []netip.Prefix
		accepted int
		rejected int64
	}{
		{"other network only", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, 0, 2},
		{"loopback allowed", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("127.0.0.0/8")}, 2, 0},
		{"everyone (empty list)", nil, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			l := listen(t, sink, func(c *Config) { c.AllowedPeers = tt.allowed })
			if err := Send(ctxT(t), "udp", l.UDPAddr().String(), sample[0]); err != nil {
				t.Fatal(err)
			}
			// A refused TCP connection may fail the write; only the count matters.
			_ = Send(ctxT(t), "tcp", l.TCPAddr().String(), sample[1])
			waitFor(t, "both messages accepted or refused", func() bool {
				st := l.Stats()
				return st.RejectedPeer+st.Accepted == 2
			})
			if st := l.Stats(); st.RejectedPeer != tt.rejected || sink.count() != tt.accepted {
				t.Errorf("rejected %d, sink holds %d; want %d, %d", st.RejectedPeer, sink.count(), tt.rejected, tt.accepted)
			}
		})
	}
}

func TestListenerTooLong(t *testing.T) {
	long := "<13>Mar 10 12:00:00 host " + strings.Repeat("x", 300)
	tests := []struct {
		name string
		send func(t *testing.T, l *Listener)
	}{
		{"udp", func(t *testing.T, l *Listener) {
			if err := Send(ctxT(t), "udp", l.UDPAddr().String(), long, "<13>short one"); err != nil {
				t.Fatal(err)
			}
		}},
		{"tcp octet counting", func(t *testing.T, l *Listener) {
			if err := Send(ctxT(t), "tcp", l.TCPAddr().String(), long, "<13>short one"); err != nil {
				t.Fatal(err)
			}
		}},
		{"tcp newline", func(t *testing.T, l *Listener) {
			rawStream(t, l.TCPAddr(), long+"\n<13>short one\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			l := listen(t, sink, func(c *Config) { c.MaxMessage = 200 })
			tt.send(t, l)
			waitFor(t, "two payloads", func() bool { return sink.count() == 2 })
			var refused, kept int
			sink.mu.Lock()
			payloads := sink.payloads
			sink.mu.Unlock()
			for _, p := range payloads {
				_, err := Decoder{}.Decode(p)
				switch {
				case err == nil:
					kept++
				case errors.Is(err, connector.ErrBadPayload) && strings.Contains(err.Error(), "message over 200 bytes"):
					refused++
					if !strings.Contains(string(p), `"size":`+fmt.Sprint(len(long))) {
						t.Errorf("envelope %s does not give the size %d", p, len(long))
					}
				default:
					t.Errorf("Decode: %v", err)
				}
			}
			if refused != 1 || kept != 1 || l.Stats().TooLong != 1 {
				t.Errorf("refused %d, kept %d, TooLong %d; want 1 each", refused, kept, l.Stats().TooLong)
			}
		})
	}
}

// TestListenerSinkErrorTCP: when the Sink fails, the connection is closed,
// nothing read is silently lost (it is counted unacknowledged), and the
// sender's retransmission on a new connection is stored.
func TestListenerSinkErrorTCP(t *testing.T) {
	sink := &fakeSink{failNext: 1}
	l := listen(t, sink, nil)
	c, err := net.Dial("tcp", l.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range sample {
		fmt.Fprintf(c, "%d %s", len(m), m)
	}
	// The listener closes the connection: the sender sees the end of it.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after the sink failed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed after the sink failed")
	}
	waitFor(t, "every received message accounted for", func() bool {
		st := l.Stats()
		return st.Received > 0 && st.Received == st.Accepted+st.Unacknowledged
	})
	st := l.Stats()
	if st.SinkErrors != 1 || st.Unacknowledged == 0 || sink.count() != 0 {
		t.Fatalf("stats %+v, sink holds %d: want one sink error, unacknowledged messages, nothing stored", st, sink.count())
	}
	// The sender retransmits.
	if err := Send(ctxT(t), "tcp", l.TCPAddr().String(), sample...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retransmission stored", func() bool { return sink.count() == len(sample) })
}

func TestListenerSinkErrorUDP(t *testing.T) {
	sink := &fakeSink{failNext: 1}
	l := listen(t, sink, func(c *Config) { c.BatchSize = 1 })
	if err := Send(ctxT(t), "udp", l.UDPAddr().String(), sample[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed batch counted", func() bool { return l.Stats().SinkErrors == 1 })
	if st := l.Stats(); st.Dropped != 1 || st.Accepted != 0 {
		t.Errorf("stats %+v: want the message counted as dropped", st)
	}
	if err := Send(ctxT(t), "udp", l.UDPAddr().String(), sample[1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "next message stored", func() bool { return sink.count() == 1 })
}

// TestListenerBackpressure: while the Sink is busy a TCP connection is not
// read beyond about two batches, so memory does not grow with the sender.
func TestListenerBackpressure(t *testing.T) {
	const batch, total = 4, 400
	sink := &fakeSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := listen(t, sink, func(c *Config) { c.BatchSize = batch })
	release := sync.OnceFunc(func() { close(sink.gate) })
	t.Cleanup(release) // before the listener's Close, which waits for the Sink
	msgs := make([]string, total)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("<13>Mar 10 12:00:00 host app: message %d %s", i, strings.Repeat("p", 2000))
	}
	sent := make(chan error, 1)
	go func() { sent <- Send(context.Background(), "tcp", l.TCPAddr().String(), msgs...) }()
	<-sink.entered
	bound := int64(2*batch + 1) // the batch in the Sink, a full channel, one in the reader's hand
	waitFor(t, "the reader to fill its channel", func() bool { return l.Stats().Received >= 2*batch })
	for range 50 {
		if got := l.Stats().Received; got > bound {
			t.Fatalf("%d messages read while the sink was busy; want at most %d", got, bound)
		}
		time.Sleep(time.Millisecond)
	}
	release()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message stored", func() bool { return sink.count() == total })
}

// TestListenerCloseDrains: messages read but not yet batched out are
// handed to the Sink by Close, which returns after its goroutines end.
func TestListenerCloseDrains(t *testing.T) {
	sink := &fakeSink{}
	l, err := Listen(context.Background(), Config{Tenant: "acme", Source: "edge", UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		Sink: sink, BatchSize: 1000, BatchWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range sample {
		fmt.Fprintf(c, "%d %s", len(m), m) // the connection stays open
	}
	if err := Send(ctxT(t), "udp", l.UDPAddr().String(), sample...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "six messages read", func() bool { return l.Stats().Received == 6 })
	if sink.count() != 0 {
		t.Fatalf("sink holds %d before Close; the batch wait should hold them", sink.count())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if sink.count() != 6 || l.Stats().Accepted != 6 {
		t.Errorf("after Close the sink holds %d (stats %+v), want 6", sink.count(), l.Stats())
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := Send(ctxT(t), "tcp", l.TCPAddr().String(), sample[0]); err == nil {
		t.Error("closed listener still accepts connections")
	}
}

func TestListenerFramingError(t *testing.T) {
	sink := &fakeSink{}
	l := listen(t, sink, nil)
	rawStream(t, l.TCPAddr(), "12 <13>hello12x oops")
	waitFor(t, "the broken stream counted", func() bool { return l.Stats().FramingErrors == 1 })
	waitFor(t, "the good frame stored", func() bool { return sink.count() == 1 })
}

// TestListenerUDPQueueFull: while the Sink is busy, datagrams beyond the
// queue are dropped and counted, and every received one is accounted for.
func TestListenerUDPQueueFull(t *testing.T) {
	sink := &fakeSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := listen(t, sink, func(c *Config) { c.UDPQueue, c.BatchSize = 2, 1 })
	release := sync.OnceFunc(func() { close(sink.gate) })
	t.Cleanup(release)
	if err := Send(ctxT(t), "udp", l.UDPAddr().String(), sample[0]); err != nil {
		t.Fatal(err)
	}
	<-sink.entered // the first batch holds the Sink
	msgs := make([]string, 20)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("<13>Mar 10 12:00:00 host app: datagram %d", i)
	}
	if err := Send(ctxT(t), "udp", l.UDPAddr().String(), msgs...); err != nil {
		t.Fatal(err)
	}
	// Loopback does not lose 21 small datagrams: wait until all are read.
	waitFor(t, "every datagram read", func() bool { return l.Stats().Received == 21 })
	release()
	waitFor(t, "every datagram accepted or dropped", func() bool {
		st := l.Stats()
		return st.Received == st.Accepted+st.Dropped
	})
	// At most the queue, the batch in the Sink and one in the reader's
	// hand got through while the Sink was busy.
	if st := l.Stats(); st.Accepted > int64(2+1+1+1) || st.SinkErrors != 0 {
		t.Errorf("stats %+v: want the rest dropped by the full queue, no sink error", st)
	}
}
