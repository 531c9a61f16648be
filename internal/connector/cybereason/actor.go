package cybereason

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector"
)

// Remediation action types of POST /rest/remediate.
const (
	ActionKillProcess    = "KILL_PROCESS"
	ActionQuarantineFile = "QUARANTINE_FILE"
)

var _ connector.Actor = (*Responder)(nil)

// Actions implements connector.Actor: killing a MalOp's process and
// quarantining its file on one machine.
func (r *Responder) Actions() []string {
	return []string{connector.ActKillProcess, connector.ActQuarantineFile}
}

// remediation is what one Act becomes: the action type and the MalOp
// element type it targets.
type remediation struct{ action, element string }

var remediations = map[string]remediation{
	connector.ActKillProcess:    {ActionKillProcess, "Process"},
	connector.ActQuarantineFile: {ActionQuarantineFile, "File"},
}

// Do implements connector.Actor. Cybereason remediates MalOp elements by
// their element guid, which neither the inbox nor an Act carries, so Do
// reads the MalOp's details (POST /rest/crimes/unified) and targets its
// root-cause and suspect elements of the right type on the machine t names,
// narrowed to the one named like a.Path when it is given. a.ThreatID is
// the MalOp guid (an alert's VendorID "<guid>/<machine>" also works). The
// idempotency key goes in IdempotencyHeader; Cybereason has no way to tell
// that a remediation was already done, so Already is never set.
func (r *Responder) Do(ctx context.Context, t connector.Target, a connector.Act, key string) (connector.Result, error) {
	rem, ok := remediations[a.Kind]
	if !ok {
		return connector.Result{}, fmt.Errorf("cybereason: %q: %w", a.Kind, connector.ErrUnsupported)
	}
	prefix := fmt.Sprintf("cybereason: %s on %s", a.Kind, hostLabel(t))
	malopID, _, _ := strings.Cut(strings.TrimSpace(a.ThreatID), "/")
	if malopID == "" {
		return connector.Result{}, fmt.Errorf("%s: no MalOp guid (Act.ThreatID): Cybereason remediates the elements of a MalOp", prefix)
	}
	s, err := r.findSensor(ctx, t)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	targets, err := r.malopElements(ctx, malopID, rem.element, a.Path)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	body := remediateBody{MalopID: malopID, InitiatorUserName: r.api.user, ActionsByMachine: map[string][]remediateAction{}}
	for _, g := range targets {
		body.ActionsByMachine[s.PylumID] = append(body.ActionsByMachine[s.PylumID], remediateAction{TargetID: g, ActionType: rem.action})
	}
	b, err := r.api.call(ctx, pathRemediate, body, key)
	if err != nil {
		return connector.Result{}, connector.Rewrap(prefix, err)
	}
	return remediationResult(prefix, b)
}

type remediateAction struct {
	TargetID   string `json:"targetId"`
	ActionType string `json:"actionType"`
}

type remediateBody struct {
	MalopID           string                       `json:"malopId"`
	InitiatorUserName string                       `json:"initiatorUserName"`
	ActionsByMachine  map[string][]remediateAction `json:"actionsByMachine"`
}

// remediateAnswer is the answer of POST /rest/remediate.
type remediateAnswer struct {
	RemediationID string `json:"remediationId"`
	StatusLog     []struct {
		MachineID string `json:"machineId"`
		TargetID  string `json:"targetId"`
		Status    string `json:"status"`
		Error     *struct {
			Message string `json:"message"`
		} `json:"error"`
	} `json:"statusLog"`
}

// remediationResult reads the answer: any status with FAIL in it, for any
// target, fails the action (naming the target and the console's message).
func remediationResult(prefix string, b []byte) (connector.Result, error) {
	var ans remediateAnswer
	if err := json.Unmarshal(b, &ans); err != nil || ans.RemediationID == "" {
		return connector.Result{}, fmt.Errorf("%s: the answer is not a remediation (remediationId, statusLog): %.200s", prefix, b)
	}
	var failed []string
	for _, l := range ans.StatusLog {
		if strings.Contains(strings.ToUpper(l.Status), "FAIL") {
			msg := l.Status
			if l.Error != nil && l.Error.Message != "" {
				msg += ": " + l.Error.Message
			}
			failed = append(failed, fmt.Sprintf("%s (%s)", l.TargetID, msg))
		}
	}
	if len(failed) > 0 {
		return connector.Result{}, fmt.Errorf("%s: remediation %s failed for %s", prefix, ans.RemediationID, strings.Join(failed, ", "))
	}
	return connector.Result{Detail: fmt.Sprintf("remediation %s accepted", ans.RemediationID)}, nil
}

// element is one element of a MalOp's details.
type element struct {
	ElementType string `json:"elementType"`
	GUID        string `json:"guid"`
	Name        string `json:"name"`
}

// malopElements returns the guids of the MalOp's root-cause, suspect and
// files-to-remediate elements of type kind, only those named like
// path's base name when path is set.
func (r *Responder) malopElements(ctx context.Context, malopID, kind, p string) ([]string, error) {
	q := map[string]any{
		"queryPath":        []map[string]any{{"requestedType": "MalopProcess", "guidList": []string{malopID}, "result": true, "filters": nil}},
		"totalResultLimit": 1000, "perGroupLimit": 1200, "perFeatureLimit": 1200,
		"templateContext": "MALOP", "queryTimeout": nil,
	}
	b, err := r.api.call(ctx, pathCrimes, q, "")
	if err != nil {
		return nil, err
	}
	var ans struct {
		Data struct {
			ResultIDToElementDataMap map[string]struct {
				ElementValues map[string]struct {
					ElementValues []element `json:"elementValues"`
				} `json:"elementValues"`
			} `json:"resultIdToElementDataMap"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return nil, fmt.Errorf("the MalOp details answer is not {\"data\":{\"resultIdToElementDataMap\":…}}: %w", err)
	}
	m, ok := ans.Data.ResultIDToElementDataMap[malopID]
	if !ok {
		return nil, &apiError{status: 404, kind: ErrNotFound, msg: fmt.Sprintf("no MalOp %s", malopID)}
	}
	want := strings.ToLower(path.Base(strings.ReplaceAll(p, `\`, "/")))
	var out []string
	seen := map[string]bool{}
	for _, feature := range []string{"primaryRootCauseElements", "suspects", "filesToRemediate"} {
		for _, e := range m.ElementValues[feature].ElementValues {
			if !strings.EqualFold(e.ElementType, kind) || e.GUID == "" || seen[e.GUID] {
				continue
			}
			if p != "" && strings.ToLower(e.Name) != want {
				continue
			}
			seen[e.GUID] = true
			out = append(out, e.GUID)
		}
	}
	if len(out) == 0 {
		named := ""
		if p != "" {
			named = " named " + want
		}
		return nil, &apiError{status: 404, kind: ErrNotFound, msg: fmt.Sprintf("MalOp %s has no %s element%s to remediate", malopID, kind, named)}
	}
	return out, nil
}
