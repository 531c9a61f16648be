package app

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// apiRoutes adds the REST API. Every route is tenant-scoped and needs the
// API token; without a configured token the API answers 404 (fails closed).
func (a *App) apiRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/tenants/{tenant}/incidents", a.authed(a.listIncidents))
	mux.Handle("GET /v1/tenants/{tenant}/incidents/{id}", a.authed(a.getIncident))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/approve", a.authed(a.approveIncident))
	mux.Handle("GET /v1/tenants/{tenant}/isolations", a.authed(a.listIsolations))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/verdict", a.authed(ticketAPI(a.setVerdict)))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/dfir", a.authed(ticketAPI(a.setDFIR)))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/release", a.authed(ticketAPI(a.releaseIncident)))
	mux.Handle("GET /v1/tenants/{tenant}/tickets", a.authed(ticketAPI(a.listTickets)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets", a.authed(ticketAPI(a.createTicket)))
	mux.Handle("GET /v1/tenants/{tenant}/tickets/{id}", a.authed(ticketAPI(a.getTicket)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/transition", a.authed(ticketAPI(a.transitionTicket)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/notes", a.authed(ticketAPI(a.noteTicket)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/links", a.authed(ticketAPI(a.linkTicket)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/apply", a.authed(ticketAPI(a.applyTicket)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/refuse", a.authed(ticketAPI(a.refuseTicket)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/vendor", a.authed(ticketAPI(a.escalateVendor)))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/vendor/answer", a.authed(ticketAPI(a.answerVendor)))
	mux.Handle("GET /v1/tenants/{tenant}/slo", a.authed(ticketAPI(a.getAttainment)))
	mux.Handle("POST /v1/tenants/{tenant}/reports/monthly/{month}/sent", a.authed(ticketAPI(a.reportSent)))
}

// reportSent is POST /v1/tenants/{tenant}/reports/monthly/{month}/sent with
// {"at": "RFC 3339 (default now)", "note": "…"}.
func (a *App) reportSent(w http.ResponseWriter, r *http.Request, tenantID string) error {
	m, err := meter.ParseMonth(r.PathValue("month"))
	if err != nil {
		return fmt.Errorf("%w: %v", ticket.ErrInvalid, err)
	}
	var req struct {
		At   time.Time `json:"at"`
		Note string    `json:"note"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	rt, ok := a.Estate.Tenant(tenantID)
	if !ok {
		return sqlstore.ErrNotFound
	}
	rep, fresh, err := a.SLO.RecordMonthlyReport(r.Context(), rt.Triage.Tenant, m, req.At, actor(r), req.Note)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if fresh {
		code = http.StatusCreated
	}
	writeJSON(w, code, rep)
	return nil
}

// getAttainment is GET /v1/tenants/{tenant}/slo?month=YYYY-MM.
func (a *App) getAttainment(w http.ResponseWriter, r *http.Request, tenantID string) error {
	m, err := meter.ParseMonth(r.URL.Query().Get("month"))
	if err != nil {
		return fmt.Errorf("%w: %v", ticket.ErrInvalid, err)
	}
	rt, ok := a.Estate.Tenant(tenantID)
	if !ok {
		return sqlstore.ErrNotFound
	}
	rep, err := a.SLO.Attainment(r.Context(), rt.Triage.Tenant, m)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

type apiHandler func(w http.ResponseWriter, r *http.Request, tenant string) error

func (a *App) authed(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.APIToken == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "the REST API is disabled (no API token configured)"})
			return
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.APIToken)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		tenantID := r.PathValue("tenant")
		if _, ok := a.Estate.Tenant(tenantID); !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such tenant"})
			return
		}
		if err := h(w, r, tenantID); err != nil {
			code, msg := http.StatusInternalServerError, "internal error"
			switch {
			case errors.Is(err, sqlstore.ErrNotFound):
				code, msg = http.StatusNotFound, "not found"
			case errors.Is(err, sqlstore.ErrConflict):
				code, msg = http.StatusConflict, err.Error()
			default:
				a.log.Error("api", "path", r.URL.Path, "err", err)
			}
			writeJSON(w, code, map[string]string{"error": msg})
		}
	})
}

func (a *App) listIncidents(w http.ResponseWriter, r *http.Request, tenantID string) error {
	incs, err := a.DB.Incidents(r.Context(), tenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
	return nil
}

func (a *App) getIncident(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticket.ParseRef(r.PathValue("id"))
	if err != nil {
		return sqlstore.ErrNotFound
	}
	view, err := a.View.IncidentView(r.Context(), tenantID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (a *App) approveIncident(w http.ResponseWriter, r *http.Request, tenantID string) error {
	who := r.Header.Get("X-Bannin-User")
	if who == "" {
		who = "api"
	}
	acts, err := a.Response.Approve(r.Context(), tenantID, r.PathValue("id"), who)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"approved": acts})
	return nil
}

func (a *App) listIsolations(w http.ResponseWriter, r *http.Request, tenantID string) error {
	iso, err := a.DB.Isolations(r.Context(), tenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"isolations": iso})
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
