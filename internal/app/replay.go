package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// Envelope is one line of a replay input.
type Envelope struct {
	Tenant     string          `json:"tenant"`
	Source     string          `json:"source"`
	ReceivedAt time.Time       `json:"received_at"`
	Payload    json.RawMessage `json:"payload"`
}

// replayBatch is the triage batch size of a replay. Each batch journals
// the pages it changes once, so larger batches write fewer journal pages:
// a 297,005-line replay took 34.3-34.9 s at 2,048 and 30.9-36.0 s at
// 4,096 (a noisy machine; docs/BENCHMARKS.md, 5th session), for about
// 10 MB more there; at a million lines, with the exclusive lock, the peak
// RSS went from 445 to 588-593 MB.
const replayBatch = 4096

// feedBatch is how many input lines one inbox transaction stores. Feed and
// the processor take turns on SQLite's one connection; each turn of Feed's
// must bring at least a triage batch, or every batch is as small as one
// turn's lines.
const feedBatch = 2 * replayBatch

// feedBytes bounds one inbox transaction's payloads too: lines may be up to
// maxLine each.
const feedBytes = 32 << 20

// maxLine bounds one replay input line.
const maxLine = 16 << 20

// Feed reads replay input and stores every line in the inbox: good lines as
// pending payloads received at their received_at, bad lines quarantined with
// the reason. It returns how many lines it read and how many were bad.
func (a *App) Feed(ctx context.Context, r io.Reader, progress func(lines int)) (lines, bad int, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var batch []sqlstore.InboxItem
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := a.DB.Accept(ctx, batch, nil)
		batch, size = batch[:0], 0
		a.Processor.Wake()
		return err
	}
	for {
		raw, tooLong, rerr := readLine(br, maxLine)
		if rerr != nil && rerr != io.EOF {
			return lines, bad, fmt.Errorf("line %d: %w", lines+1, rerr)
		}
		line := bytes.TrimSpace(raw)
		if len(line) > 0 || tooLong {
			lines++
			var item sqlstore.InboxItem
			if tooLong {
				item = a.badLine(lines, "", raw[:min(len(raw), 1024)], fmt.Sprintf("longer than %d MiB (kept: its first KiB)", maxLine>>20))
			} else {
				item = a.envelopeItem(lines, line)
			}
			if item.State == sqlstore.InboxQuarantined {
				bad++
			}
			batch = append(batch, item)
			size += len(item.Payload)
		}
		if len(batch) >= feedBatch || size >= feedBytes {
			if err := flush(); err != nil {
				return lines, bad, err
			}
			if progress != nil {
				progress(lines)
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if err := flush(); err != nil {
		return lines, bad, err
	}
	if progress != nil {
		progress(lines)
	}
	return lines, bad, nil
}

// envelopeItem turns one input line into an inbox row, quarantined when the
// envelope is unusable.
func (a *App) envelopeItem(n int, line []byte) sqlstore.InboxItem {
	var e Envelope
	bad := func(tenantID, why string) sqlstore.InboxItem {
		it := a.badLine(n, tenantID, line, why)
		it.Source = e.Source
		return it
	}
	if err := readEnvelope(line, &e); err != nil {
		return bad("", "not a replay envelope: "+err.Error())
	}
	if _, err := a.Estate.Source(e.Tenant, e.Source); err != nil {
		return bad(e.Tenant, err.Error())
	}
	if e.ReceivedAt.IsZero() {
		return bad(e.Tenant, "received_at is missing (want RFC 3339)")
	}
	if len(e.Payload) == 0 || e.Payload[0] != '{' {
		return bad(e.Tenant, "payload is missing or not a JSON object")
	}
	return sqlstore.InboxItem{Tenant: e.Tenant, Source: e.Source, ReceivedAt: e.ReceivedAt.UTC(), Payload: slices.Clone([]byte(e.Payload))}
}

// readEnvelope reads one input line as json.Unmarshal into an Envelope
// would, with one validating pass over the line instead of two (the
// payload, most of the line, is not scanned again to be copied out).
func readEnvelope(line []byte, e *Envelope) error {
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return json.Unmarshal(line, e) // jsonfield trims more kinds of space than JSON allows
	}
	obj, distinct, err := jsonfield.ParseDistinct(line)
	if err != nil || !distinct {
		// Its own words for what is wrong; and a repeated key is read
		// occurrence by occurrence, as only encoding/json does.
		return json.Unmarshal(line, e)
	}
	for k, raw := range obj {
		var err error
		switch k {
		case "tenant":
			err = json.Unmarshal(raw, &e.Tenant)
		case "source":
			err = json.Unmarshal(raw, &e.Source)
		case "received_at":
			err = json.Unmarshal(raw, &e.ReceivedAt)
		case "payload":
			if string(raw) != "null" {
				e.Payload = raw
			}
		default:
			// Another key, or one of these in other case (which
			// encoding/json matches too): let it decide.
			*e = Envelope{}
			return json.Unmarshal(line, e)
		}
		if err != nil {
			*e = Envelope{}
			return json.Unmarshal(line, e)
		}
	}
	return nil
}

// badLine keeps an unusable input line in quarantine with its reason.
func (a *App) badLine(n int, tenantID string, line []byte, why string) sqlstore.InboxItem {
	if tenantID == "" {
		tenantID = "-"
	}
	return sqlstore.InboxItem{Tenant: tenantID, ReceivedAt: a.cfg.Clock().UTC(), Payload: slices.Clone(line),
		State: sqlstore.InboxQuarantined, Error: fmt.Sprintf("line %d: %s", n, why)}
}

// readLine reads one line of at most limit bytes. A longer line is read to
// its end and dropped: tooLong is set and line holds its start.
func readLine(br *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) <= limit {
			line = append(line, chunk...)
		} else {
			if !tooLong {
				line = append(line, chunk[:max(0, min(len(chunk), limit-len(line)))]...)
			}
			tooLong = true
		}
		if err != bufio.ErrBufferFull {
			return line, tooLong, err
		}
	}
}

// Replay feeds the input, waits until every payload is triaged and every job
// has run, and returns the result.
func (a *App) Replay(ctx context.Context, r io.Reader, progress func(lines int)) (*Result, error) {
	// No sender waits for a 202 here: larger batches spread each batch's
	// read-ahead and commit over more rows (a 20,000-line month: 12.7 s
	// at 256 rows, 9.2 s at 1,024).
	a.Processor.SetBatch(replayBatch)
	lines, bad, err := a.Feed(ctx, r, progress)
	if err != nil {
		return nil, err
	}
	if err := a.Quiesce(ctx); err != nil {
		return nil, err
	}
	st := a.Processor.Stats()
	res := &Result{Alerts: AlertCounts{Received: lines, Accepted: st.Accepted, Duplicates: st.Duplicates,
		Quarantined: st.Quarantined + bad, Suppressed: st.Suppressed}}
	var ids []string
	for _, t := range a.cfg.Tenants {
		ids = append(ids, t.ID)
	}
	res.Incidents, err = a.View.Incidents(ctx, ids...)
	if err != nil {
		return nil, errors.Join(errors.New("collect incidents"), err)
	}
	return res, nil
}
