// Package fault names the few kinds of failure that callers act on — not
// found, conflict, invalid input, not allowed — so that every layer
// classifies errors the same way and the web layer maps each kind to one
// HTTP status in one table. Wrap them with %w and context.
package fault

import "errors"

var (
	// ErrNotFound marks a looked-up thing that does not exist (for this
	// tenant). Not-found is an error, never (nil, nil).
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a change that contradicts the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid marks input that can never be accepted as it stands; its
	// message names only what the caller sent, so it is safe to show.
	ErrInvalid = errors.New("invalid")
	// ErrUnauthorized marks a caller without valid credentials.
	ErrUnauthorized = errors.New("unauthorized")
)
