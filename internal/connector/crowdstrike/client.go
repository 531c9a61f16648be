package crowdstrike

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/crowdstrike/gofalcon/falcon/client/alerts"
	"github.com/crowdstrike/gofalcon/falcon/models"
	openapi "github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
)

// MaxPageSize is the most alerts one Pull returns.
const MaxPageSize = 500

// Source pulls alerts through the Alerts API: query the composite ids
// created since the cursor (oldest first), then fetch those alerts.
type Source struct {
	alerts   alerts.ClientService
	pageSize int
}

var _ connector.Source = (*Source)(nil)

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithPageSize sets how many alerts one Pull returns at most (1–500).
func WithPageSize(n int) SourceOption {
	return func(s *Source) { s.pageSize = max(1, min(MaxPageSize, n)) }
}

// NewSource returns a Source for the API at cfg.URL.
func NewSource(cfg connector.Config, opts ...SourceOption) (*Source, error) {
	rt, err := newRuntime(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{alerts: alerts.New(rt, strfmt.Default), pageSize: MaxPageSize}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// cursor is where a Source resumes: the created_timestamp of the newest
// alert returned (as CrowdStrike wrote it) and the composite ids of every
// alert returned with exactly that timestamp. The next query asks for
// created_timestamp >= ts and drops those ids, so alerts sharing one
// timestamp across a page boundary or a restart are neither skipped nor
// repeated. (An alert indexed late with a created_timestamp before ts would
// be missed; CrowdStrike assigns created_timestamp when it stores the alert,
// which keeps that window small.)
type cursor struct {
	TS  string   `json:"ts,omitempty"`
	IDs []string `json:"ids,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || (c.TS != "" && jsonfield.ParseTime(c.TS).IsZero()) {
		return cursor{}, fmt.Errorf("crowdstrike: cursor %q was not written by this source", s)
	}
	return c, nil
}

func (c cursor) String() string {
	if c.TS == "" {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// Pull implements connector.Source.
func (s *Source) Pull(ctx context.Context, cur string) (connector.Page, error) {
	c, err := parseCursor(cur)
	if err != nil {
		return connector.Page{}, err
	}
	ids, more, err := s.newIDs(ctx, c)
	if err != nil {
		return connector.Page{}, classify("crowdstrike: query alerts", err)
	}
	if len(ids) == 0 {
		return connector.Page{Cursor: cur}, nil
	}
	payloads, err := s.fetch(ctx, ids)
	if err != nil {
		return connector.Page{}, classify("crowdstrike: fetch alerts", err)
	}
	// Ids the query listed but the entities call no longer knows (deleted
	// meanwhile) are left out; when none came back, More stays false so
	// that the caller does not spin on them.
	more = more && len(payloads) > 0
	return connector.Page{Payloads: payloads, Cursor: c.advance(payloads).String(), More: more}, nil
}

// newIDs returns up to pageSize composite ids not yet returned, oldest
// first, and whether more are waiting. It reads on past pages made only of
// ids already returned (many alerts at the cursor's timestamp).
func (s *Source) newIDs(ctx context.Context, c cursor) ([]string, bool, error) {
	seen := map[string]bool{}
	for _, id := range c.IDs {
		seen[id] = true
	}
	var filter *string
	if c.TS != "" {
		f := fmt.Sprintf("created_timestamp:>='%s'", c.TS)
		filter = &f
	}
	sort, limit := "created_timestamp|asc", int64(s.pageSize)
	var fresh []string
	for offset := int64(0); ; {
		p := alerts.NewQueryV2ParamsWithContext(ctx).WithFilter(filter).WithSort(&sort).WithLimit(&limit).WithOffset(&offset)
		res, err := s.alerts.QueryV2(p)
		if err != nil {
			return nil, false, err
		}
		page, total := res.Payload.Resources, pagingTotal(res.Payload)
		for _, id := range page {
			if seen[id] {
				continue
			}
			if len(fresh) == s.pageSize {
				return fresh, true, nil
			}
			seen[id] = true
			fresh = append(fresh, id)
		}
		offset += int64(len(page))
		if int64(len(page)) < limit || (total >= 0 && offset >= total) {
			return fresh, false, nil
		}
	}
}

// pagingTotal returns meta.pagination.total, or -1 when absent.
func pagingTotal(r *models.DetectsapiAlertQueryResponse) int64 {
	if r.Meta == nil || r.Meta.Pagination == nil || r.Meta.Pagination.Total == nil {
		return -1
	}
	return *r.Meta.Pagination.Total
}

// fetch returns the alerts for ids in the order of ids, compacted but
// otherwise byte for byte as the API sent them.
//
// The SDK's response model (models.DetectsAlert) is a fixed struct that
// drops every field it does not declare (identity-protection source_* and
// target_* fields, new vendor fields) and re-encodes the rest, so we keep
// the SDK for building and sending the request (GetV2 is POST
// /alerts/entities/alerts/v2, with the same auth) and swap its response
// reader for one that keeps the raw body.
func (s *Source) fetch(ctx context.Context, ids []string) ([][]byte, error) {
	var body []byte
	p := alerts.NewGetV2ParamsWithContext(ctx).WithBody(&models.DetectsapiPostEntitiesAlertsV2Request{CompositeIds: ids})
	if _, err := s.alerts.GetV2(p, keepRaw(&body)); err != nil {
		return nil, err
	}
	var env struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("entities answer is not JSON: %w", err)
	}
	order := map[string]int{}
	for i, id := range ids {
		order[id] = i
	}
	type item struct {
		pos int
		raw []byte
	}
	items := make([]item, 0, len(env.Resources))
	for _, r := range env.Resources {
		f, err := jsonfield.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("entities answer holds a non-object resource")
		}
		pos, ok := order[f.Str("composite_id")]
		if !ok {
			pos = len(ids)
		}
		items = append(items, item{pos, compact(r)})
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.pos - b.pos })
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it.raw
	}
	return out, nil
}

// keepRaw is an SDK ClientOption that stores a 200 answer's body in dst and
// hands the SDK an empty success value.
func keepRaw(dst *[]byte) alerts.ClientOption {
	return func(op *openapi.ClientOperation) {
		op.Reader = openapi.ClientResponseReaderFunc(func(r openapi.ClientResponse, c openapi.Consumer) (any, error) {
			if r.Code() != http.StatusOK {
				return nil, fmt.Errorf("entities answer: HTTP %d", r.Code())
			}
			b, err := io.ReadAll(io.LimitReader(r.Body(), 64<<20))
			if err != nil {
				return nil, err
			}
			*dst = bytes.TrimSpace(b)
			return alerts.NewGetV2OK(), nil
		})
	}
}

// advance moves the cursor past payloads, which are in created_timestamp
// order.
func (c cursor) advance(payloads [][]byte) cursor {
	last := jsonfield.ParseTime(c.TS)
	for _, p := range payloads {
		f, err := jsonfield.Parse(p)
		if err != nil {
			continue
		}
		text := f.Str("created_timestamp")
		t := jsonfield.ParseTime(text)
		if t.IsZero() {
			continue
		}
		switch t.Compare(last) {
		case 1:
			last, c.TS, c.IDs = t, text, []string{f.Str("composite_id")}
		case 0:
			if id := f.Str("composite_id"); !slices.Contains(c.IDs, id) {
				c.IDs = append(c.IDs, id)
			}
		}
	}
	return c
}
