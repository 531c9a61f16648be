package carbonblack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// MaxPageSize is the most alerts one search asks for (rows).
const MaxPageSize = 10000

// DefaultPageSize is the page size of a Source without WithPageSize.
const DefaultPageSize = 100

// DefaultLookback is how far back a Source without a cursor starts.
const DefaultLookback = 24 * time.Hour

// DefaultDelay is how far behind now each search ends. Carbon Black's alert
// bulk export guide asks for a 60 s delay so that alerts still being
// written are not missed (Elastic's integration uses the same).
const DefaultDelay = 60 * time.Second

// maxEmptyPages bounds how many pages of already-returned alerts one Pull
// reads before it reports "more" and lets the caller store the cursor.
const maxEmptyPages = 20

// overlap is how far before the checkpoint each search starts, so that
// alerts sharing the checkpoint's millisecond are found whether the API
// treats time_range.start as inclusive or exclusive.
const overlap = time.Millisecond

// timeLayout is how Carbon Black writes times (UTC, milliseconds).
const timeLayout = "2006-01-02T15:04:05.000Z"

// Source pulls alerts through POST /api/alerts/v7/orgs/{org_key}/alerts/
// _search, sorted by backend_update_timestamp ascending. An alert that
// Carbon Black updates (new events, workflow change) gets a new
// backend_update_timestamp and is pulled again, with the same id.
type Source struct {
	api      *api
	pageSize int
	lookback time.Duration
	delay    time.Duration
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many alerts one search asks for (1–10000).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// WithLookback sets how far back the first Pull (empty cursor) starts.
func WithLookback(d time.Duration) SourceOption {
	return func(s *Source) { s.lookback = max(0, d) }
}

// WithDelay sets how far behind now each search ends (DefaultDelay).
func WithDelay(d time.Duration) SourceOption {
	return func(s *Source) { s.delay = max(0, d) }
}

// WithSourceClock sets the clock that ends each search's time range (time.Now
// by default), so that replays run on virtual time.
func WithSourceClock(now func() time.Time) SourceOption {
	return func(s *Source) { s.api.Now = now }
}

// NewSource returns a Source for the environment at cfg.URL; cfg.ClientID
// is "<org key>/<API id>" and cfg.ClientSecret the API secret key.
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{api: a, pageSize: DefaultPageSize, lookback: DefaultLookback, delay: DefaultDelay}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// cursor is where a Source resumes: Updated is the newest
// backend_update_timestamp returned (as Carbon Black wrote it) and IDs the
// ids of every alert returned with exactly that time.
//
// Every search asks for time_range.start = Updated minus overlap, from row
// 0, and every alert returned is checked against Updated/IDs: one older
// than Updated or already in IDs is dropped. So alerts sharing one
// timestamp across a page boundary or a restart are neither skipped nor
// repeated, and offsets never carry over between searches (they would
// shift as alerts are updated and move to the end of the sort). Rows are
// only advanced within one Pull, when a whole page was already returned.
// (An alert that becomes visible late with a backend_update_timestamp
// before Updated is missed, as with any time checkpoint.)
type cursor struct {
	Updated string   `json:"updated,omitempty"`
	IDs     []string `json:"ids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || jsonfield.ParseTime(c.Updated).IsZero() {
		return cursor{}, fmt.Errorf("carbonblack: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.Updated == "" {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// searchBody is the alerts search request.
type searchBody struct {
	TimeRange struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"time_range"`
	Criteria map[string]any `json:"criteria"`
	Start    int            `json:"start"`
	Rows     int            `json:"rows"`
	Sort     []sortField    `json:"sort"`
}

type sortField struct {
	Field string `json:"field"`
	Order string `json:"order"`
}

// searchPage is the alerts search answer.
type searchPage struct {
	Results  []json.RawMessage `json:"results"`
	NumFound int               `json:"num_found"`
}

// Pull implements connector.Source.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	to := s.api.Now().UTC().Add(-s.delay)
	from := to.Add(-s.lookback)
	if c.Updated != "" {
		from = jsonfield.ParseTime(c.Updated).Add(-overlap)
		if from.After(to) { // never an inverted range, should the checkpoint be ahead of the clock
			from = to
		}
	}
	var payloads [][]byte
	row := 0
	for range maxEmptyPages {
		page, err := s.search(ctx, from, to, row)
		if err != nil {
			return connector.Page{}, wrap("carbonblack: search alerts", err)
		}
		for _, raw := range page.Results {
			var fresh bool
			if c, fresh = c.advance(raw); fresh {
				payloads = append(payloads, compact(raw))
			}
		}
		row += len(page.Results)
		done := len(page.Results) < s.pageSize || row >= page.NumFound
		if len(payloads) > 0 || done {
			return connector.Page{Payloads: payloads, Cursor: c.String(), More: !done}, nil
		}
	}
	return connector.Page{Cursor: c.String(), More: true}, nil
}

func (s *Source) search(ctx context.Context, from, to time.Time, row int) (searchPage, error) {
	var body searchBody
	body.TimeRange.Start = from.UTC().Format(timeLayout)
	body.TimeRange.End = to.UTC().Format(timeLayout)
	body.Criteria = map[string]any{}
	body.Start, body.Rows = row, s.pageSize
	body.Sort = []sortField{{Field: "backend_update_timestamp", Order: "ASC"}}
	b, err := s.api.call(ctx, http.MethodPost, pathAlertSearch, body, PermAlertsRead)
	if err != nil {
		return searchPage{}, err
	}
	var p searchPage
	if err := json.Unmarshal(b, &p); err != nil {
		return searchPage{}, fmt.Errorf("alerts answer is not {\"results\":[…]}: %w", err)
	}
	return p, nil
}

// advance moves the cursor past one alert and reports whether the alert is
// new. An alert without a readable id or backend_update_timestamp is passed
// on (the decoder quarantines it) but does not move the cursor.
func (c cursor) advance(raw []byte) (cursor, bool) {
	f, err := jsonfield.Parse(raw)
	if err != nil {
		return c, true
	}
	id, text := f.Str("id"), f.Str("backend_update_timestamp")
	t := jsonfield.ParseTime(text)
	if id == "" || t.IsZero() {
		return c, true
	}
	switch t.Compare(jsonfield.ParseTime(c.Updated)) {
	case 1:
		c.Updated, c.IDs = text, []string{id}
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
