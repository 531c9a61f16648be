package app

import "github.com/bannin-soc/bannin/internal/view"

// Result is `bannin replay`'s output, as DESIGN.md fixes it: add fields,
// never rename.
type Result struct {
	Alerts    AlertCounts        `json:"alerts"`
	Incidents []view.IncidentOut `json:"incidents"`
}

// AlertCounts summarises intake. Received, accepted and quarantined count
// payloads; duplicates and suppressed count alerts.
type AlertCounts struct {
	Received    int `json:"received"`
	Accepted    int `json:"accepted"`
	Duplicates  int `json:"duplicates"`
	Quarantined int `json:"quarantined"`
	Suppressed  int `json:"suppressed"`
}
