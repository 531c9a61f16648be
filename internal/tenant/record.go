package tenant

import "time"

// Record is a tenant as applied to the store: its file and its sealed
// secrets.
type Record struct {
	ID        string
	Name      string
	Config    []byte // the tenant file
	Secrets   string // sealed with secret.Box; never plain text at rest
	UpdatedAt time.Time
}
