package mail

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

// Send delivers msg to the SMTP server at addr in one transaction, as an
// appliance or relay would: without TLS and without authentication. The
// demo and the tests use it; ctx bounds the whole exchange.
func Send(ctx context.Context, addr, from string, to []string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("send mail: dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("send mail to %s: %w", addr, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("send mail to %s: quit: %w", addr, err)
	}
	return nil
}
