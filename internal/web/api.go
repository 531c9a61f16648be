package web

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/meter"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// apiRoutes adds the REST API. Every route is tenant-scoped and needs the
// API token; without a configured token the API answers 404 (fails closed).
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/tenants/{tenant}/incidents", s.authed(s.listIncidents))
	mux.Handle("GET /v1/tenants/{tenant}/incidents/{id}", s.authed(s.getIncident))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/approve", s.authed(s.approveIncident))
	mux.Handle("GET /v1/tenants/{tenant}/isolations", s.authed(s.listIsolations))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/verdict", s.authed(s.setVerdict))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/dfir", s.authed(s.setDFIR))
	mux.Handle("POST /v1/tenants/{tenant}/incidents/{id}/release", s.authed(s.releaseIncident))
	mux.Handle("GET /v1/tenants/{tenant}/tickets", s.authed(s.listTickets))
	mux.Handle("POST /v1/tenants/{tenant}/tickets", s.authed(s.createTicket))
	mux.Handle("GET /v1/tenants/{tenant}/tickets/{id}", s.authed(s.getTicket))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/transition", s.authed(s.transitionTicket))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/notes", s.authed(s.noteTicket))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/links", s.authed(s.linkTicket))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/apply", s.authed(s.applyTicket))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/refuse", s.authed(s.refuseTicket))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/vendor", s.authed(s.escalateVendor))
	mux.Handle("POST /v1/tenants/{tenant}/tickets/{id}/vendor/answer", s.authed(s.answerVendor))
	mux.Handle("GET /v1/tenants/{tenant}/slo", s.authed(s.getAttainment))
	mux.Handle("POST /v1/tenants/{tenant}/reports/monthly/{month}/sent", s.authed(s.reportSent))
}

// reportSent is POST /v1/tenants/{tenant}/reports/monthly/{month}/sent with
// {"at": "RFC 3339 (default now)", "note": "…"}.
func (s *Server) reportSent(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
	rt, ok := s.Tenants.Tenant(tenantID)
	if !ok {
		return fault.ErrNotFound
	}
	rep, fresh, err := s.SLO.RecordMonthlyReport(r.Context(), rt.Triage.Tenant, m, req.At, actor(r), req.Note)
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
func (s *Server) getAttainment(w http.ResponseWriter, r *http.Request, tenantID string) error {
	m, err := meter.ParseMonth(r.URL.Query().Get("month"))
	if err != nil {
		return fmt.Errorf("%w: %v", ticket.ErrInvalid, err)
	}
	rt, ok := s.Tenants.Tenant(tenantID)
	if !ok {
		return fault.ErrNotFound
	}
	rep, err := s.SLO.Attainment(r.Context(), rt.Triage.Tenant, m)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

type apiHandler func(w http.ResponseWriter, r *http.Request, tenant string) error

func (s *Server) authed(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.APIToken == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "the REST API is disabled (no API token configured)"})
			return
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.APIToken)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		tenantID := r.PathValue("tenant")
		if _, ok := s.Tenants.Tenant(tenantID); !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such tenant"})
			return
		}
		if err := h(w, r, tenantID); err != nil {
			code, msg, ok := status(err)
			if !ok {
				s.Log.Error("api", "path", r.URL.Path, "err", err)
			}
			writeJSON(w, code, map[string]string{"error": msg})
		}
	})
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, tenantID string) error {
	incs, err := s.Store.Incidents(r.Context(), tenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
	return nil
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticket.ParseRef(r.PathValue("id"))
	if err != nil {
		return fault.ErrNotFound
	}
	view, err := s.View.IncidentView(r.Context(), tenantID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) approveIncident(w http.ResponseWriter, r *http.Request, tenantID string) error {
	who := r.Header.Get("X-Bannin-User")
	if who == "" {
		who = "api"
	}
	acts, err := s.Response.Approve(r.Context(), tenantID, r.PathValue("id"), who)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"approved": acts})
	return nil
}

func (s *Server) listIsolations(w http.ResponseWriter, r *http.Request, tenantID string) error {
	iso, err := s.Store.Isolations(r.Context(), tenantID)
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
