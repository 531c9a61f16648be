package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
)

// testDFIR: a P0 incident goes into DFIR mode and out again, each with a
// note and an audit entry; a P2 incident without destructive techniques,
// a missing reason and another tenant's incident are refused, nothing changed.
func testDFIR(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	p0 := newIncident("a", "ransomware", t0)
	p0.Priority, p0.Techniques = alert.P0, []string{"T1486"}
	ransom := insertIncident(t, db, p0)
	p2 := newIncident("a", "phishing", t0)
	p2.Priority, p2.Techniques = alert.P2, []string{"T1566.001"}
	phish := insertIncident(t, db, p2)

	if _, err := db.SetDFIR(ctx, "a", ransom, true, "alice", "", t0); !errors.Is(err, sqlstore.ErrConflict) {
		t.Errorf("DFIR without a reason: err %v, want ErrConflict", err)
	}
	if _, err := db.SetDFIR(ctx, "a", phish, true, "alice", "just in case", t0); !errors.Is(err, sqlstore.ErrConflict) {
		t.Errorf("DFIR on a P2 phishing incident: err %v, want ErrConflict", err)
	}
	if _, err := db.SetDFIR(ctx, "b", ransom, true, "mallory", "not mine", t0); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("DFIR on another tenant's incident: err %v, want ErrNotFound", err)
	}
	if getIncident(t, db, "a", phish).DFIR || getIncident(t, db, "a", ransom).DFIR {
		t.Fatal("a refused request changed the incident")
	}
	in, err := db.SetDFIR(ctx, "a", ransom, true, "alice", "encrypted file server", t0)
	check(t, "SetDFIR on", err)
	if !in.DFIR || !getIncident(t, db, "a", ransom).DFIR {
		t.Error("DFIR mode not stored")
	}
	_, err = db.SetDFIR(ctx, "a", ransom, false, "alice", "forensics done", t0)
	check(t, "SetDFIR off", err)
	if getIncident(t, db, "a", ransom).DFIR {
		t.Error("DFIR mode not ended")
	}
	notes, err := db.Notes(ctx, "a", ransom)
	check(t, "Notes", err)
	if len(notes) != 2 || !strings.Contains(notes[0].Text, "DFIR モードに移行") || !strings.Contains(notes[0].Text, "moved to DFIR mode") {
		t.Errorf("notes %+v: want two, the first in Japanese and English", notes)
	}
	if got := auditActions(t, db, "a", "incident.dfir"); len(got) != 2 {
		t.Errorf("audit %v: want dfir_on and dfir_off", got)
	}
}
