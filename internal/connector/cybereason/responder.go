package cybereason

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Isolation answers: the commands API answers {"<pylumId>":"<status>"} per
// sensor; "Succeeded" is the documented success.
const (
	CommandSucceeded = "Succeeded"
	CommandFailed    = "Failed"
)

// Sensor statuses the sensors list reports.
const (
	SensorOnline  = "Online"
	SensorOffline = "Offline"
)

// Responder isolates machines from the network and releases them through
// POST /rest/monitor/global/commands/isolate and …/un-isolate. Those take
// the sensor's pylumId, which the MalOp does not carry: the responder
// first finds the sensor through POST /rest/sensors/query, and reads its
// isolated flag there, so that repeating an action is a no-op.
type Responder struct {
	api *api
}

var _ connector.Responder = (*Responder)(nil)

// NewResponder returns a Responder for the console at cfg.URL; cfg.ClientID
// and cfg.ClientSecret are the API user's name and password.
func NewResponder(cfg connector.Config) (*Responder, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &Responder{api: a}, nil
}

// Isolate isolates the machine t names: t.HostID is the machine guid from
// the MalOp (or its name), t.HostName its name.
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, true)
}

// Release ends the machine's isolation.
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.act(ctx, t, key, false)
}

// commandBody is the isolate and un-isolate body. malopId is optional and
// not known to a Target.
type commandBody struct {
	PylumIDs []string `json:"pylumIds"`
	MalopID  string   `json:"malopId,omitempty"`
}

func (r *Responder) act(ctx context.Context, t connector.Target, key string, isolate bool) (connector.Result, error) {
	verb, path, state := "release", pathUnisolate, "not isolated"
	if isolate {
		verb, path, state = "isolate", pathIsolate, "isolated"
	}
	prefix := fmt.Sprintf("cybereason: %s %s", verb, hostLabel(t))
	if t.HostID == "" && t.HostName == "" {
		return connector.Result{}, fmt.Errorf("%s: no machine guid or name to find the sensor by", prefix)
	}
	s, err := r.findSensor(ctx, t)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	if s.Isolated == isolate {
		return connector.Result{Already: true, Detail: fmt.Sprintf("sensor %s is already %s", s.PylumID, state)}, nil
	}
	b, err := r.api.call(ctx, path, commandBody{PylumIDs: []string{s.PylumID}}, key)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	var ans map[string]json.RawMessage
	if err := json.Unmarshal(b, &ans); err != nil {
		return connector.Result{}, fmt.Errorf("%s: the answer is not {\"<pylumId>\":\"<status>\"}: %v", prefix, err)
	}
	var status string
	_ = json.Unmarshal(ans[s.PylumID], &status)
	if status == CommandSucceeded {
		return connector.Result{Detail: fmt.Sprintf("%s accepted for sensor %s", verb, s.PylumID)}, nil
	}
	if status == "" {
		status = "no status for this sensor"
	}
	err = fmt.Errorf("%s: the console answered %q for sensor %s", prefix, status, s.PylumID)
	if !strings.EqualFold(s.Status, SensorOnline) {
		// The sensor is not connected: the command can work once it is.
		return connector.Result{}, &connector.RetryableError{Err: fmt.Errorf("%w (sensor status %s)", err, s.Status)}
	}
	return connector.Result{}, err
}

// sensor is one item of the sensors list.
type sensor struct {
	PylumID     string `json:"pylumId"`
	GUID        string `json:"guid"`
	MachineName string `json:"machineName"`
	Isolated    bool   `json:"isolated"`
	Status      string `json:"status"`
}

// sensorFilter is one filter of a sensors query.
type sensorFilter struct {
	FieldName string   `json:"fieldName"`
	Operator  string   `json:"operator"`
	Values    []string `json:"values"`
}

type sensorQuery struct {
	Limit   int            `json:"limit"`
	Offset  int            `json:"offset"`
	Filters []sensorFilter `json:"filters"`
}

// findSensor finds the machine's sensor: by machine name when the target
// has one (preferring the sensor whose guid is t.HostID), else by guid,
// else taking t.HostID as a machine name.
func (r *Responder) findSensor(ctx context.Context, t connector.Target) (sensor, error) {
	type try struct{ field, value string }
	var tries []try
	if t.HostName != "" {
		tries = append(tries, try{"machineName", t.HostName})
	}
	if t.HostID != "" {
		tries = append(tries, try{"guid", t.HostID}, try{"machineName", t.HostID})
	}
	for _, tr := range tries {
		got, err := r.querySensors(ctx, tr.field, tr.value)
		if err != nil {
			return sensor{}, err
		}
		if s, ok, err := pick(got, t.HostID); ok || err != nil {
			return s, err
		}
	}
	return sensor{}, &apiError{status: http.StatusNotFound, kind: ErrNotFound,
		msg: fmt.Sprintf("no sensor for machine %s", hostLabel(t))}
}

// pick chooses among sensors that matched: the one with guid id, else the
// only one. Several without a guid match are ambiguous.
func pick(got []sensor, id string) (sensor, bool, error) {
	var live []sensor
	for _, s := range got {
		if s.PylumID == "" {
			continue
		}
		if id != "" && s.GUID == id {
			return s, true, nil
		}
		live = append(live, s)
	}
	switch len(live) {
	case 0:
		return sensor{}, false, nil
	case 1:
		return live[0], true, nil
	}
	ids := make([]string, len(live))
	for i, s := range live {
		ids[i] = s.PylumID
	}
	return sensor{}, false, fmt.Errorf("%d sensors match (%s): give the machine guid to choose", len(live), strings.Join(ids, ", "))
}

func (r *Responder) querySensors(ctx context.Context, field, value string) ([]sensor, error) {
	q := sensorQuery{Limit: 10, Filters: []sensorFilter{{FieldName: field, Operator: "Equals", Values: []string{value}}}}
	b, err := r.api.call(ctx, pathSensors, q, "")
	if err != nil {
		return nil, err
	}
	var ans struct {
		Sensors []sensor `json:"sensors"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return nil, fmt.Errorf("the sensors answer is not {\"sensors\":[…]}: %w", err)
	}
	return ans.Sensors, nil
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
