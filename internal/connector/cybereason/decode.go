// Package cybereason is bannin's Cybereason integration: it decodes MalOps
// (MalopInboxModel items of POST /rest/detection/inbox), pulls them with a
// lastUpdateTime checkpoint, isolates and releases machines through the
// sensor commands API (resolving the sensor pylumId first), and simulates
// those APIs for demos, replays and tests.
package cybereason

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// VendorName is the name the integration is registered under.
const VendorName = "cybereason"

// Scores for Cybereason's three-level MalOp severity, and for a MalOp that
// carries none of the known levels.
const (
	ScoreHigh    = 80
	ScoreMedium  = 50
	ScoreLow     = 30
	ScoreUnrated = 50
)

// Decoder turns one Cybereason payload into alerts. It recognises a MalOp
// (MalopInboxModel: guid, displayName, severity, machines[], users[], …)
// and a whole inbox answer {"malops":[…]}, whose items keep their own bytes
// as Raw.
//
// A MalOp names every machine it involves; it yields one alert per machine,
// so that each host can be triaged and isolated on its own. The alerts of
// one MalOp share Rule, Title, process and times; VendorID is
// "<MalOp guid>/<machine guid>" and Host.ID the machine guid (the
// responder resolves it to the sensor pylumId that isolation takes). A
// MalOp without machines yields one alert with VendorID the MalOp guid.
//
// Severity (severity, else malopSeverity) maps High 80, Medium 50, Low 30;
// without one, the priority (priority, else malopPriority) is read the same
// way, and a MalOp with neither scores 50. The zero value is ready to use.
type Decoder struct{}

var _ connector.Decoder = Decoder{}

// Decode implements connector.Decoder.
func (Decoder) Decode(payload []byte) ([]alert.Alert, error) {
	f, err := jsonfield.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: cybereason: payload is not a JSON object: %v", connector.ErrBadPayload, err)
	}
	if !f.Has("guid") && f.Has("malops") {
		return decodeInbox(f)
	}
	return decodeMalop(f, payload)
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: cybereason: %s", connector.ErrBadPayload, fmt.Sprintf(format, args...))
}

