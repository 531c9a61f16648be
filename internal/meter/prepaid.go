package meter

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Validity is how long a prepaid option ticket can be used after purchase
// (seed 001: 1年間有効、翌年持ち越し不可).
const Validity = "1 year"

// Expiry is the first instant a ticket bought at purchased can no longer be
// used: the same wall-clock time one year later, in purchased's location
// (a purchase on 29 February expires on 1 March).
func Expiry(purchased time.Time) time.Time { return purchased.AddDate(1, 0, 0) }

// Purchase is a batch of prepaid option tickets (a lot).
type Purchase struct {
	ID          int64     `json:"id"`
	Tenant      string    `json:"tenant"`
	PurchasedAt time.Time `json:"purchased_at"`
	ExpiresAt   time.Time `json:"expires_at"` // Expiry(PurchasedAt)
	Quantity    int       `json:"quantity"`
	Note        string    `json:"note,omitempty"`
}

// Consumption is option work paid with tickets.
type Consumption struct {
	ID       int64     `json:"id"`
	Tenant   string    `json:"tenant"`
	At       time.Time `json:"at"`
	Quantity int       `json:"quantity"`
	Reason   string    `json:"reason"`
	Ref      string    `json:"ref,omitempty"` // the ticket or incident the work was for
}

// Draw is the part of a consumption taken from one lot.
type Draw struct {
	PurchaseID int64 `json:"purchase_id"`
	Quantity   int   `json:"quantity"`
}

// Use is a consumption with the lots it drew from.
type Use struct {
	Consumption
	Draws []Draw `json:"draws"`
}

// Lot is a purchase as the ledger stands at an instant.
type Lot struct {
	Purchase
	Used      int `json:"used"`      // drawn by consumptions up to the instant
	Expired   int `json:"expired"`   // left unused when the lot expired (at or before the instant)
	Remaining int `json:"remaining"` // still usable at the instant
}

// Ledger is the state of a tenant's tickets at an instant: the lots bought
// by then, the uses made by then, and how many tickets can still be used.
type Ledger struct {
	At        time.Time `json:"at"`
	Lots      []Lot     `json:"lots"`
	Uses      []Use     `json:"uses"`
	Available int       `json:"available"`
}

// ErrInsufficient is matched (errors.Is) by an InsufficientError.
var ErrInsufficient = errors.New("not enough prepaid tickets")

// InsufficientError is a consumption that the tickets valid at its time
// cannot cover.
type InsufficientError struct {
	Consumption Consumption
	Available   int // valid, unused tickets at the consumption's time
}

func (e *InsufficientError) Error() string {
	return fmt.Sprintf("%d ticket(s) wanted at %s but only %d valid and unused then (tickets expire %s after purchase): %v",
		e.Consumption.Quantity, e.Consumption.At.Format(time.RFC3339), e.Available, Validity, ErrInsufficient)
}

// Is matches ErrInsufficient.
func (e *InsufficientError) Is(target error) bool { return target == ErrInsufficient }

// Replay applies the consumptions made at or before at to the lots bought
// at or before at: each takes from the lots valid at its own time
// (purchased at or before it, not yet expired), the oldest purchase first.
// A lot's tickets are usable from PurchasedAt and no longer at ExpiresAt.
// It fails with an *InsufficientError at the first consumption the lots
// cannot cover.
func Replay(purchases []Purchase, consumptions []Consumption, at time.Time) (*Ledger, error) {
	lots := make([]Lot, 0, len(purchases))
	for _, p := range purchases {
		if !p.PurchasedAt.After(at) {
			lots = append(lots, Lot{Purchase: p})
		}
	}
	sort.SliceStable(lots, func(i, j int) bool {
		a, b := lots[i], lots[j]
		if !a.PurchasedAt.Equal(b.PurchasedAt) {
			return a.PurchasedAt.Before(b.PurchasedAt)
		}
		return a.ID < b.ID
	})
	cs := make([]Consumption, 0, len(consumptions))
	for _, c := range consumptions {
		if !c.At.After(at) {
			cs = append(cs, c)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if !cs[i].At.Equal(cs[j].At) {
			return cs[i].At.Before(cs[j].At)
		}
		return cs[i].ID < cs[j].ID
	})
	led := &Ledger{At: at, Lots: lots, Uses: []Use{}}
	for _, c := range cs {
		avail := 0
		for _, l := range lots {
			if l.usableAt(c.At) {
				avail += l.Quantity - l.Used
			}
		}
		if avail < c.Quantity {
			return nil, &InsufficientError{Consumption: c, Available: avail}
		}
		u := Use{Consumption: c}
		need := c.Quantity
		for i := range lots {
			l := &lots[i]
			if need == 0 {
				break
			}
			if !l.usableAt(c.At) {
				continue
			}
			take := min(need, l.Quantity-l.Used)
			if take == 0 {
				continue
			}
			l.Used += take
			need -= take
			u.Draws = append(u.Draws, Draw{PurchaseID: l.ID, Quantity: take})
		}
		led.Uses = append(led.Uses, u)
	}
	for i := range lots {
		l := &lots[i]
		if at.Before(l.ExpiresAt) {
			l.Remaining = l.Quantity - l.Used
			led.Available += l.Remaining
		} else {
			l.Expired = l.Quantity - l.Used
		}
	}
	return led, nil
}

func (l Lot) usableAt(t time.Time) bool {
	return !l.PurchasedAt.After(t) && t.Before(l.ExpiresAt)
}

// candidateID orders a consumption being checked after the recorded ones
// made at the same instant.
const candidateID = math.MaxInt64

// Check reports whether the ledger still balances with c added: c itself
// must be covered by the tickets valid at its time, and — when c is dated
// before consumptions already recorded — so must every later one. The
// error says which consumption would fall short.
func Check(purchases []Purchase, recorded []Consumption, c Consumption) (*Use, error) {
	if c.Quantity <= 0 {
		return nil, fmt.Errorf("quantity %d: want at least 1 ticket", c.Quantity)
	}
	c.ID = candidateID
	all := append(append([]Consumption(nil), recorded...), c)
	last := c.At
	for _, r := range recorded {
		if r.At.After(last) {
			last = r.At
		}
	}
	led, err := Replay(purchases, all, last)
	var ie *InsufficientError
	if errors.As(err, &ie) && ie.Consumption.ID != candidateID {
		return nil, fmt.Errorf("using %d ticket(s) at %s would leave use #%d (%d ticket(s) at %s, %q) short: %d available then: %w",
			c.Quantity, c.At.Format(time.RFC3339), ie.Consumption.ID, ie.Consumption.Quantity,
			ie.Consumption.At.Format(time.RFC3339), ie.Consumption.Reason, ie.Available, ErrInsufficient)
	}
	if ie != nil {
		ie.Consumption.ID = 0
	}
	if err != nil {
		return nil, err
	}
	for _, u := range led.Uses {
		if u.ID == candidateID {
			u.ID = 0
			return &u, nil
		}
	}
	return nil, errors.New("meter: the checked consumption is missing from the replay") // unreachable: c.At <= last
}
