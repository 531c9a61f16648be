// Package response carries out containment: the actions an incident calls
// for, their approval, the durable jobs that call the vendor, and the registry
// of isolated endpoints.
package response

import "time"

// Kind is what an action does to an endpoint.
type Kind string

// Action kinds.
const (
	KindIsolate Kind = "isolate"
	KindRelease Kind = "release"
)

// State is where an action stands.
type State string

// Action states, as replay output and the console show them.
const (
	StateAwaitingApproval State = "awaiting_approval"
	StateRequested        State = "requested"
	StateDone             State = "done"
	StateFailed           State = "failed"
	// StateCancelled: an isolation still waiting for approval when its
	// incident turned out a false positive; it will never run.
	StateCancelled State = "cancelled"
)

// Action is one containment step on one endpoint for one incident.
type Action struct {
	ID         int64     `json:"-"`
	Tenant     string    `json:"tenant"`
	IncidentID int64     `json:"-"`
	Incident   string    `json:"incident"`
	Kind       Kind      `json:"kind"`
	Source     string    `json:"source"`  // the tenant source whose vendor acts
	HostKey    string    `json:"host"`    // short lower-case host name
	HostID     string    `json:"host_id"` // the vendor's id for the endpoint
	State      State     `json:"state"`
	Reason     string    `json:"reason"`
	Key        string    `json:"key"` // idempotency key sent to the vendor
	Detail     string    `json:"detail,omitempty"`
	Attempts   int       `json:"attempts"`
	Approver   string    `json:"approver,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Isolation is one endpoint in the isolation registry (seed 004).
type Isolation struct {
	Tenant   string    `json:"tenant"`
	HostKey  string    `json:"host"`
	HostID   string    `json:"host_id"`
	Source   string    `json:"source"`
	Isolated bool      `json:"isolated"`
	Since    time.Time `json:"since"`
	Incident string    `json:"incident"`
}
