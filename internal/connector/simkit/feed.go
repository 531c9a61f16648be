package simkit

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Item is one record a simulated list API returns: an alert, event or
// detection, with the keys the list is sorted by.
type Item struct {
	ID      string
	Created time.Time
	Raw     json.RawMessage
}

// Feed is a vendor's alert list: items kept in (Created, ID) order, read a
// page at a time from an opaque cursor that names the last item returned,
// so paging stays exact while new items arrive (an item created later than
// the cursor is returned on a later page, never skipped). Safe for
// concurrent use.
type Feed struct {
	mu    sync.Mutex
	items []Item
	ids   map[string]bool
}

// Add inserts an item in order. It fails when the id is already there.
func (f *Feed) Add(it Item) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil {
		f.ids = map[string]bool{}
	}
	if f.ids[it.ID] {
		return fmt.Errorf("id %q added twice", it.ID)
	}
	f.ids[it.ID] = true
	i, _ := slices.BinarySearchFunc(f.items, it, compareItems)
	f.items = slices.Insert(f.items, i, it)
	return nil
}

// Len counts the items.
func (f *Feed) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.items)
}

// Has reports whether an item with id is in the feed.
func (f *Feed) Has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[id]
}

// Get returns the item with id.
func (f *Feed) Get(id string) (Item, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range f.items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// IDs lists the item ids in order.
func (f *Feed) IDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(f.items))
	for i, it := range f.items {
		ids[i] = it.ID
	}
	return ids
}

// Query selects a page: items after the cursor (or all, when empty) that
// keep passes (all, when nil), at most Limit of them.
type Query struct {
	Cursor string
	Keep   func(Item) bool
	Limit  int
}

// Page is one answer of the list.
type Page struct {
	Items []Item
	// Next is the cursor after the last item returned; it is the query's
	// own cursor when the page is empty, so a poller can keep it.
	Next string
	// More is true when items that pass remain after this page.
	More bool
	// Total counts the items that pass, before paging.
	Total int
}

// Read returns one page. A cursor that does not parse is an error the
// simulator answers with 400.
func (f *Feed) Read(q Query) (Page, error) {
	after, err := DecodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := Page{Next: q.Cursor}
	for _, it := range f.items {
		if q.Keep != nil && !q.Keep(it) {
			continue
		}
		p.Total++
		if after != nil && compareItems(it, *after) <= 0 {
			continue
		}
		if len(p.Items) == q.Limit {
			p.More = true
			continue
		}
		p.Items = append(p.Items, it)
	}
	if n := len(p.Items); n > 0 {
		p.Next = EncodeCursor(p.Items[n-1])
	}
	return p, nil
}

// ReadOffset returns the page at a numeric offset (OData $skip, from=N),
// for vendors that page that way. Offsets shift when items are inserted
// before them; the vendors that page by offset sort by creation time, so a
// client that filters on "created after the last one seen" stays exact.
func (f *Feed) ReadOffset(keep func(Item) bool, offset, limit int) (items []Item, total int) {
	if limit <= 0 {
		limit = 100
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range f.items {
		if keep != nil && !keep(it) {
			continue
		}
		if total >= offset && len(items) < limit {
			items = append(items, it)
		}
		total++
	}
	return items, total
}

func compareItems(a, b Item) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	// Numeric ids (most vendors') sort by value, others as text.
	if len(a.ID) != len(b.ID) {
		if _, err := strconv.ParseUint(a.ID, 10, 64); err == nil {
			if _, err := strconv.ParseUint(b.ID, 10, 64); err == nil {
				return cmp.Compare(len(a.ID), len(b.ID))
			}
		}
	}
	return cmp.Compare(a.ID, b.ID)
}

type cursorKey struct {
	T  time.Time `json:"t"`
	ID string    `json:"id"`
}

// EncodeCursor is the opaque cursor naming it.
func EncodeCursor(it Item) string {
	b, _ := json.Marshal(cursorKey{T: it.Created.UTC(), ID: it.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by EncodeCursor; "" is the start (nil).
func DecodeCursor(s string) (*Item, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var k cursorKey
	if err != nil || json.Unmarshal(b, &k) != nil || k.ID == "" {
		return nil, fmt.Errorf("invalid cursor")
	}
	return &Item{ID: k.ID, Created: k.T}, nil
}
