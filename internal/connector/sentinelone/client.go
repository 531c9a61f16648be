package sentinelone

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

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// MaxPageSize is the most items one Pull asks for per list (the API's
// limit maximum is 1000).
const MaxPageSize = 1000

// DefaultPageSize is the page size of a Source without WithPageSize.
const DefaultPageSize = 100

// maxEmptyPages bounds how many pages of already-returned items one Pull
// reads from a list before it reports "more" and lets the caller store the
// cursor.
const maxEmptyPages = 20

// Source pulls threats through GET /web/api/v2.1/threats and STAR
// (cloud-detection) alerts through GET /web/api/v2.1/cloud-detection/alerts,
// each oldest first (sortBy createdAt / alertInfoCreatedAt, sortOrder=asc),
// following pagination.nextCursor. One Pull reads a page of each list and
// returns the threats first; the cursor holds a position in each.
type Source struct {
	api      *api
	pageSize int
	alerts   bool
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many items one Pull asks for from each list
// (1–1000); a page may so hold up to twice that many payloads.
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// WithoutAlerts pulls threats only, for a console whose API user may not
// read STAR alerts (without it, such a Pull fails with
// ErrMissingPermission naming "STAR Custom Rules / Alerts: View").
func WithoutAlerts() SourceOption { return func(s *Source) { s.alerts = false } }

// NewSource returns a Source for the console at cfg.URL; cfg.ClientSecret
// is the API token (cfg.ClientID is not used).
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{api: a, pageSize: DefaultPageSize, alerts: true}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// position is where a Source resumes in one list. A listing is one query
// createdAt__gte=From sorted by creation time ascending, read page by page
// with SentinelOne's opaque nextCursor (Cursor). CreatedAt is the newest
// createdAt returned (as SentinelOne wrote it) and IDs the ids of every item
// returned with exactly that time.
//
// Within a listing the next page comes from Cursor. When a listing ends
// (nextCursor null) the next one starts at From=CreatedAt: it asks for
// createdAt >= (not >) the last instant and drops IDs, so items sharing
// one createdAt across a page boundary, a listing boundary or a restart are
// neither skipped nor repeated; every returned item is also checked
// against CreatedAt/IDs, so a page read twice repeats nothing. If the
// console refuses a stored Cursor (expired: HTTP 400), the listing restarts
// at CreatedAt. (An item that becomes visible late with a createdAt before
// CreatedAt is missed, as with any time checkpoint; SentinelOne assigns
// createdAt when it stores the item, which keeps that window small.)
type position struct {
	From      string   `json:"from,omitempty"`
	CreatedAt string   `json:"createdAt,omitempty"`
	IDs       []string `json:"ids,omitempty"`
	Cursor    string   `json:"cursor,omitempty"`
}

func (p position) zero() bool {
	return p.CreatedAt == "" && p.Cursor == "" && p.From == "" && len(p.IDs) == 0
}

func (p position) valid() bool {
	return (p.CreatedAt == "" || !jsonfield.ParseTime(p.CreatedAt).IsZero()) && (p.From == "" || !jsonfield.ParseTime(p.From).IsZero())
}

// cursor is what a Source stores: the threats position at the top level
// (as cursors written before STAR alerts were pulled have it, so those
// resume) and the STAR alerts position under "alerts".
type cursor struct {
	position
	Alerts *position `json:"alerts,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || !c.position.valid() || (c.Alerts != nil && !c.Alerts.valid()) {
		return cursor{}, fmt.Errorf("sentinelone: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.Alerts != nil && c.Alerts.zero() {
		c.Alerts = nil
	}
	if c.position.zero() && c.Alerts == nil {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// listPage is SentinelOne's list answer.
type listPage struct {
	Data       []json.RawMessage `json:"data"`
	Pagination struct {
		NextCursor *string `json:"nextCursor"`
		TotalItems int     `json:"totalItems"`
	} `json:"pagination"`
}

// list is one of the lists a Source pulls.
type list struct {
	name, path, sortBy string
	key                func(jsonfield.Object) (id, created string)
}

var (
	threatList = list{name: "threats", path: pathThreats, sortBy: "createdAt", key: threatKey}
	alertList  = list{name: "STAR alerts", path: pathAlerts, sortBy: "alertInfoCreatedAt", key: alertKey}
)

// Pull implements connector.Source: a page of threats, then a page of STAR
// alerts; More when either list has another page ready. If the alerts
// fail, the threats read in the same Pull are not returned (the cursor
// does not move, so the next Pull reads them again: nothing is lost).
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	payloads, pos, more, err := s.pullList(ctx, threatList, c.position)
	if err != nil {
		return connector.Page{}, err
	}
	c.position = pos
	if s.alerts {
		var ap position
		if c.Alerts != nil {
			ap = *c.Alerts
		}
		got, pos, amore, err := s.pullList(ctx, alertList, ap)
		if err != nil {
			return connector.Page{}, err
		}
		payloads = append(payloads, got...)
		c.Alerts, more = &pos, more || amore
	}
	return connector.Page{Payloads: payloads, Cursor: c.String(), More: more}, nil
}

// pullList reads one list from p: the new items of the first page that has
// any (at most maxEmptyPages pages), the position after them, and whether
// another page is ready.
func (s *Source) pullList(ctx context.Context, l list, p position) ([][]byte, position, bool, error) {
	var payloads [][]byte
	retried := false
	for range maxEmptyPages {
		page, err := s.list(ctx, l, p)
		var ae *httpapi.Error
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && p.Cursor != "" && !retried {
			// The console no longer knows the stored nextCursor: start a
			// new listing at the last instant returned.
			p.Cursor, p.From, retried = "", p.CreatedAt, true
			continue
		}
		if err != nil {
			return nil, p, false, wrap("sentinelone: list "+l.name, err)
		}
		for _, raw := range page.Data {
			var fresh bool
			if p, fresh = p.advance(l, raw); fresh {
				payloads = append(payloads, compact(raw))
			}
		}
		next := ""
		if page.Pagination.NextCursor != nil {
			next = *page.Pagination.NextCursor
		}
		if next == "" || len(page.Data) == 0 {
			// The listing is done: the next one starts at the last instant.
			p.Cursor, p.From = "", p.CreatedAt
			return payloads, p, false, nil
		}
		p.Cursor = next
		if len(payloads) > 0 {
			return payloads, p, true, nil
		}
	}
	return nil, p, true, nil
}

func (s *Source) list(ctx context.Context, l list, p position) (listPage, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(s.pageSize))
	q.Set("sortBy", l.sortBy)
	q.Set("sortOrder", "asc")
	if p.From != "" {
		q.Set("createdAt__gte", p.From)
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	b, err := s.api.call(ctx, http.MethodGet, l.path, q, nil, "")
	if err != nil {
		return listPage{}, err
	}
	var pg listPage
	if err := json.Unmarshal(b, &pg); err != nil {
		return listPage{}, fmt.Errorf("%s answer is not a list: %w", l.name, err)
	}
	return pg, nil
}

// advance moves the position past one item and reports whether the item
// is new. An item without a readable id or createdAt is passed on (the
// decoder quarantines it) but does not move the position.
func (p position) advance(l list, raw []byte) (position, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return p, true
	}
	id, text := l.key(f)
	t, last := jsonfield.ParseTime(text), jsonfield.ParseTime(p.CreatedAt)
	if id == "" || t.IsZero() {
		return p, true
	}
	switch t.Compare(last) {
	case 1:
		p.CreatedAt, p.IDs = text, []string{id}
		return p, true
	case 0:
		if slices.Contains(p.IDs, id) {
			return p, false
		}
		p.IDs = append(slices.Clone(p.IDs), id)
		return p, true
	}
	return p, false // older than what was already returned
}

// alertKey returns a STAR alert's id and its alertInfo.createdAt text.
func alertKey(f jsonfield.Object) (id, created string) {
	ai := f.Obj("alertInfo")
	return ai.Str("alertId"), ai.Str("createdAt")
}

// threatKey returns a threat's id and its threatInfo.createdAt text.
func threatKey(f jsonfield.Object) (id, created string) {
	ti := f.Obj("threatInfo")
	id = f.Str("id")
	if id == "" {
		id = ti.Str("threatId")
	}
	return id, ti.Str("createdAt")
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
