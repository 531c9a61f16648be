package trellixhx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// MaxPageSize is the most alerts one Pull asks for. HX's own maximum for
// limit is [unverified]; 1000 is what the simulator allows.
const MaxPageSize = 1000

// DefaultPageSize is the page size of a Source without WithPageSize.
const DefaultPageSize = 100

// maxEmptyPages bounds how many pages of already-returned alerts one Pull
// reads before it reports "more" and lets the caller store the cursor.
const maxEmptyPages = 20

// sortReported is the list order: oldest reported first. The '+' of HX's
// documented "reported_at+ascending" is a query-string space.
const sortReported = "reported_at ascending"

// Source pulls HX alerts through GET /hx/api/v3/alerts, oldest reported
// first, paging by offset.
type Source struct {
	api      *api
	pageSize int
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many alerts one Pull asks for (1–1000).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// NewSource returns a Source for the appliance at cfg.URL; cfg.ClientID and
// cfg.ClientSecret are the HX API user's name and password.
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

// Close logs the Source's session out of HX (DELETE /hx/api/v3/token).
func (s *Source) Close(ctx context.Context) error { return s.api.logout(ctx) }

// cursor is where a Source resumes. A listing is one query
// filterQuery=reported_at >= From, sorted by reported_at ascending, read
// page by page at Offset. ReportedAt is the newest reported_at returned (as
// HX wrote it) and IDs the ids of every alert returned with exactly that
// time.
//
// When a listing ends (a short page) the next starts at From=ReportedAt,
// Offset 0: it asks for reported_at >= (not >) the last instant and drops
// IDs, so alerts sharing one reported_at across a page boundary, a listing
// boundary or a restart are neither skipped nor repeated; every alert is
// also checked against ReportedAt/IDs, so an offset that shifted (an alert
// inserted before it) repeats nothing. (An alert reported late with a
// reported_at before ReportedAt is missed, as with any time checkpoint.)
type cursor struct {
	From       string   `json:"from,omitempty"`
	Offset     int      `json:"offset,omitempty"`
	ReportedAt string   `json:"reported_at,omitempty"`
	IDs        []string `json:"ids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.Offset < 0 ||
		(c.ReportedAt != "" && jsonfield.ParseTime(c.ReportedAt).IsZero()) ||
		(c.From != "" && jsonfield.ParseTime(c.From).IsZero()) {
		return cursor{}, fmt.Errorf("trellixhx: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.From == "" && c.Offset == 0 && c.ReportedAt == "" && len(c.IDs) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// listAnswer is HX's list envelope.
type listAnswer struct {
	Data struct {
		Entries []json.RawMessage `json:"entries"`
		Total   int               `json:"total"`
		Offset  int               `json:"offset"`
		Limit   int               `json:"limit"`
	} `json:"data"`
	Message string `json:"message"`
}

// Pull implements connector.Source.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	var payloads [][]byte
	for range maxEmptyPages {
		page, err := s.list(ctx, c)
		if err != nil {
			return connector.Page{}, wrap("trellixhx: list alerts", err)
		}
		for _, raw := range page.Data.Entries {
			var fresh bool
			if c, fresh = c.advance(raw); fresh {
				payloads = append(payloads, compact(raw))
			}
		}
		n := len(page.Data.Entries)
		if n < s.pageSize || c.Offset+n >= page.Data.Total {
			// The listing is done: the next one starts at the last instant.
			c.From, c.Offset = c.ReportedAt, 0
			return connector.Page{Payloads: payloads, Cursor: c.String()}, nil
		}
		c.Offset += n
		if len(payloads) > 0 {
			return connector.Page{Payloads: payloads, Cursor: c.String(), More: true}, nil
		}
	}
	return connector.Page{Cursor: c.String(), More: true}, nil
}

// filter is HX's filterQuery: one condition as JSON [unverified shape].
type filter struct {
	Operator string   `json:"operator"`
	Field    string   `json:"field"`
	Arg      []string `json:"arg"`
}

func (s *Source) list(ctx context.Context, c cursor) (listAnswer, error) {
	q := url.Values{}
	q.Set("offset", strconv.Itoa(c.Offset))
	q.Set("limit", strconv.Itoa(s.pageSize))
	q.Set("sort", sortReported)
	if c.From != "" {
		b, _ := json.Marshal(filter{Operator: "gte", Field: "reported_at", Arg: []string{c.From}})
		q.Set("filterQuery", string(b))
	}
	b, err := s.api.call(ctx, http.MethodGet, pathAlerts, q, nil, "")
	if err != nil {
		return listAnswer{}, err
	}
	var p listAnswer
	if err := json.Unmarshal(b, &p); err != nil {
		return listAnswer{}, fmt.Errorf("alerts answer is not {\"data\":{\"entries\":[…]}}: %w", err)
	}
	return p, nil
}

// advance moves the cursor past one alert and reports whether it is new.
// An alert without a readable _id or reported_at is passed on (the decoder
// quarantines it) but does not move the cursor.
func (c cursor) advance(raw []byte) (cursor, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return c, true
	}
	id, text := f.Str("_id"), f.Str("reported_at")
	t, last := jsonfield.ParseTime(text), jsonfield.ParseTime(c.ReportedAt)
	if id == "" || t.IsZero() {
		return c, true
	}
	switch t.Compare(last) {
	case 1:
		c.ReportedAt, c.IDs = text, []string{id}
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

// compact removes white space outside strings; it returns p unchanged if
// that fails.
func compact(p []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return slices.Clone(p)
	}
	return b.Bytes()
}
