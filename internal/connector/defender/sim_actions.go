package defender

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/connector/simkit"
)

// actionBody is the body of isolate, unisolate and StopAndQuarantineFile.
type actionBody struct {
	Comment       string `json:"Comment"`
	IsolationType string `json:"IsolationType"`
	Sha1          string `json:"Sha1"`
}

// machineAction implements POST /api/machines/{id}/isolate, unisolate and
// StopAndQuarantineFile: it answers 201 with a MachineAction. A Comment is
// required; an action of the same type still Pending for the machine is
// refused with 400 ActiveRequestAlreadyExists.
func (s *Sim) machineAction(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body actionBody
		if err := simkit.ReadJSON(w, r, &body); err != nil {
			fail(w, http.StatusBadRequest, "InvalidRequestBody", err.Error())
			return
		}
		if msg := body.check(typ); msg != "" {
			fail(w, http.StatusBadRequest, "InvalidRequestBody", msg)
			return
		}
		id := r.PathValue("id")
		key := keyOf(body.Comment)
		verb := strings.ToLower(typ)
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.machines[id]
		if m == nil {
			s.ledger.Record(simkit.Entry{At: s.now(), HostID: id, Action: verb, Key: key, Status: http.StatusNotFound})
			fail(w, http.StatusNotFound, "ResourceNotFound", "Machine "+id+" was not found")
			return
		}
		for _, a := range s.actions {
			if a.MachineID == id && a.Type == typ && (a.Status == StatusPending || a.Status == StatusInProgress) {
				s.ledger.Record(simkit.Entry{At: s.now(), HostID: id, Action: verb, Key: key, Status: http.StatusBadRequest})
				fail(w, http.StatusBadRequest, codeActiveRequest, "Action is already in progress")
				return
			}
		}
		s.seq++
		a := MachineAction{
			ID: fmt.Sprintf("%08x-5e1d-4c0a-9b1e-%012d", s.seq, s.seq), Type: typ, Status: StatusSucceeded,
			MachineID: id, ComputerDNSName: m.name, RequestorComment: body.Comment, Created: s.now().UTC(),
		}
		if typ == ActionStopQuarantine {
			a.RelatedFileInfo = &fileInfo{FileIdentifier: strings.ToLower(body.Sha1), FileIdentifierType: "Sha1"}
		}
		switch {
		case s.failActions > 0:
			s.failActions--
			a.Status = StatusFailed
		case s.pending:
			a.Status = StatusPending
		default:
			s.applyLocked(a)
		}
		s.actions = append(s.actions, a)
		s.ledger.Record(simkit.Entry{At: a.Created, HostID: id, Action: verb, Key: key, Status: http.StatusCreated})
		simkit.WriteJSON(w, http.StatusCreated, a)
	}
}

func (b actionBody) check(typ string) string {
	switch {
	case strings.TrimSpace(b.Comment) == "":
		return "Comment is required"
	case typ == ActionIsolate && b.IsolationType != "" && b.IsolationType != IsolationFull &&
		b.IsolationType != IsolationSelective && b.IsolationType != "UnManagedDevice":
		return "IsolationType must be Full, Selective or UnManagedDevice"
	case typ == ActionStopQuarantine && (len(b.Sha1) != 40 || !isHex(strings.ToLower(b.Sha1))):
		return "Sha1 must be a SHA-1"
	}
	return ""
}

// applyLocked carries out a succeeded action.
func (s *Sim) applyLocked(a MachineAction) {
	switch a.Type {
	case ActionIsolate:
		s.ledger.SetContained(a.MachineID, true)
	case ActionUnisolate:
		s.ledger.SetContained(a.MachineID, false)
	}
}

// keyOf reads the idempotency key from a Comment ("" when there is none;
// the ledger then counts by action and machine).
func keyOf(comment string) string {
	_, after, ok := strings.Cut(comment, KeyMarker)
	if !ok {
		return ""
	}
	if f := strings.Fields(after); len(f) > 0 {
		return f[0]
	}
	return ""
}

