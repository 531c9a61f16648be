package crowdstrike

import (
	"context"
	"fmt"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/crowdstrike/gofalcon/falcon/client/hosts"
	"github.com/crowdstrike/gofalcon/falcon/models"
	"github.com/go-openapi/strfmt"
)

// IdempotencyHeader carries bannin's idempotency key on containment calls.
// CrowdStrike ignores it; the simulator counts calls by it.
const IdempotencyHeader = "X-Bannin-Idempotency-Key"

// Responder contains and releases hosts through the Hosts API. It reads the
// device's status first and skips the call when the host is already in (or
// on its way to) the asked state, so repeating an action is a no-op.
type Responder struct {
	hosts hosts.ClientService
}

var _ connector.Responder = (*Responder)(nil)

// NewResponder returns a Responder for the API at cfg.URL.
func NewResponder(cfg connector.Config) (*Responder, error) {
	rt, err := newRuntime(cfg)
	if err != nil {
		return nil, err
	}
	return &Responder{hosts: hosts.New(rt, strfmt.Default)}, nil
}

// containment describes one direction of the action.
type containment struct {
	verb, action, done, pending string
}

var (
	contain = containment{verb: "isolate", action: "contain", done: StatusContained, pending: "containment_pending"}
	lift    = containment{verb: "release", action: "lift_containment", done: StatusNormal, pending: "lift_containment_pending"}
)

// Isolate network-contains the host t.HostID (its AID).
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, contain)
}

// Release lifts the containment of the host t.HostID (its AID).
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, lift)
}

func (r *Responder) act(ctx context.Context, t connector.Target, key string, c containment) (connector.Result, error) {
	prefix := fmt.Sprintf("crowdstrike: %s %s", c.verb, hostLabel(t))
	if t.HostID == "" {
		return connector.Result{}, fmt.Errorf("%s: no AID: the Hosts API contains hosts by their CrowdStrike AID", prefix)
	}
	status, err := r.status(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, classify(prefix, err)
	}
	if status == c.done || status == c.pending {
		return connector.Result{Already: true, Detail: fmt.Sprintf("host %s is already %s", hostLabel(t), status)}, nil
	}
	p := hosts.NewPerformActionV2ParamsWithContext(ctx).WithActionName(c.action).
		WithBody(&models.MsaEntityActionRequestV2{Ids: []string{t.HostID}})
	res, err := r.hosts.PerformActionV2(p, withHeader(IdempotencyHeader, key))
	if err != nil {
		return connector.Result{}, classify(prefix, err)
	}
	if msg := firstError(res.Payload.Errors); msg != "" {
		return connector.Result{}, fmt.Errorf("%s: %s", prefix, msg)
	}
	return connector.Result{Detail: fmt.Sprintf("%s accepted for host %s (was %s)", c.action, hostLabel(t), status)}, nil
}

// status reads the device's status: normal, containment_pending, contained
// or lift_containment_pending.
func (r *Responder) status(ctx context.Context, aid string) (string, error) {
	p := hosts.NewGetDeviceDetailsV2ParamsWithContext(ctx).WithIds([]string{aid})
	res, err := r.hosts.GetDeviceDetailsV2(p)
	if err != nil {
		return "", err
	}
	for _, d := range res.Payload.Resources {
		if d != nil && d.DeviceID != nil && strings.EqualFold(*d.DeviceID, aid) {
			return d.Status, nil
		}
	}
	return "", &apiError{status: 404, kind: ErrNotFound, msg: fmt.Sprintf("no device with AID %s", aid)}
}

func firstError(errs []*models.MsaAPIError) string {
	for _, e := range errs {
		if e != nil && e.Message != nil {
			return *e.Message
		}
	}
	return ""
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
