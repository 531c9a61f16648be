package sophos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// Page sizes of GET /siem/v1/alerts (Sophos: default 200, at most 1000).
const (
	MaxPageSize     = 1000
	DefaultPageSize = 200
)

// Window is how far back the SIEM API serves alerts: from_date must lie
// within the last 24 hours.
const Window = 24 * time.Hour

// windowMargin keeps a clamped from_date clear of the 24-hour edge, so that
// clock skew and the request's flight time do not earn a 400.
const windowMargin = 5 * time.Minute

// Source pulls SIEM alerts through GET /siem/v1/alerts, following Sophos's
// next_cursor. The first pull starts Backfill ago (at most 24 hours, the
// API's limit).
type Source struct {
	api      *api
	pageSize int
	backfill time.Duration
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many alerts one Pull asks for (1–1000).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// WithBackfill sets how far back the first pull starts (default and most:
// 24 hours less a margin).
func WithBackfill(d time.Duration) SourceOption {
	return func(s *Source) { s.backfill = max(0, min(Window-windowMargin, d)) }
}

// WithClock sets the clock the 24-hour window is computed on.
func WithClock(now func() time.Time) SourceOption { return func(s *Source) { s.api.now = now } }

// NewSource returns a Source for the tenant whose API credential is
// cfg.ClientID and cfg.ClientSecret; cfg.URL is the global API host.
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{api: a, pageSize: DefaultPageSize, backfill: Window - windowMargin}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// cursor is where a Source resumes: Sophos's next_cursor (Next), which
// resumes the alert list exactly where the last page ended. At is the
// newest created_at returned (unix milliseconds) and IDs the alerts
// returned with exactly that time: if Sophos refuses a stored next_cursor
// (HTTP 400, e.g. after more than a day without a pull), the listing
// restarts at from_date=At, skipping what was already returned. A restart
// later than 24 hours after At starts at the edge of the window instead,
// and alerts in between are lost: Sophos serves no older ones.
type cursor struct {
	Next string   `json:"next,omitempty"`
	At   int64    `json:"at,omitempty"`
	IDs  []string `json:"ids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.At < 0 {
		return cursor{}, fmt.Errorf("sophos: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.Next == "" && c.At == 0 && len(c.IDs) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// siemPage is the SIEM list answer.
type siemPage struct {
	Items      []json.RawMessage `json:"items"`
	HasMore    bool              `json:"has_more"`
	NextCursor string            `json:"next_cursor"`
}

// Pull implements connector.Source: one page of alerts after cur.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	page, fallback, err := s.list(ctx, c)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusBadRequest && c.Next != "" {
		// Sophos no longer takes the stored next_cursor: list again from
		// the newest time returned.
		c.Next = ""
		page, fallback, err = s.list(ctx, c)
	}
	if err != nil {
		return connector.Page{}, connector.Rewrap("sophos: list SIEM alerts", err)
	}
	var payloads [][]byte
	for _, raw := range page.Items {
		var fresh bool
		if c, fresh = c.advance(raw, fallback); fresh {
			payloads = append(payloads, compact(raw))
		}
	}
	if page.NextCursor != "" {
		c.Next = page.NextCursor
	}
	return connector.Page{Payloads: payloads, Cursor: c.String(), More: page.HasMore}, nil
}

// list reads one page: from c.Next, else from_date (fallback true).
func (s *Source) list(ctx context.Context, c cursor) (siemPage, bool, error) {
	q := url.Values{"limit": {strconv.Itoa(s.pageSize)}}
	fallback := c.Next == ""
	if fallback {
		q.Set("from_date", strconv.FormatInt(s.fromDate(c).Unix(), 10))
	} else {
		q.Set("cursor", c.Next)
	}
	b, err := s.api.call(ctx, http.MethodGet, pathSIEMAlerts, q, nil)
	if err != nil {
		return siemPage{}, fallback, err
	}
	var p siemPage
	if err := json.Unmarshal(b, &p); err != nil {
		return siemPage{}, fallback, fmt.Errorf("sophos: SIEM alerts answer is not {\"items\":[…]}: %w", err)
	}
	return p, fallback, nil
}

// fromDate is where a listing without next_cursor starts: the newest time
// returned (whole seconds, so its alerts are listed again and skipped by
// id), else Backfill ago; never earlier than the API serves.
func (s *Source) fromDate(c cursor) time.Time {
	now := s.api.now()
	from := now.Add(-s.backfill)
	if c.At > 0 {
		from = time.UnixMilli(c.At).Truncate(time.Second)
	}
	if edge := now.Add(-Window + windowMargin); from.Before(edge) {
		from = edge
	}
	return from.Truncate(time.Second)
}

// advance moves the cursor past one alert and reports whether it is new.
// Within a next_cursor listing every alert is new (Sophos pages by
// position). In a from_date listing, alerts older than At, or at At and
// already returned, are skipped. An alert without a readable id or
// created_at is passed on (the decoder quarantines it) and does not move
// the cursor.
func (c cursor) advance(raw []byte, fallback bool) (cursor, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return c, true
	}
	id, t := f.Str("id"), f.Time("created_at")
	if id == "" || t.IsZero() {
		return c, true
	}
	ms := t.UnixMilli()
	switch {
	case ms > c.At:
		c.At, c.IDs = ms, []string{id}
		return c, true
	case ms == c.At:
		if slices.Contains(c.IDs, id) {
			return c, !fallback
		}
		c.IDs = append(slices.Clone(c.IDs), id)
		return c, true
	}
	return c, !fallback
}

// compact removes white space outside strings; it returns p unchanged if
// that fails.
func compact(p []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return slices.Clone(p)
	}
	return b.Bytes()
}
