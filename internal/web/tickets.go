package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/fault"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// Tickets: the service methods the CLI and the REST API share, then the
// REST handlers (registered in apiRoutes, all behind s.authed).

// now is the time ticket changes are stamped with, whole
// microseconds as the store keeps them.
func (s *Server) now() time.Time { return s.Clock().UTC().Truncate(time.Microsecond) }

// badRequest is a body the API cannot read.
type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

// readBody decodes a JSON request body of at most 64 KiB into v.
func readBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badRequest{"request body: " + err.Error()}
	}
	return nil
}

func actor(r *http.Request) string {
	if who := r.Header.Get("X-Bannin-User"); who != "" {
		return who
	}
	return "api"
}

func ticketID(r *http.Request) (int64, error) {
	id, err := ticket.ParseTicketRef(r.PathValue("id"))
	if err != nil {
		return 0, fault.ErrNotFound // an id that cannot exist is not found, like incidents
	}
	return id, nil
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var f ticket.Filter
	if s := r.URL.Query().Get("state"); s != "" {
		st, err := ticket.ParseState(s)
		if err != nil {
			return err
		}
		f.State = st
	}
	if k := r.URL.Query().Get("kind"); k != "" {
		kind, err := ticket.ParseKind(k)
		if err != nil {
			return err
		}
		f.Kind = kind
	}
	tks, err := s.Store.Tickets(r.Context(), tenantID, f)
	if err != nil {
		return err
	}
	if tks == nil {
		tks = []*ticket.Ticket{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": tks})
	return nil
}

// ticketRequest is the body of POST …/tickets.
type ticketRequest struct {
	Kind      ticket.Kind          `json:"kind"`
	Title     string               `json:"title"`
	Body      string               `json:"body"`
	Assignee  string               `json:"assignee"`
	Requester string               `json:"requester"`
	Links     []ticket.Link        `json:"links"`
	PCR       *ticket.AllowRequest `json:"pcr"`
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var req ticketRequest
	if err := readBody(r, &req); err != nil {
		return err
	}
	tk := &ticket.Ticket{Tenant: tenantID, Kind: req.Kind, Title: req.Title, Body: req.Body, Assignee: req.Assignee,
		Requester: req.Requester, Links: req.Links, PCR: req.PCR}
	if tk.Requester == "" {
		tk.Requester = actor(r)
	}
	if err := s.Store.CreateTicket(r.Context(), tk, actor(r), s.now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tk)
	return nil
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	rt, ok := s.Tenants.Tenant(tenantID)
	if !ok {
		return fault.ErrNotFound
	}
	v, err := s.SLO.TicketView(r.Context(), rt.Triage.Tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) transitionTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var req struct {
		To     ticket.State `json:"to"`
		Reason string       `json:"reason"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	if _, err := ticket.ParseState(string(req.To)); err != nil {
		return err
	}
	tk, err := s.Store.MoveTicket(r.Context(), tenantID, id, req.To, actor(r), req.Reason, s.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tk)
	return nil
}

func (s *Server) noteTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var req struct {
		Text string `json:"text"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	n := ticket.Note{At: s.now(), Author: actor(r), Text: req.Text}
	if err := s.Store.AddTicketNote(r.Context(), tenantID, id, n); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

func (s *Server) linkTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var l ticket.Link
	if err := readBody(r, &l); err != nil {
		return err
	}
	if err := s.Store.LinkTicket(r.Context(), tenantID, id, l, actor(r), s.now()); err != nil {
		return err
	}
	return s.getTicket(w, r, tenantID)
}

func (s *Server) applyTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	res, err := s.PCR.ApplyPCR(r.Context(), tenantID, id, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) refuseTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	tk, err := s.Store.RefusePCR(r.Context(), tenantID, id, req.Reason, actor(r), s.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tk)
	return nil
}

func (s *Server) setVerdict(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticket.ParseRef(r.PathValue("id"))
	if err != nil {
		return fault.ErrNotFound
	}
	var req struct {
		Verdict ticket.Verdict `json:"verdict"`
		Reason  string         `json:"reason"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	in, rels, err := s.Response.SetVerdict(r.Context(), tenantID, id, req.Verdict, actor(r), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": in.Ref, "verdict": in.Verdict, "released": actionsOut(rels)})
	return nil
}

// releaseIncident is POST /v1/tenants/{tenant}/incidents/{id}/release with
// {"host": "…", "reason": "…", "requested_by": "…"}: with requested_by (a
// customer's request) the release waits for approval by another person.
func (s *Server) releaseIncident(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var req struct {
		Host        string `json:"host"`
		Reason      string `json:"reason"`
		RequestedBy string `json:"requested_by"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Host) == "" {
		return badRequest{"want {\"host\": \"<host name>\", \"reason\": \"…\"}"}
	}
	rr := response.ReleaseRequest{Host: req.Host, By: actor(r), Reason: req.Reason}
	if req.RequestedBy != "" {
		rr.Kind, rr.By, rr.EnteredBy = response.ReleaseCustomerRequest, req.RequestedBy, actor(r)
	}
	rel, err := s.Response.Release(r.Context(), tenantID, r.PathValue("id"), rr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, view.ActionOf(rel))
	return nil
}

func actionsOut(acts []*response.Action) []view.ActionOut {
	out := []view.ActionOut{}
	for _, act := range acts {
		out = append(out, view.ActionOf(act))
	}
	return out
}

// setDFIR is POST /v1/tenants/{tenant}/incidents/{id}/dfir with
// {"on": true|false, "reason": "…"}.
func (s *Server) setDFIR(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticket.ParseRef(r.PathValue("id"))
	if err != nil {
		return fault.ErrNotFound
	}
	var req struct {
		On     bool   `json:"on"`
		Reason string `json:"reason"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	in, err := s.Store.SetDFIR(r.Context(), tenantID, id, req.On, actor(r), req.Reason, s.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": in.Ref, "dfir": in.DFIR})
	return nil
}

// escalateVendor is POST /v1/tenants/{tenant}/tickets/{id}/vendor with
// {"vendor": "…", "request": "…", "vendor_ref": "…"}.
func (s *Server) escalateVendor(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var req struct {
		Vendor    string `json:"vendor"`
		Request   string `json:"request"`
		VendorRef string `json:"vendor_ref"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	v := &ticket.VendorEscalation{Vendor: req.Vendor, Request: req.Request, VendorRef: req.VendorRef,
		RequestedBy: actor(r), RequestedAt: s.now()}
	if err := s.Store.EscalateToVendor(r.Context(), tenantID, id, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// answerVendor is POST /v1/tenants/{tenant}/tickets/{id}/vendor/answer with
// {"verdict": "benign|malicious|inconclusive", "answer": "…"}.
func (s *Server) answerVendor(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var req struct {
		Verdict ticket.VendorVerdict `json:"verdict"`
		Answer  string               `json:"answer"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	esc, rels, err := s.Response.AnswerVendor(r.Context(), tenantID, id, req.Verdict, req.Answer, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"escalation": esc, "released": actionsOut(rels)})
	return nil
}
