package syslog

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Sink stores received payloads durably and returns once they are committed.
type Sink interface {
	Accept(ctx context.Context, tenant, source string, payloads [][]byte) error
}

// Defaults for the Listener's limits.
const (
	DefaultMaxMessage = 64 << 10
	DefaultBatchSize  = 256
	DefaultBatchWait  = 5 * time.Millisecond
	DefaultUDPQueue   = 4096
)

// Config is one tenant source's syslog intake. Any of the addresses may be
// empty (that transport is off) or end in ":0" (any free port; the Listener
// reports the bound address).
type Config struct {
	Tenant, Source string
	UDPAddr        string
	TCPAddr        string
	TLSAddr        string
	TLS            *tls.Config // required with TLSAddr
	// AllowedPeers limits who may send; empty allows every address.
	AllowedPeers []netip.Prefix
	// MaxMessage is the largest message kept (default 64 KiB); a longer one
	// is handed to the Sink as an envelope with an error, which the decoder
	// quarantines.
	MaxMessage int
	Sink       Sink
	// BatchSize and BatchWait bound a batch: at most BatchSize messages, or
	// what arrived within BatchWait of the first (defaults 256, 5 ms).
	BatchSize int
	BatchWait time.Duration
	// UDPQueue is how many UDP messages may wait for the Sink before new
	// ones are dropped and counted (default 4096).
	UDPQueue int
	Now      func() time.Time // the received stamp; nil means time.Now
	Log      *slog.Logger     // nil means slog.Default()
}

// Stats are the Listener's counters since it started.
type Stats struct {
	Received     int64 `json:"received"`      // messages read off the wire (including too-long ones)
	Accepted     int64 `json:"accepted"`      // messages the Sink committed
	Dropped      int64 `json:"dropped"`       // UDP messages lost: the queue was full, or the Sink failed their batch
	RejectedPeer int64 `json:"rejected_peer"` // datagrams and connections from addresses not allowed
	TooLong      int64 `json:"too_long"`      // messages over MaxMessage (handed on as error envelopes)
	SinkErrors   int64 `json:"sink_errors"`   // failed Sink.Accept calls
	// Unacknowledged counts TCP/TLS messages read but not committed because
	// the Sink failed: their connection is closed and the sender must send
	// them again (syslog over TCP has no acknowledgement).
	Unacknowledged int64 `json:"unacknowledged"`
	FramingErrors  int64 `json:"framing_errors"` // TCP/TLS connections closed for broken framing
}

type counters struct {
	received, accepted, dropped, rejectedPeer, tooLong, sinkErrors, unacked, framing atomic.Int64
}

// Listener receives syslog for one tenant source. Close stops it.
type Listener struct {
	cfg     Config
	log     *slog.Logger
	ctx     context.Context // for Sink calls; outlives Close's drain
	cancel  context.CancelFunc
	udp     net.PacketConn
	tcp     net.Listener
	tls     net.Listener
	c       counters
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	once    sync.Once
}

