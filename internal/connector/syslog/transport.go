package syslog

import (
	"bytes"
	"errors"
	"net"
	"time"
)

// readUDP reads datagrams, one message each, into queue; when the queue is
// full the message is dropped and counted rather than waiting, since a UDP
// sender cannot be slowed down.
func (l *Listener) readUDP(queue chan<- []byte) {
	defer l.wg.Done()
	defer close(queue)
	buf := make([]byte, 65536)
	for {
		n, peer, err := l.udp.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Warn("syslog udp read", "err", err)
			}
			return
		}
		if !l.allowed(peer) {
			l.c.rejectedPeer.Add(1)
			continue
		}
		msg := bytes.TrimRight(buf[:n], "\r\n\x00")
		if len(msg) == 0 {
			continue
		}
		l.c.received.Add(1)
		f := frame{Msg: msg, Size: len(msg)}
		if len(msg) > l.cfg.MaxMessage {
			f = frame{Msg: msg[:headBytes], Size: len(msg), TooLong: true}
		}
		select {
		case queue <- l.envelope(f, peer, "udp"):
		default:
			l.c.dropped.Add(1)
		}
	}
}

// flushUDP hands queued datagrams to the Sink in batches until the queue
// is closed and empty.
func (l *Listener) flushUDP(queue <-chan []byte) {
	defer l.wg.Done()
	l.batches(queue, func(batch [][]byte) bool {
		if err := l.commit(batch); err != nil {
			l.c.dropped.Add(int64(len(batch)))
			l.log.Error("syslog sink refused a udp batch; its messages are lost", "messages", len(batch), "err", err)
		}
		return true
	})
}

// batches collects messages from in into batches of up to BatchSize, or
// what arrives within BatchWait of a batch's first message, and calls flush
// for each; it returns when in is closed and drained, or flush says stop.
func (l *Listener) batches(in <-chan []byte, flush func([][]byte) bool) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch [][]byte
	for {
		var (
			msg []byte
			ok  bool
		)
		if len(batch) == 0 {
			msg, ok = <-in
		} else {
			select {
			case msg, ok = <-in:
			case <-timer.C:
				if !flush(batch) {
					return
				}
				batch = nil
				continue
			}
		}
		if !ok {
			if len(batch) > 0 {
				flush(batch)
			}
			return
		}
		batch = append(batch, msg)
		if len(batch) == 1 {
			timer.Reset(l.cfg.BatchWait)
		}
		if len(batch) >= l.cfg.BatchSize {
			timer.Stop()
			if !flush(batch) {
				return
			}
			batch = nil
		}
	}
}

// accept serves stream connections (TCP or TLS) until the listener closes.
func (l *Listener) accept(ln net.Listener) {
	defer l.wg.Done()
	transport := "tcp"
	if ln == l.tls {
		transport = "tls"
	}
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors and the like: wait a little rather
			// than stop serving or spin.
			l.log.Warn("syslog accept", "transport", transport, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !l.allowed(c.RemoteAddr()) {
			l.c.rejectedPeer.Add(1)
			_ = c.Close()
			continue
		}
		if !l.track(c) {
			_ = c.Close()
			return
		}
		l.wg.Add(1)
		go l.serve(c, transport)
	}
}

// track registers a connection so Close can wake it; false once closing.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	_ = c.Close()
}

// serve reads one connection. A reader goroutine frames messages into a
// channel of BatchSize; this goroutine batches them into the Sink. While
// the Sink works the channel fills and the reader stops reading, so a slow
// store slows the sender through TCP flow control instead of growing
// memory (at most about 2×BatchSize messages per connection are held).
//
// When the Sink fails, the connection is closed: the failed batch and what
// was read behind it are counted as Unacknowledged, and the sender must
// send them again.
func (l *Listener) serve(c net.Conn, transport string) {
	defer l.wg.Done()
	defer l.untrack(c)
	msgs := make(chan []byte, l.cfg.BatchSize)
	done := make(chan struct{})
	go func() {
		defer close(msgs)
		l.readStream(c, transport, msgs, done)
	}()
	failed := false
	l.batches(msgs, func(batch [][]byte) bool {
		if err := l.commit(batch); err != nil {
			l.c.unacked.Add(int64(len(batch)))
			l.log.Error("syslog sink refused a batch; closing the connection so the sender resends",
				"transport", transport, "peer", c.RemoteAddr().String(), "messages", len(batch), "err", err)
			failed = true
			return false
		}
		return true
	})
	if failed {
		close(done)
		_ = c.Close()
		for range msgs { // read but never committed
			l.c.unacked.Add(1)
		}
	}
}

// readStream frames messages off c into out until the stream ends, breaks
// its framing, or done is closed.
func (l *Listener) readStream(c net.Conn, transport string, out chan<- []byte, done <-chan struct{}) {
	fr := newFramer(c, l.cfg.MaxMessage)
	for {
		f, err := fr.Next()
		if err != nil {
			if errors.Is(err, errFraming) {
				l.c.framing.Add(1)
				l.log.Warn("syslog stream closed", "transport", transport, "peer", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		if len(f.Msg) == 0 && !f.TooLong {
			continue
		}
		l.c.received.Add(1)
		select {
		case out <- l.envelope(f, c.RemoteAddr(), transport):
		case <-done:
			l.c.unacked.Add(1)
			return
		}
	}
}
