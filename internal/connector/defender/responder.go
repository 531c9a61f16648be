package defender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Machine action types and statuses, as the MachineAction entity spells
// them.
const (
	ActionIsolate        = "Isolate"
	ActionUnisolate      = "Unisolate"
	ActionStopQuarantine = "StopAndQuarantineFile"

	StatusPending    = "Pending"
	StatusInProgress = "InProgress"
	StatusSucceeded  = "Succeeded"
	StatusFailed     = "Failed"
	StatusCancelled  = "Cancelled"
)

// Isolation types the isolate call takes.
const (
	IsolationFull      = "Full"
	IsolationSelective = "Selective" // keeps Outlook, Teams and Skype working
)

// KeyMarker starts the idempotency key in an action's Comment. MDE takes no
// idempotency header; the comment is kept with the action (requestorComment)
// and the simulator counts calls by it.
const KeyMarker = "bannin-key="

// codeActiveRequest is MDE's error code for an action asked while the same
// action for the machine is pending.
const codeActiveRequest = "ActiveRequestAlreadyExists"

// Responder isolates and releases machines, and offers quarantine_file
// and blocklist_hash. Before each action it reads the machine's actions
// (GET /api/machineactions) and skips the call when the last one already
// asked for the same state, so repeating an action is a no-op.
type Responder struct {
	api       *api
	isolation string
}

var (
	_ connector.Responder = (*Responder)(nil)
	_ connector.Actor     = (*Responder)(nil)
)

// ResponderOption configures a Responder.
type ResponderOption func(*Responder)

// WithIsolationType sets IsolationFull (the default) or IsolationSelective.
func WithIsolationType(t string) ResponderOption { return func(r *Responder) { r.isolation = t } }

// NewResponder returns a Responder for the tenant cfg names.
func NewResponder(cfg connector.Config, opts ...ResponderOption) (*Responder, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	r := &Responder{api: a, isolation: IsolationFull}
	for _, o := range opts {
		o(r)
	}
	if r.isolation != IsolationFull && r.isolation != IsolationSelective {
		return nil, fmt.Errorf("defender: isolation type %q is neither Full nor Selective", r.isolation)
	}
	return r, nil
}

// MachineAction is the answer of an action call and an item of
// GET /api/machineactions.
type MachineAction struct {
	ID               string    `json:"id"`
	Type             string    `json:"type"`
	Status           string    `json:"status"`
	MachineID        string    `json:"machineId"`
	ComputerDNSName  string    `json:"computerDnsName,omitempty"`
	RequestorComment string    `json:"requestorComment,omitempty"`
	Created          time.Time `json:"creationDateTimeUtc"`
	RelatedFileInfo  *fileInfo `json:"relatedFileInfo,omitempty"`
}

// fileInfo names the file a StopAndQuarantineFile action is about.
type fileInfo struct {
	FileIdentifier     string `json:"fileIdentifier"`
	FileIdentifierType string `json:"fileIdentifierType"`
}

// live reports whether the action is asked for and not failed.
func (m MachineAction) live() bool {
	return m.Status == StatusPending || m.Status == StatusInProgress || m.Status == StatusSucceeded
}

// Isolate isolates machine t.HostID from the network.
func (r *Responder) Isolate(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.contain(ctx, t, key, ActionIsolate, "isolate", map[string]string{"IsolationType": r.isolation})
}

// Release ends the isolation of machine t.HostID.
func (r *Responder) Release(ctx context.Context, t connector.Target, key string) (connector.Result, error) {
	return r.contain(ctx, t, key, ActionUnisolate, "unisolate", map[string]string{})
}

