// Package web serves bannin over HTTP: alert ingestion (the webhook of
// intake), the REST API, acknowledgement pages and Slack actions. Every
// failure a handler returns is answered through one table from error kind
// to HTTP status (status); every tenant route is behind the API token and
// fails closed.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/bannin-soc/bannin/internal/escalation"
	"github.com/bannin-soc/bannin/internal/estate"
	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/slo"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// Server holds what the handlers need.
type Server struct {
	Store      Store
	Tenants    Tenants
	Response   *response.Service
	SLO        *slo.Tracker
	View       *view.Reader
	Escalation *escalation.Service
	PCR        PCRApplier
	// Ingest is the webhook of intake (POST /v1/ingest/{tenant}/{source}).
	Ingest http.Handler
	// Ping checks the store for /healthz.
	Ping func(ctx context.Context) error
	// APIToken guards the REST API (Authorization: Bearer); empty
	// disables it.
	APIToken string
	// SlackSigningSecret verifies Slack's interaction requests; empty
	// disables /v1/slack/actions.
	SlackSigningSecret []byte
	Clock              func() time.Time
	Log                *slog.Logger
}

// Tenants finds running tenants.
type Tenants interface {
	Tenant(id string) (*estate.Tenant, bool)
}

// PCRApplier applies a PCR ticket against the tenant's allowlists.
type PCRApplier interface {
	ApplyPCR(ctx context.Context, tenantID string, id int64, by string) (*ticket.PCRResult, error)
}

// Store is what the handlers read and change directly.
type Store interface {
	Incident(ctx context.Context, tenant string, id int64) (*ticket.Incident, error)
	Incidents(ctx context.Context, tenant string) ([]*ticket.Incident, error)
	IncidentAck(ctx context.Context, tenant string, incidentID int64) (*escalation.Ack, error)
	Acknowledge(ctx context.Context, tenant string, incidentID int64, by, via string, at time.Time) (*escalation.Ack, bool, error)
	Isolations(ctx context.Context, tenant string) ([]response.Isolation, error)
	SetDFIR(ctx context.Context, tenant string, incidentID int64, on bool, actor, why string, at time.Time) (*ticket.Incident, error)
	Tickets(ctx context.Context, tenant string, f ticket.Filter) ([]*ticket.Ticket, error)
	CreateTicket(ctx context.Context, tk *ticket.Ticket, actor string, at time.Time) error
	MoveTicket(ctx context.Context, tenant string, id int64, to ticket.State, actor, why string, at time.Time) (*ticket.Ticket, error)
	AddTicketNote(ctx context.Context, tenant string, id int64, n ticket.Note) error
	LinkTicket(ctx context.Context, tenant string, id int64, l ticket.Link, actor string, at time.Time) error
	RefusePCR(ctx context.Context, tenant string, id int64, reason, by string, at time.Time) (*ticket.Ticket, error)
	EscalateToVendor(ctx context.Context, tenant string, id int64, v *ticket.VendorEscalation) error
}

// Handler serves every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/ingest/{tenant}/{source}", s.Ingest)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ping(r.Context()); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	s.apiRoutes(mux)
	s.ackRoutes(mux)
	return mux
}

// status is the one table from an error's kind to the HTTP answer: the
// status and a message safe for the client. Conflicts and invalid input
// name only what the client sent or the state it ran into; anything else
// is an internal error, logged (ok false) and answered without detail.
func status(err error) (code int, msg string, ok bool) {
	var bad badRequest
	switch {
	case errors.Is(err, fault.ErrNotFound):
		return http.StatusNotFound, "not found", true
	case errors.Is(err, fault.ErrConflict):
		return http.StatusConflict, err.Error(), true
	case errors.Is(err, fault.ErrInvalid), errors.As(err, &bad):
		return http.StatusBadRequest, err.Error(), true
	case errors.Is(err, fault.ErrUnauthorized):
		return http.StatusUnauthorized, "missing or wrong credentials", true
	}
	return http.StatusInternalServerError, "internal error", false
}