// getFile implements GET /api/files/{sha1 or sha256}.
func (s *Sim) getFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, ok := s.files[strings.ToLower(r.PathValue("hash"))]
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "ResourceNotFound", "File "+r.PathValue("hash")+" was not found")
		return
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"sha1": f.sha1, "sha256": f.sha256, "isPeFile": true})
}

// listIndicators implements GET /api/indicators with $filter
// "indicatorValue eq '…'".
func (s *Sim) listIndicators(w http.ResponseWriter, r *http.Request) {
	clauses, err := parseFilter(r.URL.Query().Get("$filter"))
	for _, c := range clauses {
		if c.field != "indicatorValue" || c.op != "eq" {
			err = fmt.Errorf("the simulator filters indicators on indicatorValue eq only")
		}
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	value := []Indicator{}
	for _, in := range s.indicators {
		if len(clauses) == 0 || strings.EqualFold(in.IndicatorValue, clauses[0].value) {
			value = append(value, in)
		}
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"value": value})
}

// postIndicator implements POST /api/indicators: submit, or update the
// indicator with the same value and type.
func (s *Sim) postIndicator(w http.ResponseWriter, r *http.Request) {
	var in Indicator
	if err := simkit.ReadJSON(w, r, &in); err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequestBody", err.Error())
		return
	}
	okTypes := map[string]bool{"FileSha1": true, "FileSha256": true, "FileMd5": true, "IpAddress": true, "DomainName": true, "Url": true, "CertificateThumbprint": true}
	if in.IndicatorValue == "" || !okTypes[in.IndicatorType] || in.Action == "" || in.Title == "" || in.Description == "" {
		fail(w, http.StatusBadRequest, "InvalidRequestBody", "indicatorValue, indicatorType, action, title and description are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ledger.Record(simkit.Entry{At: s.now(), HostID: in.IndicatorValue, Action: "indicator", Key: keyOf(in.Description), Status: http.StatusOK})
	for i, old := range s.indicators {
		if strings.EqualFold(old.IndicatorValue, in.IndicatorValue) && old.IndicatorType == in.IndicatorType {
			in.ID = old.ID
			s.indicators[i] = in
			simkit.WriteJSON(w, http.StatusOK, in)
			return
		}
	}
	in.ID = json.Number(fmt.Sprint(len(s.indicators) + 1))
	s.indicators = append(s.indicators, in)
	simkit.WriteJSON(w, http.StatusOK, in)
}

// NewAlert returns an MDE alert payload (an item of /api/alerts with
// evidence) for machine machineID named host; options set the rest. Fields
// left out are assigned by Inject.
func NewAlert(host, machineID string, opts ...AlertOption) []byte {
	m := map[string]any{
		"machineId": machineID, "computerDnsName": host, "severity": "High", "status": "New",
		"category": "Execution", "detectionSource": "WindowsDefenderAtp", "title": "Suspicious PowerShell command line",
		"description": "A suspicious PowerShell activity was observed on the machine.", "mitreTechniques": []string{"T1059.001"},
		"aadTenantId": SimTenant, "investigationState": "Running",
		"evidence": []map[string]any{{
			"entityType": "Process", "fileName": "powershell.exe", "filePath": `C:\Windows\System32\WindowsPowerShell\v1.0`,
			"sha1": "6cbce4a295c163791b60fc23d285e6d84f28ee4c", "sha256": "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
			"processId": 4711, "processCommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA", "parentProcessId": 912,
			"accountName": "alice", "domainName": "CONTOSO", "detectionStatus": "Detected",
		}},
	}
	for _, o := range opts {
		o(m)
	}
	b, _ := json.Marshal(m)
	return b
}

// AlertOption sets a field of NewAlert's payload.
type AlertOption func(map[string]any)

// AlertField sets a top-level field.
func AlertField(k string, v any) AlertOption { return func(m map[string]any) { m[k] = v } }

// alertID reads an alert payload's id (tests use it after Inject).
func alertID(p []byte) string {
	f, _ := jsonfield.Parse(p)
	return f.Str("id")
}
