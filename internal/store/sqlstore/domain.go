package sqlstore

import (
	"github.com/bannin-soc/bannin/internal/audit"
	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/notify"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// The domain's types, under the names the store's own code and its
// conformance suite use. Each is declared by the package whose concept it
// is; the store only keeps them.
type (
	AuditEntry     = audit.Entry
	TenantRecord   = tenant.Record
	Notification   = notify.Notification
	Ack            = escalation.Ack
	Chained        = escalation.Chained
	EscalationStep = escalation.EscalationStep
	Signal         = escalation.Signal
	ClockStop      = escalation.ClockStop
	Unanswered     = escalation.Unanswered
	ReportSent     = ticket.ReportSent
	AllowlistEntry = ticket.AllowlistEntry
	PCRResult      = ticket.PCRResult
	TicketFilter   = ticket.Filter
)

// Errors and names the store's callers test for, declared by their domain.
var (
	ErrNotFound = fault.ErrNotFound
	ErrConflict = fault.ErrConflict
)

// CustomerActor: see audit.CustomerActor. CustomerWait: see
// escalation.CustomerWait.
const (
	CustomerActor = audit.CustomerActor
	CustomerWait  = escalation.CustomerWait
)

// StepKey: see escalation.StepKey.
func StepKey(round, step int) int { return escalation.StepKey(round, step) }

// The store implements what the domain packages declare they need.
var (
	_ response.Tx   = (*Tx)(nil)
	_ escalation.Tx = (*Tx)(nil)
)
