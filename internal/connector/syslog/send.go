package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
)

// Send delivers syslog messages to a listener, for demos and tests: over
// "udp" one datagram per message, over "tcp" one connection with RFC 6587
// octet counting. It returns once every message is written (and, for TCP,
// the connection is closed cleanly).
func Send(ctx context.Context, network, addr string, msgs ...string) error {
	return send(ctx, network, addr, nil, msgs)
}

// SendTLS is Send over TLS with octet counting.
func SendTLS(ctx context.Context, addr string, cfg *tls.Config, msgs ...string) error {
	return send(ctx, "tcp", addr, cfg, msgs)
}

func send(ctx context.Context, network, addr string, cfg *tls.Config, msgs []string) error {
	var d net.Dialer
	var (
		c   net.Conn
		err error
	)
	if cfg != nil {
		c, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, network, addr)
	} else {
		c, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return fmt.Errorf("syslog send: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	switch network {
	case "udp", "udp4", "udp6":
		for i, m := range msgs {
			if _, err := c.Write([]byte(m)); err != nil {
				return fmt.Errorf("syslog send: message %d: %w", i+1, err)
			}
		}
		return nil
	case "tcp", "tcp4", "tcp6":
		w := bufio.NewWriter(c)
		for _, m := range msgs {
			w.WriteString(strconv.Itoa(len(m)))
			w.WriteByte(' ')
			w.WriteString(m)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("syslog send: %w", err)
		}
		return c.Close()
	}
	return fmt.Errorf("syslog send: network %q is not udp or tcp", network)
}
