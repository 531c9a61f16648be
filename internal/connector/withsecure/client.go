package withsecure

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

// MaxPageSize is the most events one list call may ask for (the API's
// limit maximum).
const MaxPageSize = 200

// DefaultPageSize is the page size of a Source without WithPageSize.
const DefaultPageSize = 200

// DefaultEngineGroups are the engine groups a Source pulls: endpoint
// protection, EDR and collaboration protection.
const DefaultEngineGroups = "epp,edr,ecp"

// Source pulls security events through POST
// /security-events/v1/security-events (form-encoded), oldest first
// (order=asc), following nextAnchor.
type Source struct {
	api      *api
	pageSize int
	groups   string
	start    time.Time
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many events one Pull asks for (1–200).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// WithEngineGroups sets the engineGroup filter (default "epp,edr,ecp").
func WithEngineGroups(groups string) SourceOption {
	return func(s *Source) { s.groups = groups }
}

// WithStart sets where a Source with no cursor begins: events persisted
// after t. Without it the first listing has no persistenceTimestampStart
// and the API decides how far back it reads.
func WithStart(t time.Time) SourceOption { return func(s *Source) { s.start = t.UTC() } }

// NewSource returns a Source for the API at cfg.URL with the API client
// cfg.ClientID and cfg.ClientSecret. It asks for the read scope only.
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	a, err := newAPI(cfg, ScopeRead)
	if err != nil {
		return nil, err
	}
	s := &Source{api: a, pageSize: DefaultPageSize, groups: DefaultEngineGroups}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// cursor is where a Source resumes. A listing is one query
// persistenceTimestampStart=From (exclusiveStart=true, order=asc) read
// page by page with the API's nextAnchor (Anchor), which the API accepts
// only together with the same filter, hence From is kept beside it.
// Last is the newest persistenceTimestamp returned, as WithSecure wrote it,
// and IDs the ids returned with exactly that time.
//
// When a listing ends (no nextAnchor) the next one starts at From=Last, so
// a restart from any stored cursor neither skips nor repeats: within a
// listing the anchor is exact, across listings the exclusive start is.
// Events are also checked against Last/IDs, so a page read twice (a retry
// after a lost answer) repeats nothing. If the API refuses a stored anchor
// (HTTP 400), the listing restarts at Last.
type cursor struct {
	From   string   `json:"from,omitempty"`
	Anchor string   `json:"anchor,omitempty"`
	Last   string   `json:"last,omitempty"`
	IDs    []string `json:"ids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil ||
		(c.Last != "" && jsonfield.ParseTime(c.Last).IsZero()) || (c.From != "" && jsonfield.ParseTime(c.From).IsZero()) {
		return cursor{}, fmt.Errorf("withsecure: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.From == "" && c.Anchor == "" && c.Last == "" && len(c.IDs) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// listPage is the security-events answer.
type listPage struct {
	Items      []json.RawMessage `json:"items"`
	NextAnchor *string           `json:"nextAnchor"`
}

// Pull implements connector.Source. One Pull reads one page.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	if c.From == "" && c.Last == "" && !s.start.IsZero() {
		c.From = s.start.Format(time.RFC3339Nano)
	}
	page, err := s.list(ctx, c)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusBadRequest && c.Anchor != "" {
		// The API no longer takes the stored anchor: start a new listing
		// after the last event returned.
		c.Anchor, c.From = "", c.Last
		page, err = s.list(ctx, c)
	}
	if err != nil {
		return connector.Page{}, connector.Rewrap("withsecure: list security events", err)
	}
	var payloads [][]byte
	for _, raw := range page.Items {
		var fresh bool
		if c, fresh = c.advance(raw); fresh {
			payloads = append(payloads, compact(raw))
		}
	}
	if page.NextAnchor == nil || *page.NextAnchor == "" {
		if c.Last != "" {
			c.From = c.Last
		}
		c.Anchor = ""
		return connector.Page{Payloads: payloads, Cursor: c.String()}, nil
	}
	c.Anchor = *page.NextAnchor
	return connector.Page{Payloads: payloads, Cursor: c.String(), More: true}, nil
}

func (s *Source) list(ctx context.Context, c cursor) (listPage, error) {
	form := url.Values{}
	form.Set("limit", strconv.Itoa(s.pageSize))
	form.Set("order", "asc")
	if s.groups != "" {
		form.Set("engineGroup", s.groups)
	}
	if c.From != "" {
		form.Set("persistenceTimestampStart", c.From)
		form.Set("exclusiveStart", "true")
	}
	if c.Anchor != "" {
		form.Set("anchor", c.Anchor)
	}
	_, b, err := s.api.call(ctx, request{method: http.MethodPost, path: pathEvents, form: form})
	if err != nil {
		return listPage{}, err
	}
	var p listPage
	if err := json.Unmarshal(b, &p); err != nil {
		return listPage{}, fmt.Errorf("security-events answer is not {\"items\":[…]}: %w", err)
	}
	return p, nil
}

// advance moves the cursor past one event and reports whether the event is
// new. An event without a readable id or persistenceTimestamp is passed on
// (the decoder quarantines it) but does not move the cursor.
func (c cursor) advance(raw []byte) (cursor, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return c, true
	}
	id, text := f.Str("id"), f.Str("persistenceTimestamp")
	t := jsonfield.ParseTime(text)
	if id == "" || t.IsZero() {
		return c, true
	}
	switch t.Compare(jsonfield.ParseTime(c.Last)) {
	case 1:
		c.Last, c.IDs = text, []string{id}
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

// compact removes white space outside strings (WithSecure answers are
// pretty-printed); it returns a copy of p unchanged if that fails.
func compact(p []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return slices.Clone(p)
	}
	return b.Bytes()
}