func (r *Responder) contain(ctx context.Context, t connector.Target, key, want, verb string, body map[string]string) (connector.Result, error) {
	prefix := fmt.Sprintf("defender: %s %s", verb, hostLabel(t))
	if t.HostID == "" {
		return connector.Result{}, fmt.Errorf("%s: no machine id: MDE isolates by machineId", prefix)
	}
	actions, err := r.actions(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	last := lastOf(actions, ActionIsolate, ActionUnisolate)
	switch {
	case last != nil && last.Type == want:
		return connector.Result{Already: true, Detail: fmt.Sprintf("machine %s: %s action %s is already %s", hostLabel(t), want, last.ID, last.Status)}, nil
	case last == nil && want == ActionUnisolate:
		return connector.Result{Already: true, Detail: fmt.Sprintf("machine %s was never isolated", hostLabel(t))}, nil
	}
	body["Comment"] = comment(verb, key)
	ma, err := r.post(ctx, pathMachines+url.PathEscape(t.HostID)+"/"+verb, body)
	if hasCode(err, codeActiveRequest) {
		// Another caller's action for this machine is still on its way.
		return connector.Result{Already: true, Detail: fmt.Sprintf("machine %s: an %s action is already pending", hostLabel(t), want)}, nil
	}
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	return connector.Result{Detail: fmt.Sprintf("%s action %s for machine %s is %s", want, ma.ID, hostLabel(t), ma.Status)}, nil
}

// post sends an action and reads the MachineAction it answers; an action
// Failed on arrival is an error.
func (r *Responder) post(ctx context.Context, path string, body any) (MachineAction, error) {
	b, err := r.api.call(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return MachineAction{}, err
	}
	var ma MachineAction
	if err := json.Unmarshal(b, &ma); err != nil || ma.ID == "" {
		return MachineAction{}, fmt.Errorf("answer is not a MachineAction: %.200s", b)
	}
	if ma.Status == StatusFailed || ma.Status == StatusCancelled {
		return ma, fmt.Errorf("machine action %s is %s", ma.ID, ma.Status)
	}
	return ma, nil
}

// actions lists the machine's actions: GET /api/machineactions
// ?$filter=machineId eq '<id>'.
func (r *Responder) actions(ctx context.Context, machineID string) ([]MachineAction, error) {
	q := url.Values{"$filter": {"machineId eq '" + strings.ReplaceAll(machineID, "'", "''") + "'"}}
	b, err := r.api.call(ctx, http.MethodGet, pathMachineActions, q, nil)
	if err != nil {
		return nil, err
	}
	var page struct {
		Value []MachineAction `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, fmt.Errorf("machine actions answer is not an OData page: %w", err)
	}
	return page.Value, nil
}

// lastOf returns the newest live action of the given types, or nil.
func lastOf(actions []MachineAction, types ...string) *MachineAction {
	var last *MachineAction
	for i := range actions {
		a := &actions[i]
		if a.live() && slices.Contains(types, a.Type) && (last == nil || a.Created.After(last.Created)) {
			last = a
		}
	}
	return last
}

// comment is the Comment MDE keeps with an action: what bannin asked and
// the idempotency key.
func comment(verb, key string) string {
	c := "bannin: " + verb
	if key != "" {
		c += " " + KeyMarker + key
	}
	return c
}

// Actions implements connector.Actor.
func (r *Responder) Actions() []string {
	return []string{connector.ActQuarantineFile, connector.ActBlocklistHash}
}

// Do implements connector.Actor: quarantine_file stops and quarantines a
// file on machine t.HostID (POST /api/machines/{id}/StopAndQuarantineFile,
// which takes a SHA-1: a SHA-256 is resolved through GET /api/files/{hash});
// blocklist_hash submits a FileSha256 indicator with BlockAndRemediate
// (POST /api/indicators) for the whole tenant.
func (r *Responder) Do(ctx context.Context, t connector.Target, a connector.Act, key string) (connector.Result, error) {
	switch a.Kind {
	case connector.ActQuarantineFile:
		return r.quarantine(ctx, t, a, key)
	case connector.ActBlocklistHash:
		return r.blocklist(ctx, a, key)
	}
	return connector.Result{}, fmt.Errorf("defender: %q: %w", a.Kind, connector.ErrUnsupported)
}

func (r *Responder) quarantine(ctx context.Context, t connector.Target, a connector.Act, key string) (connector.Result, error) {
	prefix := fmt.Sprintf("defender: quarantine file on %s", hostLabel(t))
	if t.HostID == "" {
		return connector.Result{}, fmt.Errorf("%s: no machine id", prefix)
	}
	sha1, err := r.sha1(ctx, a.SHA256)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	actions, err := r.actions(ctx, t.HostID)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	for _, m := range actions {
		if m.Type == ActionStopQuarantine && m.live() && m.RelatedFileInfo != nil && strings.EqualFold(m.RelatedFileInfo.FileIdentifier, sha1) {
			return connector.Result{Already: true, Detail: fmt.Sprintf("file %s: action %s is already %s", sha1, m.ID, m.Status)}, nil
		}
	}
	body := map[string]string{"Comment": comment("quarantine "+a.Comment, key), "Sha1": sha1}
	ma, err := r.post(ctx, pathMachines+url.PathEscape(t.HostID)+"/StopAndQuarantineFile", body)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	return connector.Result{Detail: fmt.Sprintf("StopAndQuarantineFile %s (sha1 %s) is %s", ma.ID, sha1, ma.Status)}, nil
}

// sha1 returns the SHA-1 of a file named by its SHA-1 or SHA-256.
func (r *Responder) sha1(ctx context.Context, hash string) (string, error) {
	hash = strings.ToLower(strings.TrimSpace(hash))
	switch {
	case len(hash) == 40 && isHex(hash):
		return hash, nil
	case len(hash) != 64 || !isHex(hash):
		return "", errors.New("the action needs the file's SHA-256 (or SHA-1)")
	}
	b, err := r.api.call(ctx, http.MethodGet, pathFiles+hash, nil, nil)
	if err != nil {
		return "", err
	}
	var f struct {
		SHA1 string `json:"sha1"`
	}
	if err := json.Unmarshal(b, &f); err != nil || len(f.SHA1) != 40 {
		return "", fmt.Errorf("file %s: answer names no sha1", hash)
	}
	return strings.ToLower(f.SHA1), nil
}

// Indicator is an item of /api/indicators.
type Indicator struct {
	ID             json.Number `json:"id,omitempty"`
	IndicatorValue string      `json:"indicatorValue"`
	IndicatorType  string      `json:"indicatorType"`
	Action         string      `json:"action"`
	Title          string      `json:"title"`
	Description    string      `json:"description"`
	Severity       string      `json:"severity,omitempty"`
	GenerateAlert  bool        `json:"generateAlert"`
}

func (r *Responder) blocklist(ctx context.Context, a connector.Act, key string) (connector.Result, error) {
	sha := strings.ToLower(strings.TrimSpace(a.SHA256))
	prefix := "defender: block hash " + sha
	if len(sha) != 64 || !isHex(sha) {
		return connector.Result{}, fmt.Errorf("%s: the action needs a SHA-256", prefix)
	}
	q := url.Values{"$filter": {"indicatorValue eq '" + sha + "'"}}
	b, err := r.api.call(ctx, http.MethodGet, pathIndicators, q, nil)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	var page struct {
		Value []Indicator `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return connector.Result{}, fmt.Errorf("%s: indicators answer is not an OData page: %w", prefix, err)
	}
	for _, in := range page.Value {
		if strings.EqualFold(in.IndicatorValue, sha) && strings.Contains(strings.ToLower(in.Action), "block") {
			return connector.Result{Already: true, Detail: fmt.Sprintf("indicator %s already %s", in.ID, in.Action)}, nil
		}
	}
	in := Indicator{IndicatorValue: sha, IndicatorType: "FileSha256", Action: "BlockAndRemediate",
		Title: "bannin: blocked hash", Description: comment("blocklist "+a.Comment, key), Severity: "High", GenerateAlert: true}
	b, err = r.api.call(ctx, http.MethodPost, pathIndicators, nil, in)
	if err != nil {
		return connector.Result{}, wrap(prefix, err)
	}
	var got Indicator
	if err := json.Unmarshal(b, &got); err != nil {
		return connector.Result{}, fmt.Errorf("%s: answer is not an indicator: %w", prefix, err)
	}
	return connector.Result{Detail: fmt.Sprintf("indicator %s: %s %s", got.ID, got.Action, sha)}, nil
}

func isHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == ""
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
