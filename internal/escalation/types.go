package escalation

import (
	"time"

	"github.com/bannin-soc/bannin/internal/ticket"
)

// Ack is the acknowledgement of an incident: who, how and when. It stops
// the incident's escalation chain.
type Ack struct {
	At  time.Time `json:"at"`
	By  string    `json:"by"`
	Via string    `json:"via"` // email | slack | console | api | cli
}

// Chained is an open, unacknowledged incident whose chain may have steps
// left: its chain started at Start (the first notice queued) and Taken
// holds the steps already taken, as round<<16 | step.
type Chained struct {
	Incident *ticket.Incident
	Start    time.Time
	Taken    map[int]bool
}

// StepKey packs an escalation round and step for Chained.Taken.
func StepKey(round, step int) int { return round<<16 | step }

// EscalationStep is one step of an incident's chain as taken.
type EscalationStep struct {
	Round   int       `json:"round"`
	Step    int       `json:"step"`
	Due     time.Time `json:"due"`
	Fired   time.Time `json:"fired"`
	Outcome string    `json:"outcome"` // notified | skipped_hours
}

// Signal is an SLO warning (Level < 100, percent of the budget) or breach
// (Level 100) of one clock of one object.
type Signal struct {
	Object string    `json:"object"`
	Clock  string    `json:"clock"`
	Level  int       `json:"level"`
	Due    time.Time `json:"due"`
	Fired  time.Time `json:"fired"`
}

// ClockStop holds an incident's stop events for its clocks: its first
// notification sent and its first isolation done (zero: not yet).
type ClockStop struct {
	Sent, Isolated time.Time
}

// CustomerWait is how long bannin waits for a customer's answer before an
// undecided incident turns Suspicious by itself (seed 003: 72 時間以内に
// 応答がない場合、アナリストの評価は「Suspicious」に変更される).
const CustomerWait = 72 * time.Hour

// Unanswered is one incident a sweep turned Suspicious.
type Unanswered struct {
	Tenant   string
	Incident string // INC-…
	Ticket   string // TKT-… that waited on the customer
}
