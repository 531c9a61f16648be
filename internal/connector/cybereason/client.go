package cybereason

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// DefaultLookback is how far back the first Pull (an empty cursor) reads.
const DefaultLookback = 24 * time.Hour

// DefaultMaxPerPull bounds the MalOps one Pull returns; the inbox answers a
// whole time window at once, so a Pull that has more to give says More
// and the next one resumes from its cursor.
const DefaultMaxPerPull = 500

// Source pulls MalOps through POST /rest/detection/inbox with
// {"startTime":<ms>,"endTime":<ms>}: the MalOps updated in the window.
// A MalOp updated again after it was pulled is pulled again, as Elastic's
// integration does; its alerts keep their VendorIDs.
type Source struct {
	api      *api
	lookback time.Duration
	max      int
	now      func() time.Time
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithLookback sets how far back the first Pull reads (default 24 h).
func WithLookback(d time.Duration) SourceOption {
	return func(s *Source) { s.lookback = max(time.Millisecond, d) }
}

// WithMaxPerPull sets how many MalOps one Pull returns at most.
func WithMaxPerPull(n int) SourceOption { return func(s *Source) { s.max = max(1, n) } }

// WithSourceClock sets the clock that ends each window (endTime), so that
// replays and tests run on virtual time.
func WithSourceClock(now func() time.Time) SourceOption { return func(s *Source) { s.now = now } }

// NewSource returns a Source for the console at cfg.URL; cfg.ClientID and
// cfg.ClientSecret are the API user's name and password.
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{api: a, lookback: DefaultLookback, max: DefaultMaxPerPull, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	a.now = s.now
	return s, nil
}

// cursor is where a Source resumes: Last is the newest lastUpdateTime
// (epoch ms) returned and GUIDs the MalOps returned with exactly that
// time. The next window starts at Last inclusive and drops GUIDs, so
// MalOps sharing a millisecond across a Pull, a cap (More) or a restart
// are neither skipped nor repeated. (A MalOp that becomes visible late
// with a lastUpdateTime before Last is missed, as with any time
// checkpoint.)
type cursor struct {
	Last  int64    `json:"last"`
	GUIDs []string `json:"guids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.Last <= 0 {
		return cursor{}, fmt.Errorf("cybereason: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.Last == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// inboxRequest is the inbox query.
type inboxRequest struct {
	StartTime int64 `json:"startTime"`
	EndTime   int64 `json:"endTime"`
}

// malop is one inbox item with its sort key.
type malop struct {
	guid string
	ms   int64
	raw  []byte
}

// Pull implements connector.Source.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	end := s.now().UnixMilli()
	start := c.Last
	if start == 0 {
		start = end - s.lookback.Milliseconds()
	}
	// A checkpoint ahead of our clock (a MalOp stamped in the future, or
	// our clock set back) must not make an empty, invalid window.
	end = max(end, start)
	b, err := s.api.call(ctx, pathInbox, inboxRequest{StartTime: start, EndTime: end}, "")
	if err != nil {
		return connector.Page{}, connector.Rewrap("cybereason: pull MalOps", err)
	}
	var ans struct {
		Malops []json.RawMessage `json:"malops"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return connector.Page{}, fmt.Errorf("cybereason: pull MalOps: the inbox answer is not {\"malops\":[…]}: %w", err)
	}
	items, unkeyed := sortMalops(ans.Malops)
	page := connector.Page{Payloads: unkeyed}
	for _, it := range items {
		if !c.fresh(it) {
			continue
		}
		if len(page.Payloads) == s.max {
			page.More = true
			break
		}
		page.Payloads = append(page.Payloads, compact(it.raw))
		c = c.take(it)
	}
	if c.Last == 0 {
		// Nothing yet: keep the window's start, so that a restart does
		// not read further back than this Pull did.
		c.Last = start
	}
	page.Cursor = c.String()
	return page, nil
}

// sortMalops orders the inbox answer by (lastUpdateTime, guid). Items
// without a readable guid or lastUpdateTime come back apart, compacted:
// they are passed on for the decoder to quarantine and cannot move the
// cursor.
func sortMalops(raws []json.RawMessage) (items []malop, unkeyed [][]byte) {
	items = make([]malop, 0, len(raws))
	for _, raw := range raws {
		f, err := jsonfield.Parse(raw)
		if err != nil {
			unkeyed = append(unkeyed, compact(raw))
			continue
		}
		guid, ms := updateKey(f)
		if guid == "" || ms == 0 {
			unkeyed = append(unkeyed, compact(raw))
			continue
		}
		items = append(items, malop{guid: guid, ms: ms, raw: raw})
	}
	slices.SortFunc(items, func(a, b malop) int {
		return cmp.Or(cmp.Compare(a.ms, b.ms), cmp.Compare(a.guid, b.guid))
	})
	return items, unkeyed
}

// fresh reports whether it was not returned yet: newer than Last, or at
// Last and not among GUIDs.
func (c cursor) fresh(it malop) bool {
	return it.ms > c.Last || it.ms == c.Last && !slices.Contains(c.GUIDs, it.guid)
}

// take moves the cursor past it.
func (c cursor) take(it malop) cursor {
	if it.ms > c.Last {
		return cursor{Last: it.ms, GUIDs: []string{it.guid}}
	}
	c.GUIDs = append(slices.Clone(c.GUIDs), it.guid)
	return c
}

// compact removes white space outside strings; it returns a copy of p
// unchanged if that fails.
func compact(p []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return slices.Clone(p)
	}
	return b.Bytes()
}