// Listen binds the configured addresses and starts receiving. ctx is the
// context of every Sink call (cancel it to abandon them); Close stops the
// Listener gracefully.
func Listen(ctx context.Context, cfg Config) (*Listener, error) {
	if cfg.Sink == nil {
		return nil, errors.New("syslog listener: no sink")
	}
	if cfg.UDPAddr == "" && cfg.TCPAddr == "" && cfg.TLSAddr == "" {
		return nil, errors.New("syslog listener: no address to listen on")
	}
	if cfg.TLSAddr != "" && cfg.TLS == nil {
		return nil, errors.New("syslog listener: TLS address without a TLS config")
	}
	setDefaults(&cfg)
	lctx, cancel := context.WithCancel(ctx)
	l := &Listener{cfg: cfg, log: cfg.Log.With("tenant", cfg.Tenant, "connector", VendorName, "source", cfg.Source),
		ctx: lctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	if err := l.bind(); err != nil {
		l.closeSockets()
		cancel()
		return nil, err
	}
	if l.udp != nil {
		queue := make(chan []byte, cfg.UDPQueue)
		l.wg.Add(2)
		go l.readUDP(queue)
		go l.flushUDP(queue)
	}
	for _, ln := range []net.Listener{l.tcp, l.tls} {
		if ln != nil {
			l.wg.Add(1)
			go l.accept(ln)
		}
	}
	return l, nil
}

func setDefaults(cfg *Config) {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = DefaultBatchWait
	}
	if cfg.UDPQueue <= 0 {
		cfg.UDPQueue = DefaultUDPQueue
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
}

func (l *Listener) bind() error {
	var err error
	if a := l.cfg.UDPAddr; a != "" {
		if l.udp, err = net.ListenPacket("udp", a); err != nil {
			return fmt.Errorf("syslog listener: udp %s: %w", a, err)
		}
	}
	if a := l.cfg.TCPAddr; a != "" {
		if l.tcp, err = net.Listen("tcp", a); err != nil {
			return fmt.Errorf("syslog listener: tcp %s: %w", a, err)
		}
	}
	if a := l.cfg.TLSAddr; a != "" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("syslog listener: tls %s: %w", a, err)
		}
		l.tls = tls.NewListener(ln, l.cfg.TLS)
	}
	return nil
}

// UDPAddr, TCPAddr and TLSAddr return the bound addresses, or nil for a
// transport that is off.
func (l *Listener) UDPAddr() net.Addr {
	if l.udp == nil {
		return nil
	}
	return l.udp.LocalAddr()
}

// TCPAddr returns the bound TCP address, or nil.
func (l *Listener) TCPAddr() net.Addr {
	if l.tcp == nil {
		return nil
	}
	return l.tcp.Addr()
}

// TLSAddr returns the bound TLS address, or nil.
func (l *Listener) TLSAddr() net.Addr {
	if l.tls == nil {
		return nil
	}
	return l.tls.Addr()
}

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	return Stats{
		Received: l.c.received.Load(), Accepted: l.c.accepted.Load(), Dropped: l.c.dropped.Load(),
		RejectedPeer: l.c.rejectedPeer.Load(), TooLong: l.c.tooLong.Load(), SinkErrors: l.c.sinkErrors.Load(),
		Unacknowledged: l.c.unacked.Load(), FramingErrors: l.c.framing.Load(),
	}
}

// Close stops receiving, hands what was already read to the Sink, and
// returns when every goroutine has ended. A message a sender was half-way
// through is not kept.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closing = true
		for c := range l.conns {
			// Wake the reader: it ends its stream and its batch is flushed.
			_ = c.SetReadDeadline(time.Now())
		}
		l.mu.Unlock()
		l.closeSockets()
		l.wg.Wait()
		l.cancel()
	})
	return nil
}

func (l *Listener) closeSockets() {
	for _, c := range []io.Closer{l.udp, l.tcp, l.tls} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// allowed reports whether a peer may send.
func (l *Listener) allowed(addr net.Addr) bool {
	if len(l.cfg.AllowedPeers) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.cfg.AllowedPeers {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// envelope wraps one received message (or the refusal of an over-long one)
// for the Sink.
func (l *Listener) envelope(f frame, peer net.Addr, transport string) []byte {
	env := Envelope{Received: l.cfg.Now().UTC(), Peer: peer.String(), Transport: transport}
	if f.TooLong {
		l.c.tooLong.Add(1)
		env.Error = fmt.Sprintf("message over %d bytes", l.cfg.MaxMessage)
		env.Size, env.Head = f.Size, string(f.Msg)
	} else {
		env.Message = string(f.Msg)
	}
	b, err := json.Marshal(env)
	if err != nil { // an Envelope always marshals; keep the message anyway
		return []byte(`{"error":"envelope: ` + err.Error() + `"}`)
	}
	return b
}

// commit hands a batch to the Sink and counts the outcome.
func (l *Listener) commit(batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	if err := l.cfg.Sink.Accept(l.ctx, l.cfg.Tenant, l.cfg.Source, batch); err != nil {
		l.c.sinkErrors.Add(1)
		return err
	}
	l.c.accepted.Add(int64(len(batch)))
	return nil
}