// decodeInbox decodes an inbox answer {"malops":[…]}.
func decodeInbox(f jsonfield.Object) ([]alert.Alert, error) {
	raws, ok := jsonfield.RawArray(f["malops"])
	if !ok {
		return nil, bad("malops is not an array")
	}
	var out []alert.Alert
	for i, raw := range raws {
		item, err := jsonfield.Parse(raw)
		if err != nil {
			return nil, bad("malops item %d is not an object", i)
		}
		got, err := decodeMalop(item, raw)
		if err != nil {
			return nil, fmt.Errorf("malops item %d: %w", i, err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// machine is one entry of a MalOp's machines[].
type machine struct {
	guid, name, os string
	isolated       bool
}

// decodeMalop decodes one MalopInboxModel.
func decodeMalop(f jsonfield.Object, raw []byte) ([]alert.Alert, error) {
	guid := f.Str("guid")
	if guid == "" {
		return nil, bad("payload is not a MalOp: no guid")
	}
	sev, score := rating(f)
	base := alert.Alert{
		Vendor:         VendorName,
		VendorID:       guid,
		Rule:           rule(f),
		Title:          f.First("displayName", "primaryRootCauseName", "guid"),
		Product:        product(f),
		EventTime:      f.Time("lastUpdateTime"),
		VendorCreated:  f.Time("creationTime"),
		Process:        rootCause(f),
		VendorSeverity: sev,
		Score:          score,
		Action:         alert.ActionNone,
		Raw:            slices.Clone(raw),
	}
	if base.EventTime.IsZero() {
		base.EventTime = base.VendorCreated
	}
	users := userNames(f)
	machines := machinesOf(f)
	base.Description = describe(f, guid, len(machines))
	if len(machines) == 0 {
		if len(users) == 1 {
			base.User = users[0]
		}
		return []alert.Alert{base}, nil
	}
	out := make([]alert.Alert, 0, len(machines))
	for _, m := range machines {
		a := base
		a.VendorID = guid + "/" + m.guid
		a.Host = alert.Host{ID: m.guid, Name: m.name, OS: osName(m.os)}
		a.User = userOn(users, m.name)
		if m.isolated {
			a.Description += "; the machine was already isolated when the MalOp was read"
		}
		out = append(out, a)
	}
	return out, nil
}

// machinesOf reads machines[], skipping entries without a guid (nothing can
// name the host to isolate) and repeats.
func machinesOf(f jsonfield.Object) []machine {
	raws, _ := jsonfield.RawArray(f["machines"])
	var out []machine
	seen := map[string]bool{}
	for _, raw := range raws {
		o, err := jsonfield.Parse(raw)
		if err != nil {
			continue
		}
		m := machine{guid: o.Str("guid"), name: o.First("displayName", "name"), os: o.Str("osType"), isolated: o.Flag("isolated")}
		if m.guid == "" || seen[m.guid] {
			continue
		}
		seen[m.guid] = true
		out = append(out, m)
	}
	return out
}

// rating returns the vendor's severity text and its score.
func rating(f jsonfield.Object) (string, int) {
	if s := f.First("severity", "malopSeverity"); s != "" {
		if n, ok := levelScore(s); ok {
			return s, n
		}
	}
	if p := f.First("priority", "malopPriority"); p != "" {
		if n, ok := levelScore(p); ok {
			return p, n
		}
	}
	return f.First("severity", "malopSeverity", "priority", "malopPriority"), ScoreUnrated
}

func levelScore(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "high":
		return ScoreHigh, true
	case "medium":
		return ScoreMedium, true
	case "low":
		return ScoreLow, true
	}
	return 0, false
}

// rule names the detection logic: the detection types (calc_Custom_Rule,
// …), else the MalOp detection type (CUSTOM_RULE, …). MalOps of one kind
// share it, whatever machine they are on.
func rule(f jsonfield.Object) string {
	if ts := f.Strs("detectionTypes"); len(ts) > 0 {
		return strings.Join(ts, ",")
	}
	return f.First("malopDetectionType", "malopType")
}

func product(f jsonfield.Object) string {
	if es := f.Strs("detectionEngines"); len(es) > 0 {
		return "Cybereason " + strings.Join(es, ",")
	}
	return "Cybereason"
}

var (
	sha1Re   = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	sha256Re = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	md5Re    = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// rootCause is the MalOp's root cause as a process: its name, and the hash
// rootCauseElementHashes carries (SHA-1 in the samples; the first of a
// list is taken, its kind told by its length).
func rootCause(f jsonfield.Object) alert.Process {
	var p alert.Process
	if t := strings.ToLower(f.Str("rootCauseElementType")); t == "" || t == "process" || t == "file" {
		p.Name = f.Str("primaryRootCauseName")
	}
	var hashes []string
	if ss := f.Strs("rootCauseElementHashes"); len(ss) > 0 {
		hashes = ss
	}
	for _, h := range hashes {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case sha256Re.MatchString(h) && p.SHA256 == "":
			p.SHA256 = h
		case sha1Re.MatchString(h) && p.SHA1 == "":
			p.SHA1 = h
		case md5Re.MatchString(h) && p.MD5 == "":
			p.MD5 = h
		}
	}
	return p
}

// osName maps osType (WINDOWS, linux, OSX, …) to the names alerts use;
// an unknown type is left out rather than guessed.
func osName(t string) string {
	switch strings.ToLower(t) {
	case "windows":
		return "windows"
	case "linux":
		return "linux"
	case "osx", "mac", "macos", "mac_os":
		return "macos"
	case "android":
		return "android"
	case "ios":
		return "ios"
	}
	return ""
}

// userNames lists users[].displayName ("HOST\\user").
func userNames(f jsonfield.Object) []string {
	raws, _ := jsonfield.RawArray(f["users"])
	var out []string
	for _, raw := range raws {
		if o, err := jsonfield.Parse(raw); err == nil {
			if n := o.Str("displayName"); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// userOn picks the MalOp user whose domain part is the machine's name
// ("d3dock-poc\\administrator" on d3dock-poc), else the only user; the
// inbox does not say which user acted on which machine otherwise.
func userOn(users []string, host string) string {
	for _, u := range users {
		if i := strings.IndexByte(u, '\\'); i > 0 && strings.EqualFold(u[:i], host) {
			return u
		}
	}
	if len(users) == 1 {
		return users[0]
	}
	return ""
}

// describe summarises what the inbox says beyond the alert fields.
func describe(f jsonfield.Object, guid string, machines int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cybereason MalOp %s", guid)
	if t := f.First("malopDetectionType", "malopType"); t != "" {
		fmt.Fprintf(&b, " (%s)", t)
	}
	if machines > 1 {
		fmt.Fprintf(&b, " on %d machines", machines)
	}
	if s := f.First("status", "malopStatus"); s != "" {
		fmt.Fprintf(&b, "; status %s", s)
	}
	if f.Flag("closed") {
		b.WriteString(", closed")
	}
	if ls := f.Strs("labels"); len(ls) > 0 {
		fmt.Fprintf(&b, "; labels %s", strings.Join(ls, ", "))
	}
	return b.String()
}

// updateKey returns a MalOp's guid and lastUpdateTime in epoch
// milliseconds (0 when absent or unreadable), read exactly.
func updateKey(f jsonfield.Object) (guid string, ms int64) {
	guid = f.Str("guid")
	ms, err := strconv.ParseInt(f.Str("lastUpdateTime"), 10, 64)
	if err != nil || ms < 0 {
		if t := f.Time("lastUpdateTime"); !t.IsZero() {
			return guid, t.UnixMilli()
		}
		return guid, 0
	}
	return guid, ms
}

func millis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
