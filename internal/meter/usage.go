package meter

import (
	"sort"

	"github.com/bannin-soc/bannin/internal/alert"
)

// Usage is what a tenant's alerts and incidents add up to between two
// instants, as the store counts it.
type Usage struct {
	// Endpoints is the number of distinct endpoints (alert.HostKey) that
	// alerts were received from, all sources together: an endpoint two
	// vendors both report on counts once.
	Endpoints int
	// Alerts counts every alert received; Unattributed those that named no
	// endpoint (no host name or id), which no endpoint count includes.
	Alerts, Unattributed int
	Sources              []SourceUsage   // by source, then vendor
	Incidents            []IncidentCount // one row per priority and need of a human
}

// SourceUsage is the endpoints and alerts of one source of the tenant.
type SourceUsage struct {
	Source    string `json:"source"`
	Vendor    string `json:"vendor"`
	Endpoints int    `json:"endpoints"`
	Alerts    int    `json:"alerts"`
}

// IncidentCount counts incidents created with one priority that did, or did
// not, need a human.
type IncidentCount struct {
	Priority   alert.Priority
	NeedsHuman bool
	Count      int
}

// PriorityCount is the incidents of one priority, split by whether a human
// was needed (an analyst's judgement or approval) or bannin handled them
// alone.
type PriorityCount struct {
	Priority   alert.Priority `json:"priority"`
	Total      int            `json:"total"`
	NeedsHuman int            `json:"needs_human"`
	Automatic  int            `json:"automatic"`
}

// byPriority folds incident counts into P0–P3 (always all four, in order),
// followed by any other priority found in the rows.
func byPriority(rows []IncidentCount) []PriorityCount {
	idx := map[alert.Priority]int{}
	var out []PriorityCount
	for _, p := range []alert.Priority{alert.P0, alert.P1, alert.P2, alert.P3} {
		idx[p] = len(out)
		out = append(out, PriorityCount{Priority: p})
	}
	var extra []alert.Priority
	for _, r := range rows {
		if _, ok := idx[r.Priority]; !ok {
			idx[r.Priority] = -1
			extra = append(extra, r.Priority)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	for _, p := range extra {
		idx[p] = len(out)
		out = append(out, PriorityCount{Priority: p})
	}
	for _, r := range rows {
		c := &out[idx[r.Priority]]
		c.Total += r.Count
		if r.NeedsHuman {
			c.NeedsHuman += r.Count
		} else {
			c.Automatic += r.Count
		}
	}
	return out
}
