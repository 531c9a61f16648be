package withsecure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Device operations bannin sends.
const (
	OpIsolate = "isolateFromNetwork"
	OpRelease = "releaseFromNetworkIsolation"
)

// Isolation states of a device (its isolationStatus field).
const (
	IsolationIsolated    = "isolated"
	IsolationNotIsolated = "notIsolated"
)

// KeyMarker starts the idempotency key inside parameters.message of an
// isolation: the Elements API takes no idempotency header, and the message
// is kept with the operation, so the key can be traced in the portal.
const KeyMarker = "bannin-key: "

// Responder isolates devices from the network and releases them through
// POST /devices/v1/operations. It reads the device's isolationStatus first
// (GET /devices/v1/devices?deviceId=…) and skips the call when the device
// is already in the asked state, so repeating an action is a no-op.
// Responder does not implement connector.Actor: the other device
// operations the API offers (scanForMalware, showMessage, assignProfile,
// turnOnFeature, checkMissingUpdates) match none of its action kinds.
type Responder struct {
	api *api
}

var _ connector.Responder = (*Responder)(nil)

// NewResponder returns a Responder for the API at cfg.URL with the API
// client cfg.ClientID and cfg.ClientSecret; it asks for the read and write
// scopes.
func NewResponder(cfg connector.Config) (*Responder, error) {
	a, err := newAPI(cfg, ScopeRead, ScopeWrite)
	if err != nil {
		return nil, err
	}
	return &Responder{api: a}, nil
}

// containment is one direction of the action.
type containment struct {
	verb, op, done string
}

var (
	isolate = containment{verb: "isolate", op: OpIsolate, done: IsolationIsolated}
	release = containment{verb: "release", op: OpRelease, done: IsolationNotIsolated}
)

// Isolate isolates the device t.HostID from the network.
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, isolate)
}

// Release ends the network isolation of the device t.HostID.
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, release)
}

// operationBody is the device operations body.
type operationBody struct {
	Operation  string            `json:"operation"`
	Targets    []string          `json:"targets"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// multistatus is the 207 answer: one entry per target.
type multistatus struct {
	Multistatus []struct {
		Target      string `json:"target"`
		Status      int    `json:"status"`
		OperationID string `json:"operationId"`
		Details     string `json:"details"`
	} `json:"multistatus"`
}

func (r *Responder) act(ctx context.Context, t connector.Target, key string, c containment) (connector.Result, error) {
	prefix := fmt.Sprintf("withsecure: %s %s", c.verb, hostLabel(t))
	if t.HostID == "" {
		return connector.Result{}, fmt.Errorf("%s: no device id: device operations act on WithSecure device ids (device.id)", prefix)
	}
	status, err := r.isolationStatus(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	if status == c.done {
		return connector.Result{Already: true, Detail: fmt.Sprintf("device %s is already %s", hostLabel(t), status)}, nil
	}
	body := operationBody{Operation: c.op, Targets: []string{t.HostID}}
	if c.op == OpIsolate {
		// The message is shown to the device's user.
		msg := "Your security team has isolated this device from the network."
		if key != "" {
			msg += " (" + KeyMarker + key + ")"
		}
		body.Parameters = map[string]string{"message": msg}
	}
	_, b, err := r.api.call(ctx, request{method: http.MethodPost, path: pathOperations, json: body})
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	return entryResult(prefix, t, b, c)
}

// entryResult reads the multistatus entry for the device: 202 is success;
// any other status is a failure for this device, whatever the HTTP status
// of the whole answer (207).
func entryResult(prefix string, t connector.Target, b []byte, c containment) (connector.Result, error) {
	var ms multistatus
	if err := json.Unmarshal(b, &ms); err != nil {
		return connector.Result{}, fmt.Errorf("%s: answer is not a multistatus: %v", prefix, err)
	}
	for _, e := range ms.Multistatus {
		if e.Target != t.HostID {
			continue
		}
		detail := e.Details
		if detail == "" {
			detail = http.StatusText(e.Status)
		}
		switch {
		case e.Status >= 200 && e.Status < 300:
			return connector.Result{Detail: fmt.Sprintf("%s accepted for device %s (operation %s)", c.op, hostLabel(t), e.OperationID)}, nil
		case e.Status == http.StatusNotFound:
			return connector.Result{}, fmt.Errorf("%s: %w: the organization has no device %s (%s)", prefix, ErrNotFound, t.HostID, detail)
		case connector.RetryableStatus(e.Status):
			return connector.Result{}, &connector.RetryableError{Err: fmt.Errorf("%s: device entry status %d: %s", prefix, e.Status, detail)}
		}
		return connector.Result{}, &apiError{status: e.Status,
			msg: fmt.Sprintf("%s: refused for this device: status %d: %s", prefix, e.Status, detail)}
	}
	return connector.Result{}, fmt.Errorf("%s: the multistatus answer has no entry for device %s", prefix, t.HostID)
}

// isolationStatus reads the device's isolationStatus; a device the list
// does not return is ErrNotFound.
func (r *Responder) isolationStatus(ctx context.Context, deviceID string) (string, error) {
	_, b, err := r.api.call(ctx, request{method: http.MethodGet, path: pathDevices, query: url.Values{"deviceId": {deviceID}}})
	if err != nil {
		return "", err
	}
	var res struct {
		Items []struct {
			ID              string `json:"id"`
			IsolationStatus string `json:"isolationStatus"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("devices answer is not {\"items\":[…]}: %w", err)
	}
	for _, d := range res.Items {
		if d.ID == deviceID {
			if d.IsolationStatus == "" {
				return IsolationNotIsolated, nil
			}
			return d.IsolationStatus, nil
		}
	}
	return "", &apiError{status: http.StatusNotFound, kind: ErrNotFound, msg: fmt.Sprintf("no device with id %s", deviceID)}
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

// keyFrom reads the idempotency key out of an isolation message.
func keyFrom(msg string) string {
	i := strings.Index(msg, KeyMarker)
	if i < 0 {
		return ""
	}
	k := msg[i+len(KeyMarker):]
	return strings.TrimSuffix(k, ")")
}
