package notify

import "time"

// Notification is one message to one contact about one incident.
type Notification struct {
	ID         int64  `json:"-"`
	Tenant     string `json:"tenant"`
	IncidentID int64  `json:"-"`
	Channel    string `json:"channel"` // email | phone | slack | webhook
	Contact    string `json:"contact"`
	Address    string `json:"address"`
	Language   string `json:"language"`
	Kind       string `json:"kind"`  // first | update | escalation | slo_warning | slo_breach
	State      string `json:"state"` // pending | sent | failed
	// About is what a notice of another kind than first/update is about
	// (JSON: an SLO warning's clock, share of budget and due time).
	About     string    `json:"about,omitempty"`
	Attempts  int       `json:"attempts"`
	Detail    string    `json:"detail,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
}

// SLOAbout is what an SLO warning or breach notice is about, kept on its
// notification (Notification.About, as JSON).
type SLOAbout struct {
	Clock   string    `json:"clock"`
	Percent int       `json:"percent"`
	Due     time.Time `json:"due"`
}
