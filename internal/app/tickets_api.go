package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/ticket"
	"github.com/bannin-soc/bannin/internal/view"
)

// Tickets: the service methods the CLI and the REST API share, then the
// REST handlers (registered in apiRoutes, all behind a.authed).

// ApplyPCR applies a PCR ticket of the tenant (see sqlstore.DB.ApplyPCR),
// refusing it when the tenant file's own allowlist already covers it.
func (a *App) ApplyPCR(ctx context.Context, tenantID string, id int64, by string) (*sqlstore.PCRResult, error) {
	file, err := a.fileAllowlist(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return a.DB.ApplyPCR(ctx, tenantID, id, file, by, a.ticketNow())
}

// fileAllowlist returns the tenant file's plain hash entries (a hash, at
// most one host glob, nothing else) as requests, for the "already
// allowlisted" check: from the running tenant, else from the file as
// applied to the store.
func (a *App) fileAllowlist(ctx context.Context, tenantID string) ([]ticket.AllowRequest, error) {
	var entries []tenant.AllowEntry
	if rt, ok := a.Estate.Tenant(tenantID); ok {
		entries = rt.Triage.Allowlist
	} else {
		rec, err := a.DB.Tenant(ctx, tenantID)
		if errors.Is(err, sqlstore.ErrNotFound) {
			return nil, nil // no tenant file applied: nothing in it to cover the request
		}
		if err != nil {
			return nil, err
		}
		var f struct {
			Allowlist []struct {
				SHA256      string   `yaml:"sha256"`
				ProcessName string   `yaml:"process_name"`
				CommandLine string   `yaml:"command_line"`
				Hosts       []string `yaml:"hosts"`
				Rule        string   `yaml:"rule"`
			} `yaml:"allowlist"`
		}
		if err := yaml.Unmarshal(rec.Config, &f); err != nil {
			return nil, fmt.Errorf("read tenant %s's allowlist: %w", tenantID, err)
		}
		for _, e := range f.Allowlist {
			entries = append(entries, tenant.AllowEntry{SHA256: e.SHA256, ProcessName: e.ProcessName,
				CommandLine: e.CommandLine, Hosts: e.Hosts, Rule: e.Rule})
		}
	}
	var out []ticket.AllowRequest
	for _, e := range entries {
		if e.SHA256 == "" || e.ProcessName != "" || e.CommandLine != "" || e.Rule != "" || len(e.Hosts) > 1 {
			continue // narrower than a hash: it cannot make a request redundant
		}
		r := ticket.AllowRequest{SHA256: e.SHA256, Reason: e.Reason}
		if len(e.Hosts) == 1 {
			r.HostGlob = e.Hosts[0]
		}
		out = append(out, r)
	}
	return out, nil
}

// ticketNow is the time ticket changes are stamped with, whole
// microseconds as the store keeps them.
func (a *App) ticketNow() time.Time { return a.cfg.Clock().UTC().Truncate(time.Microsecond) }

// ticketAPI turns the ticket model's refusals into 400 answers with their
// message (safe: it names only what the client sent); conflicts and
// not-found go on to authed's mapping.
func ticketAPI(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, tenantID string) error {
		err := h(w, r, tenantID)
		var bad badRequest
		switch {
		case err == nil, errors.Is(err, sqlstore.ErrConflict), errors.Is(err, sqlstore.ErrNotFound):
			return err
		case errors.Is(err, ticket.ErrInvalid), errors.As(err, &bad):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return nil
		}
		return err
	}
}

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
		return 0, sqlstore.ErrNotFound // an id that cannot exist is not found, like incidents
	}
	return id, nil
}

