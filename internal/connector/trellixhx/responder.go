package trellixhx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Containment states HX reports for a host (GET …/containment).
const (
	StateNormal           = "normal"
	StateContainRequested = "contain_requested" // requested, waiting for approval
	StateContaining       = "containing"        // approved, on its way to the agent
	StateContained        = "contained"
	StateUncontaining     = "uncontaining"
)

// Responder contains hosts through HX's containment API and releases them.
//
// HX containment is two steps: a request (POST, 202), then an approval
// (PATCH {"state":"contain"}) by a user who may approve. Isolate does both:
// a request that stays pending approval is not containment, so when HX
// refuses the approval (403) Isolate fails with ErrPendingApproval and
// ErrMissingRole, naming the api_admin role and saying the request is
// waiting in HX. Both calls read the host's state first, so a repeated call
// for a host already in (or on its way to) the asked state makes no
// containment call (Result.Already), and a host already requested is only
// approved, not requested again.
type Responder struct {
	api *api
}

var _ connector.Responder = (*Responder)(nil)

// NewResponder returns a Responder for the appliance at cfg.URL;
// cfg.ClientID and cfg.ClientSecret are the HX API user's name and password.
func NewResponder(cfg connector.Config) (*Responder, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Responder{api: a}, nil
}

// Close logs the Responder's session out of HX.
func (r *Responder) Close(ctx context.Context) error { return r.api.logout(ctx) }

// Isolate requests containment of the host t.HostID (the HX agent _id) and
// approves it.
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	prefix := "trellixhx: contain " + hostLabel(t)
	p, err := containmentPath(t)
	if err != nil {
		return connector.Result{}, fmt.Errorf("%s: %w", prefix, err)
	}
	state, err := r.State(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	switch state {
	case StateContained, StateContaining:
		return connector.Result{Already: true, Detail: fmt.Sprintf("host %s is already %s", hostLabel(t), state)}, nil
	case StateContainRequested:
		// A request is already waiting (ours from an earlier try, or an
		// analyst's): approve it rather than request again.
	default:
		_, err := r.api.call(ctx, http.MethodPost, p, nil, nil, key)
		if errors.Is(err, ErrConflict) {
			// Someone requested containment between our read and our
			// request: look again and carry on from their state.
			return r.afterConflict(ctx, t, key, prefix)
		}
		if err != nil {
			return connector.Result{}, wrap(prefix+": request", err)
		}
	}
	return r.approve(ctx, t, p, key, prefix, state)
}

// afterConflict re-reads the state after a 409 on the request: contained or
// containing is done, a waiting request is approved.
func (r *Responder) afterConflict(ctx context.Context, t connector.Target, key, prefix string) (connector.Result, error) {
	state, err := r.State(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	switch state {
	case StateContained, StateContaining:
		return connector.Result{Already: true, Detail: fmt.Sprintf("host %s was %s by another request", hostLabel(t), state)}, nil
	case StateContainRequested:
		p, _ := containmentPath(t)
		return r.approve(ctx, t, p, key, prefix, state)
	}
	return connector.Result{}, fmt.Errorf("%s: %w: HX refused the request and the host is %s", prefix, ErrConflict, state)
}

// approve approves the waiting containment request (PATCH {"state":"contain"}).
func (r *Responder) approve(ctx context.Context, t connector.Target, p, key, prefix, was string) (connector.Result, error) {
	if _, err := r.api.call(ctx, http.MethodPatch, p, nil, map[string]string{"state": "contain"}, key); err != nil {
		if errors.Is(err, ErrMissingRole) {
			return connector.Result{}, fmt.Errorf("%s: %w: the request is pending approval in HX; an HX user with the %s role must approve it, or grant that role to bannin's API user: %w",
				prefix, ErrPendingApproval, RoleAdmin, err)
		}
		return connector.Result{}, wrap(prefix+": approve (the request is pending approval in HX)", err)
	}
	return connector.Result{Detail: fmt.Sprintf("containment requested and approved for host %s (was %s)", hostLabel(t), was)}, nil
}

// Release lifts containment of the host t.HostID (DELETE …/containment); it
// also cancels a request still waiting for approval.
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	prefix := "trellixhx: release " + hostLabel(t)
	p, err := containmentPath(t)
	if err != nil {
		return connector.Result{}, fmt.Errorf("%s: %w", prefix, err)
	}
	state, err := r.State(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	if state == StateNormal || state == StateUncontaining {
		return connector.Result{Already: true, Detail: fmt.Sprintf("host %s is already %s", hostLabel(t), state)}, nil
	}
	_, err = r.api.call(ctx, http.MethodDelete, p, nil, nil, key)
	if errors.Is(err, ErrConflict) {
		// Released by someone else between our read and our call.
		return connector.Result{Already: true, Detail: fmt.Sprintf("host %s was released by another call", hostLabel(t))}, nil
	}
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	return connector.Result{Detail: fmt.Sprintf("containment lifted for host %s (was %s)", hostLabel(t), state)}, nil
}

// State reads a host's containment state (normal, contain_requested,
// containing, contained, uncontaining), lower-cased.
func (r *Responder) State(ctx context.Context, agentID string) (string, error) {
	p, err := containmentPath(connector.Target{HostID: agentID})
	if err != nil {
		return "", err
	}
	b, err := r.api.call(ctx, http.MethodGet, p, nil, nil, "")
	if err != nil {
		return "", err
	}
	var res struct {
		Data struct {
			State string `json:"state"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.Data.State == "" {
		return "", fmt.Errorf("containment answer has no data.state (%.80q)", b)
	}
	return strings.ToLower(res.Data.State), nil
}

// containmentPath is /hx/api/v3/hosts/{agent_id}/containment.
func containmentPath(t connector.Target) (string, error) {
	id := strings.TrimSpace(t.HostID)
	switch {
	case id == "":
		return "", errors.New("no agent id: HX contains hosts by their agent _id")
	case strings.ContainsAny(id, "/?#%") || id == "." || id == "..":
		return "", fmt.Errorf("agent id %q is not an HX agent _id", id)
	}
	return pathHosts + id + "/containment", nil
}

func hostLabel(t connector.Target) string {
	switch {
	case t.HostName != "" && t.HostID != "":
		return t.HostName + " (" + t.HostID + ")"
	case t.HostName != "":
		return t.HostName
	}
	return t.HostID
}
