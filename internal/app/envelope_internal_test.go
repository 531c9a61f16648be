package app

import (
	"bytes"
	"encoding/json"
	"testing"
)

var envelopeCases = []string{
	`{"tenant":"acme","source":"falcon","received_at":"2026-10-01T00:00:00Z","payload":{"a":1}}`,
	`{"tenant":1,"tenant":"acme","source":"falcon","received_at":"2026-10-01T00:00:00Z","payload":{}}`,
	`{"tenant":"acme","tenant":null,"source":"falcon","received_at":"2026-10-01T00:00:00Z","payload":{}}`,
	`{"received_at":"bogus","received_at":"2026-10-01T00:00:00Z","tenant":"acme","payload":{}}`,
	`{"received_at":"2026-10-01T00:00:00Z","received_at":null,"tenant":"acme","payload":{}}`,
	`{"Tenant":"acme","SOURCE":"falcon","received_at":"2026-10-01T00:00:00Z","payload":{}}`,
	`{"tenant":"acme","extra":[1,2],"payload":[1]}`,
	`{"tenant":"acme","payload":null}`, `{"payload":"x"}`, `{"tenant":"a\u00e9"}`, `{"tenant":"acme","received_at":7}`,
	`{}`, `[]`, `null`, `{"tenant":`, `not json`, ``, `{"payload":{"a":1},"payload":{"b":2}}`,
}

// readEnvelope must accept exactly what json.Unmarshal accepts, and read it
// the same way: a line's fate (stored or quarantined) may not depend on
// which of the two read it.
func checkEnvelope(t *testing.T, line []byte) {
	var want, got Envelope
	werr := json.Unmarshal(line, &want)
	gerr := readEnvelope(line, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: readEnvelope error %v, json.Unmarshal error %v", line, gerr, werr)
	}
	if werr != nil {
		return
	}
	if want.Tenant != got.Tenant || want.Source != got.Source || !want.ReceivedAt.Equal(got.ReceivedAt) ||
		!bytes.Equal(bytes.TrimSpace(want.Payload), bytes.TrimSpace(got.Payload)) && !(string(want.Payload) == "null" && got.Payload == nil) {
		t.Fatalf("%q: readEnvelope read %+v, json.Unmarshal %+v", line, got, want)
	}
}

func TestReadEnvelopeAgrees(t *testing.T) {
	for _, c := range envelopeCases {
		checkEnvelope(t, []byte(c))
	}
}

// FuzzReadEnvelope holds readEnvelope equal to json.Unmarshal into an
// Envelope on any input.
func FuzzReadEnvelope(f *testing.F) {
	for _, c := range envelopeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkEnvelope(t, line) })
}
