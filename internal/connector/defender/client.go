package defender

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// MaxTop is the most alerts one list call may ask for ($top maximum).
const MaxTop = 10000

// DefaultPageSize is the page size of a Source without WithPageSize.
const DefaultPageSize = 500

// Source pulls MDE alerts through GET /api/alerts, oldest update first
// ($orderby=lastUpdateTime asc), with their evidence. It pages by the
// checkpoint itself (keyset paging: $filter=lastUpdateTime ge <last>), not
// by $skip, because an alert updated while a listing is read moves to the
// end and shifts every offset after it.
type Source struct {
	api      *api
	pageSize int
	since    time.Time
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many new alerts one Pull asks for (1–MaxTop).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxTop, n)) }
}

// WithSince makes a pull without a cursor start at alerts updated at or
// after t instead of at the oldest the tenant keeps.
func WithSince(t time.Time) SourceOption { return func(s *Source) { s.since = t.UTC() } }

// NewSource returns a Source for the tenant cfg names (see parseConfig).
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

// cursor is where a Source resumes: the newest lastUpdateTime returned and
// the ids of the alerts returned with exactly that time. The next call asks
// for lastUpdateTime ge Time and drops those ids, so alerts that share the
// instant are neither skipped nor repeated. An alert updated again later
// has a newer lastUpdateTime and comes again, by design.
type cursor struct {
	Time time.Time `json:"t,omitzero"`
	IDs  []string  `json:"ids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("defender: cursor %q was not written by this source: %w", s, err)
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Pull implements connector.Source: one list call, returning the alerts
// not yet returned. More is true when the call came back full.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	if cur == "" && !s.since.IsZero() {
		c.Time = s.since
	}
	top := s.pageSize + len(c.IDs)
	if top > MaxTop {
		return connector.Page{}, fmt.Errorf("defender: %d alerts share lastUpdateTime %s, more than one list call can step over", len(c.IDs), c.Time.Format(time.RFC3339Nano))
	}
	items, next, err := s.list(ctx, c.Time, top)
	if err != nil {
		return connector.Page{}, wrap("defender: list alerts", err)
	}
	var payloads [][]byte
	for _, raw := range items {
		var fresh bool
		if c, fresh = c.advance(raw); fresh {
			payloads = append(payloads, compact(raw))
		}
	}
	more := len(items) >= top || next
	return connector.Page{Payloads: payloads, Cursor: c.String(), More: more}, nil
}

// list asks for top alerts updated at or after since (all, when zero), and
// reports whether the answer links a next page.
func (s *Source) list(ctx context.Context, since time.Time, top int) ([]json.RawMessage, bool, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("$filter", "lastUpdateTime ge "+since.UTC().Format(time.RFC3339Nano))
	}
	q.Set("$orderby", "lastUpdateTime asc")
	q.Set("$top", strconv.Itoa(top))
	q.Set("$expand", "evidence")
	b, err := s.api.call(ctx, http.MethodGet, pathAlerts, q, nil)
	if err != nil {
		return nil, false, err
	}
	var page struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, false, fmt.Errorf("answer is not an OData page {\"value\":[…]}: %w", err)
	}
	return page.Value, page.NextLink != "", nil
}

// advance moves the cursor past one alert and reports whether it is new.
// An alert without a readable id or lastUpdateTime is passed on (the
// decoder quarantines it) but does not move the cursor.
func (c cursor) advance(raw []byte) (cursor, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return c, true
	}
	id, t := f.Str("id"), f.Time("lastUpdateTime")
	if id == "" || t.IsZero() {
		return c, true
	}
	switch t.Compare(c.Time) {
	case 1:
		return cursor{Time: t, IDs: []string{id}}, true
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
