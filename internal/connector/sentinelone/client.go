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
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// MaxPageSize is the most threats one Pull asks for (the API's limit
// maximum is 1000).
const MaxPageSize = 1000

// DefaultPageSize is the page size of a Source without WithPageSize.
const DefaultPageSize = 100

// maxEmptyPages bounds how many pages of already-returned threats one Pull
// reads before it reports "more" and lets the caller store the cursor.
const maxEmptyPages = 20

// Source pulls threats through GET /web/api/v2.1/threats, oldest first
// (sortBy=createdAt, sortOrder=asc), following pagination.nextCursor.
type Source struct {
	api      *api
	pageSize int
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many threats one Pull asks for (1–1000).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// NewSource returns a Source for the console at cfg.URL; cfg.ClientSecret
// is the API token (cfg.ClientID is not used).
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{api: a, pageSize: DefaultPageSize}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// cursor is where a Source resumes. A listing is one query
// createdAt__gte=From sorted by createdAt ascending, read page by page with
// SentinelOne's opaque nextCursor (Cursor). CreatedAt is the newest
// threatInfo.createdAt returned (as SentinelOne wrote it) and IDs the ids
// of every threat returned with exactly that time.
//
// Within a listing the next page comes from Cursor. When a listing ends
// (nextCursor null) the next one starts at From=CreatedAt: it asks for
// createdAt >= (not >) the last instant and drops IDs, so threats sharing
// one createdAt across a page boundary, a listing boundary or a restart are
// neither skipped nor repeated; every returned threat is also checked
// against CreatedAt/IDs, so a page read twice repeats nothing. If the
// console refuses a stored Cursor (expired: HTTP 400), the listing restarts
// at CreatedAt. (A threat that becomes visible late with a createdAt before
// CreatedAt is missed, as with any time checkpoint; SentinelOne assigns
// createdAt when it stores the threat, which keeps that window small.)
type cursor struct {
	From      string   `json:"from,omitempty"`
	CreatedAt string   `json:"createdAt,omitempty"`
	IDs       []string `json:"ids,omitempty"`
	Cursor    string   `json:"cursor,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil ||
		(c.CreatedAt != "" && jsonfield.ParseTime(c.CreatedAt).IsZero()) || (c.From != "" && jsonfield.ParseTime(c.From).IsZero()) {
		return cursor{}, fmt.Errorf("sentinelone: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.CreatedAt == "" && c.Cursor == "" && c.From == "" && len(c.IDs) == 0 {
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

// Pull implements connector.Source.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	var payloads [][]byte
	retried := false
	for range maxEmptyPages {
		page, err := s.list(ctx, c)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusBadRequest && c.Cursor != "" && !retried {
			// The console no longer knows the stored nextCursor: start a
			// new listing at the last instant returned.
			c.Cursor, c.From, retried = "", c.CreatedAt, true
			continue
		}
		if err != nil {
			return connector.Page{}, wrap("sentinelone: list threats", err)
		}
		for _, raw := range page.Data {
			var fresh bool
			if c, fresh = c.advance(raw); fresh {
				payloads = append(payloads, compact(raw))
			}
		}
		next := ""
		if page.Pagination.NextCursor != nil {
			next = *page.Pagination.NextCursor
		}
		if next == "" || len(page.Data) == 0 {
			// The listing is done: the next one starts at the last instant.
			c.Cursor, c.From = "", c.CreatedAt
			return connector.Page{Payloads: payloads, Cursor: c.String()}, nil
		}
		c.Cursor = next
		if len(payloads) > 0 {
			return connector.Page{Payloads: payloads, Cursor: c.String(), More: true}, nil
		}
	}
	return connector.Page{Cursor: c.String(), More: true}, nil
}

func (s *Source) list(ctx context.Context, c cursor) (listPage, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(s.pageSize))
	q.Set("sortBy", "createdAt")
	q.Set("sortOrder", "asc")
	if c.From != "" {
		q.Set("createdAt__gte", c.From)
	}
	if c.Cursor != "" {
		q.Set("cursor", c.Cursor)
	}
	b, err := s.api.call(ctx, http.MethodGet, pathThreats, q, nil, "")
	if err != nil {
		return listPage{}, err
	}
	var p listPage
	if err := json.Unmarshal(b, &p); err != nil {
		return listPage{}, fmt.Errorf("threats answer is not a list: %w", err)
	}
	return p, nil
}

// advance moves the cursor past one threat and reports whether the threat
// is new. A threat without a readable id or createdAt is passed on (the
// decoder quarantines it) but does not move the cursor.
func (c cursor) advance(raw []byte) (cursor, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return c, true
	}
	id, text := threatKey(f)
	t, last := jsonfield.ParseTime(text), jsonfield.ParseTime(c.CreatedAt)
	if id == "" || t.IsZero() {
		return c, true
	}
	switch t.Compare(last) {
	case 1:
		c.CreatedAt, c.IDs = text, []string{id}
		return c, true
	case 0:
		if slices.Contains(c.IDs, id) {
			return c, false
		}
		c.IDs = append(slices.Clone(c.IDs), id)
		return c, true
	}
	return c, false // older than what was already returned
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
		return clone(p)
	}
	return b.Bytes()
}
