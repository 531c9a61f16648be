// Package audit is the vocabulary of the audit log: every state change, who
// made it and why.
package audit

import "time"

// Entry is one state change, who made it and why.
type Entry struct {
	ID     int64     `json:"id"`
	Tenant string    `json:"tenant"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // "bannin" for automatic decisions, else the person
	Action string    `json:"action"` // e.g. incident.opened, action.done
	Object string    `json:"object"` // e.g. INC-000012
	Detail string    `json:"detail"`
}

// CustomerActor prefixes the audit actor of what a tenant's own people do
// (acknowledging by a mail link or Slack, asking for a release): theirs,
// not the SOC's, so it does not stop the first-response clock.
const CustomerActor = "customer:"
