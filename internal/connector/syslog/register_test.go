package syslog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
)

// TestRegistered: the registry entry is a push source — a decoder that cuts
// files (for normalize and replay), no pull, no containment, no simulator —
// and a file of lines normalises as the CLI would do it.
func TestRegistered(t *testing.T) {
	v, err := connector.Lookup("syslog")
	if err != nil {
		t.Fatal(err)
	}
	if v.NewSource != nil || v.NewResponder != nil || v.NewSimulator != nil || v.SeverityScale == "" {
		t.Errorf("vendor %+v: want no source, responder or simulator, and a severity scale", v)
	}
	f, ok := v.Decoder.(connector.Framer)
	if !ok {
		t.Fatal("decoder is not a connector.Framer")
	}
	body, err := os.ReadFile(filepath.Join("testdata", "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := f.Frame(body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, p := range payloads {
		got, err := v.Decoder.Decode(p)
		if err != nil {
			t.Errorf("payload %d: %v", i+1, err)
		}
		n += len(got)
	}
	if want := len(testLines(t)); len(payloads) != want || n != want {
		t.Errorf("%d payloads, %d alerts from %d lines", len(payloads), n, want)
	}
}
