package cybereason

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// elementsOf derives a MalOp's elements (as /rest/crimes/unified
// reports them) from its inbox model: the root cause as a Process element
// and its image as a File element, with stable element guids.
func elementsOf(f jsonfield.Object) []element {
	guid, name := f.Str("guid"), f.First("primaryRootCauseName", "displayName")
	if name == "" {
		return nil
	}
	return []element{
		{ElementType: "Process", GUID: elementGUID(guid, "Process", name), Name: name},
		{ElementType: "File", GUID: elementGUID(guid, "File", name), Name: name},
	}
}

// elementGUID is shaped like Cybereason's element guids ("-1514448867.-2413877092345678").
func elementGUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%d.%d", int32(binary.BigEndian.Uint32(h[:4])), int64(binary.BigEndian.Uint64(h[4:12])))
}

// Elements returns the element guids of a MalOp's details of one type
// (Process, File), as a remediation targets them.
func (s *Sim) Elements(malopID, elementType string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.details[malopID] {
		if e.ElementType == elementType {
			out = append(out, e.GUID)
		}
	}
	return out
}

// Remediations returns every remediation call in arrival order; Key is the
// idempotency key, else "remediate:"+pylumIds.
func (s *Sim) Remediations() []simkit.Entry { return s.remediations.Entries() }

// handleCrimes answers a MalopProcess details query for the guids asked.
func (s *Sim) handleCrimes(w http.ResponseWriter, r *http.Request) {
	var q struct {
		QueryPath []struct {
			RequestedType string   `json:"requestedType"`
			GUIDList      []string `json:"guidList"`
		} `json:"queryPath"`
	}
	if err := simkit.ReadJSON(w, r, &q); err != nil || len(q.QueryPath) == 0 {
		fail(w, http.StatusBadRequest, "queryPath is required")
		return
	}
	out := map[string]any{}
	s.mu.Lock()
	for _, g := range q.QueryPath[0].GUIDList {
		els, ok := s.details[g]
		if !ok {
			continue
		}
		byFeature := map[string][]element{}
		for _, e := range els {
			feature := "primaryRootCauseElements"
			if e.ElementType == "File" {
				feature = "filesToRemediate"
			}
			byFeature[feature] = append(byFeature[feature], e)
		}
		values := map[string]any{}
		for f, es := range byFeature {
			values[f] = map[string]any{"totalValues": len(es), "elementValues": es}
		}
		out[g] = map[string]any{"simpleValues": map[string]any{}, "elementValues": values}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"resultIdToElementDataMap": out}, "status": "SUCCESS"})
}

// handleRemediate runs the remediation actions on the sensors named: an
// action succeeds on an online sensor whose MalOp has the target element of
// the action's type, and fails otherwise.
func (s *Sim) handleRemediate(w http.ResponseWriter, r *http.Request) {
	var body remediateBody
	if err := simkit.ReadJSON(w, r, &body); err != nil || body.MalopID == "" || len(body.ActionsByMachine) == 0 {
		fail(w, http.StatusBadRequest, "malopId and actionsByMachine are required")
		return
	}
	type logLine struct {
		MachineID  string         `json:"machineId"`
		TargetID   string         `json:"targetId"`
		ActionType string         `json:"actionType"`
		Status     string         `json:"status"`
		Error      map[string]any `json:"error"`
	}
	var log []logLine
	var pylums []string
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("sim-remediation-%06d", s.seq)
	for pylum, actions := range body.ActionsByMachine {
		pylums = append(pylums, pylum)
		se := s.sensorLocked(pylum)
		for _, a := range actions {
			l := logLine{MachineID: pylum, TargetID: a.TargetID, ActionType: a.ActionType, Status: "SUCCESS"}
			if msg := s.remediationFault(se, body.MalopID, a); msg != "" {
				l.Status, l.Error = "FAILURE", map[string]any{"message": msg}
			}
			log = append(log, l)
		}
	}
	s.mu.Unlock()
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		key = "remediate:" + strings.Join(pylums, ",")
	}
	s.remediations.Record(simkit.Entry{At: s.now(), HostID: strings.Join(pylums, ","), Action: "remediate", Key: key, Status: http.StatusOK})
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"malopId": body.MalopID, "remediationId": id, "start": s.now().UnixMilli(),
		"initiatingUser": body.InitiatorUserName, "statusLog": log,
	})
}

// remediationFault says why an action cannot run, or "".
func (s *Sim) remediationFault(se *simSensor, malopID string, a remediateAction) string {
	want := map[string]string{ActionKillProcess: "Process", ActionQuarantineFile: "File"}[a.ActionType]
	switch {
	case want == "":
		return "unknown actionType " + a.ActionType
	case se == nil:
		return "unknown machine"
	case !se.online:
		return "the sensor is not connected"
	}
	for _, e := range s.details[malopID] {
		if e.GUID == a.TargetID && e.ElementType == want {
			return ""
		}
	}
	return fmt.Sprintf("no %s element %s in MalOp %s", want, a.TargetID, malopID)
}