func (a *App) listTickets(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var f sqlstore.TicketFilter
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
	tks, err := a.DB.Tickets(r.Context(), tenantID, f)
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

func (a *App) createTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	var req ticketRequest
	if err := readBody(r, &req); err != nil {
		return err
	}
	tk := &ticket.Ticket{Tenant: tenantID, Kind: req.Kind, Title: req.Title, Body: req.Body, Assignee: req.Assignee,
		Requester: req.Requester, Links: req.Links, PCR: req.PCR}
	if tk.Requester == "" {
		tk.Requester = actor(r)
	}
	if err := a.DB.CreateTicket(r.Context(), tk, actor(r), a.ticketNow()); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tk)
	return nil
}

func (a *App) getTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	rt, ok := a.Estate.Tenant(tenantID)
	if !ok {
		return sqlstore.ErrNotFound
	}
	v, err := a.SLO.TicketView(r.Context(), rt.Triage.Tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *App) transitionTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
	tk, err := a.DB.MoveTicket(r.Context(), tenantID, id, req.To, actor(r), req.Reason, a.ticketNow())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tk)
	return nil
}

func (a *App) noteTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
	n := ticket.Note{At: a.ticketNow(), Author: actor(r), Text: req.Text}
	if err := a.DB.AddTicketNote(r.Context(), tenantID, id, n); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

func (a *App) linkTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	var l ticket.Link
	if err := readBody(r, &l); err != nil {
		return err
	}
	if err := a.DB.LinkTicket(r.Context(), tenantID, id, l, actor(r), a.ticketNow()); err != nil {
		return err
	}
	return a.getTicket(w, r, tenantID)
}

func (a *App) applyTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticketID(r)
	if err != nil {
		return err
	}
	res, err := a.ApplyPCR(r.Context(), tenantID, id, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (a *App) refuseTicket(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
	tk, err := a.DB.RefusePCR(r.Context(), tenantID, id, req.Reason, actor(r), a.ticketNow())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tk)
	return nil
}

func (a *App) setVerdict(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticket.ParseRef(r.PathValue("id"))
	if err != nil {
		return sqlstore.ErrNotFound
	}
	var req struct {
		Verdict ticket.Verdict `json:"verdict"`
		Reason  string         `json:"reason"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	in, rels, err := a.Response.SetVerdict(r.Context(), tenantID, id, req.Verdict, actor(r), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": in.Ref, "verdict": in.Verdict, "released": actionsOut(rels)})
	return nil
}

// releaseIncident is POST /v1/tenants/{tenant}/incidents/{id}/release with
// {"host": "…", "reason": "…", "requested_by": "…"}: with requested_by (a
// customer's request) the release waits for approval by another person.
func (a *App) releaseIncident(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
	rel, err := a.Response.Release(r.Context(), tenantID, r.PathValue("id"), rr)
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
func (a *App) setDFIR(w http.ResponseWriter, r *http.Request, tenantID string) error {
	id, err := ticket.ParseRef(r.PathValue("id"))
	if err != nil {
		return sqlstore.ErrNotFound
	}
	var req struct {
		On     bool   `json:"on"`
		Reason string `json:"reason"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	in, err := a.DB.SetDFIR(r.Context(), tenantID, id, req.On, actor(r), req.Reason, a.ticketNow())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": in.Ref, "dfir": in.DFIR})
	return nil
}

// escalateVendor is POST /v1/tenants/{tenant}/tickets/{id}/vendor with
// {"vendor": "…", "request": "…", "vendor_ref": "…"}.
func (a *App) escalateVendor(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
		RequestedBy: actor(r), RequestedAt: a.ticketNow()}
	if err := a.DB.EscalateToVendor(r.Context(), tenantID, id, v); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// answerVendor is POST /v1/tenants/{tenant}/tickets/{id}/vendor/answer with
// {"verdict": "benign|malicious|inconclusive", "answer": "…"}.
func (a *App) answerVendor(w http.ResponseWriter, r *http.Request, tenantID string) error {
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
	esc, rels, err := a.Response.AnswerVendor(r.Context(), tenantID, id, req.Verdict, req.Answer, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"escalation": esc, "released": actionsOut(rels)})
	return nil
}
