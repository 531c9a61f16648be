package sentinelone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/httpapi"
)

// Network states an agent reports in networkStatus.
const (
	NetConnected     = "connected"
	NetDisconnected  = "disconnected"
	NetConnecting    = "connecting"
	NetDisconnecting = "disconnecting"
)

// Responder disconnects endpoints from the network and reconnects them
// through the agents actions API. It reads the agent's networkStatus first
// and skips the call when the agent is already in (or on its way to) the
// asked state, so repeating an action is a no-op. It is also a
// connector.Actor (see Do): threat mitigations and the hash blocklist.
type Responder struct {
	api *api
}

var _ connector.Responder = (*Responder)(nil)

// NewResponder returns a Responder for the console at cfg.URL;
// cfg.ClientSecret is the API token.
func NewResponder(cfg connector.Config) (*Responder, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Responder{api: a}, nil
}

// containment describes one direction of the action.
type containment struct {
	verb, action, path, done, pending string
}

var (
	disconnect = containment{verb: "isolate", action: "disconnect", path: pathDisconnect, done: NetDisconnected, pending: NetDisconnecting}
	connect    = containment{verb: "release", action: "connect", path: pathConnect, done: NetConnected, pending: NetConnecting}
)

// Isolate disconnects the agent t.HostID from the network.
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, disconnect)
}

// Release reconnects the agent t.HostID to the network.
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, connect)
}

// actionBody is the agents actions body: a filter selecting one agent.
type actionBody struct {
	Filter struct {
		IDs []string `json:"ids"`
	} `json:"filter"`
	Data struct{} `json:"data"`
}

func (r *Responder) act(ctx context.Context, t connector.Target, key string, c containment) (connector.Result, error) {
	prefix := fmt.Sprintf("sentinelone: %s %s", c.verb, hostLabel(t))
	if t.HostID == "" {
		return connector.Result{}, fmt.Errorf("%s: no agent id: the agents API acts on SentinelOne agent ids", prefix)
	}
	status, err := r.networkStatus(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	if status == c.done || status == c.pending {
		return connector.Result{Already: true, Detail: fmt.Sprintf("agent %s is already %s", hostLabel(t), status)}, nil
	}
	var body actionBody
	body.Filter.IDs = []string{t.HostID}
	b, err := r.api.call(ctx, http.MethodPost, c.path, nil, body, key)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	var res struct {
		Data struct {
			Affected int `json:"affected"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return connector.Result{}, fmt.Errorf("%s: answer is not {\"data\":{\"affected\":N}}: %v", prefix, err)
	}
	if res.Data.Affected == 0 {
		return connector.Result{}, fmt.Errorf("%s: %w: the console affected no agent (decommissioned or filtered out)", prefix, ErrNotFound)
	}
	return connector.Result{Detail: fmt.Sprintf("%s accepted for agent %s (was %s)", c.action, hostLabel(t), status)}, nil
}

// networkStatus reads the agent's networkStatus: connected, connecting,
// disconnected or disconnecting.
func (r *Responder) networkStatus(ctx context.Context, agentID string) (string, error) {
	b, err := r.api.call(ctx, http.MethodGet, pathAgents, url.Values{"ids": {agentID}}, nil, "")
	if err != nil {
		return "", err
	}
	var res struct {
		Data []struct {
			ID            string `json:"id"`
			NetworkStatus string `json:"networkStatus"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("agents answer is not a list: %w", err)
	}
	for _, d := range res.Data {
		if d.ID == agentID {
			return strings.ToLower(d.NetworkStatus), nil
		}
	}
	return "", &httpapi.Error{Status: http.StatusNotFound, Kind: ErrNotFound, Text: fmt.Sprintf("no agent with id %s", agentID)}
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
