// Package storetest is the conformance suite every bannin store must pass
// (after dex's storage/conformance): the SQLite and the PostgreSQL store run
// the same subtests, so that a query that behaves differently on one dialect
// fails here rather than in production.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/response"
	"github.com/bannin-soc/bannin/internal/store/sqlstore"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// Run runs the suite. open must return a fresh, migrated, empty store for
// the test it is given and close it when that test ends (t.Cleanup). The
// subtests run in parallel, each on its own store, so open is called
// concurrently.
func Run(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"InboxClaimFinish", testInboxClaimFinish},
		{"InboxClaimWithoutFinish", testInboxClaimWithoutFinish},
		{"InboxRequeue", testInboxRequeue},
		{"InboxPeek", testInboxPeek},
		{"Params", testParams},
		{"AcceptGroup", testAcceptGroup},
		{"Cursors", testCursors},
		{"IncidentRoundTrip", testIncidentRoundTrip},
		{"IncidentUpdate", testIncidentUpdate},
		{"Notes", testNotes},
		{"OpenIncidentByFingerprint", testOpenIncidentByFingerprint},
		{"OpenIncidentByHost", testOpenIncidentByHost},
		{"OpenIncidentByHash", testOpenIncidentByHash},
		{"AlertRoundTrip", testAlertRoundTrip},
		{"PrimedAlertRoundTrip", testPrimedAlertRoundTrip},
		{"AlertSeen", testAlertSeen},
		{"Prevalence", testPrevalence},
		{"Actions", testActions},
		{"ActionLists", testActionLists},
		{"SaveAction", testSaveAction},
		{"Isolations", testIsolations},
		{"Notifications", testNotifications},
		{"RecordAttempt", testRecordAttempt},
		{"RecordAttemptWrongTenant", testRecordAttemptWrongTenant},
		{"AuditOrder", testAuditOrder},
		{"InTxPanic", testInTxPanic},
		{"Tenants", testTenants},
		{"TenantIsolation", testTenantIsolation},
		{"ConcurrentClaim", testConcurrentClaim},
		{"ClaimSkipsLocked", testClaimSkipsLocked},
		{"LockTenant", testLockTenant},
		{"PollLease", testPollLease},
		{"PrevalenceWith", testPrevalenceWith},
		{"PrimeAgrees", testPrimeAgrees},
		{"DeferredWrites", testDeferredWrites},
		{"KeptIncidentUpdate", testKeptIncidentUpdate},
		{"SuspectUnanswered", testSuspectUnanswered},
		{"DFIR", testDFIR},
		{"MeterUsage", testMeterUsage},
		{"PrepaidFIFO", testPrepaidFIFO},
		{"PrepaidRefusals", testPrepaidRefusals},
		{"PrepaidConcurrentUse", testPrepaidConcurrentUse},
		{"TicketLifecycle", testTicketLifecycle},
		{"TicketTenantIsolation", testTicketTenantIsolation},
		{"IncidentVerdict", testIncidentVerdict},
		{"ApplyPCR", testApplyPCR},
		{"Acknowledge", testAcknowledge},
		{"EscalationSteps", testEscalationSteps},
		{"ReportsSent", testReportsSent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 is the suite's fixed clock. The store keeps microseconds, so every time
// the suite writes is whole microseconds.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// inTx runs fn in a transaction that must commit.
func inTx(t *testing.T, db *sqlstore.DB, fn func(ctx context.Context, tx *sqlstore.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := db.InTx(ctx, func(tx *sqlstore.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("%s: got error %v, want ErrNotFound", what, err)
	}
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// newIncident returns an open incident of tenant with every field set.
func newIncident(tenant, title string, at time.Time) *ticket.Incident {
	return &ticket.Incident{
		Tenant:     tenant,
		Status:     ticket.StatusOpen,
		Verdict:    ticket.VerdictNone,
		Priority:   alert.P1,
		Severity:   "high",
		Score:      72,
		NeedsHuman: true,
		Title:      title,
		Hosts:      []string{"web01"},
		Techniques: []string{"T1003", "T1059.001"},
		Evidence: []ticket.Evidence{
			{Signal: "vendor_score", Contribution: 50, Detail: "Falcon rated 79"},
			{Signal: "prevalence", Contribution: 22, Detail: "first time seen"},
		},
		AlertCount: 1,
		FirstSeen:  at,
		LastSeen:   at,
		CreatedAt:  at,
		UpdatedAt:  at,
	}
}

func insertIncident(t *testing.T, db *sqlstore.DB, in *ticket.Incident) int64 {
	t.Helper()
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.InsertIncident(ctx, in) })
	if in.ID == 0 {
		t.Fatal("InsertIncident did not set ID")
	}
	return in.ID
}

// hashA and hashB are two real SHA-256 values (SuspiciousHash keeps them).
const (
	hashA = "5f0b2d7e8c1a4b3f9e6d0c7a2b8f1e4d3c6a9b0e7f2d5c8a1b4e7f0a3d6c9b2e"
	hashB = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// newAlert returns an alert of tenant from source "falcon" on host, running
// a process with the given SHA-256, received at the given time.
func newAlert(tenant, vendorID, host, sha string, at time.Time) alert.Alert {
	return alert.Alert{
		Tenant:         tenant,
		Source:         "falcon",
		Vendor:         "crowdstrike",
		VendorID:       vendorID,
		Rule:           "CredentialDumping",
		Title:          "Credential dumping",
		Product:        "epp",
		EventTime:      at.Add(-time.Minute),
		Received:       at,
		Host:           alert.Host{ID: "hid-" + host, Name: host + ".corp.example", IPs: []string{"10.0.0.7"}, OS: "Windows"},
		User:           "CORP\\alice",
		Process:        alert.Process{Name: "procdump.exe", Path: `C:\tools`, CommandLine: "procdump -ma lsass.exe", SHA256: sha},
		Parent:         alert.Process{Name: "cmd.exe"},
		Network:        []alert.Network{{IP: "203.0.113.9", Port: 443, Domain: "c2.example"}},
		Tactics:        []string{"TA0006"},
		Techniques:     []string{"T1003"},
		VendorSeverity: "79",
		Score:          79,
		Action:         alert.ActionNone,
	}
}

// insertAlert stores an alert as part of the incident (0: of none).
func insertAlert(t *testing.T, db *sqlstore.DB, incidentID int64, a alert.Alert) *sqlstore.AlertRow {
	t.Helper()
	r := &sqlstore.AlertRow{IncidentID: incidentID, Disposition: sqlstore.DispositionNew, Score: a.Score, Alert: a}
	if incidentID == 0 {
		r.Disposition = sqlstore.DispositionLow
	}
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.InsertAlert(ctx, r) })
	return r
}

// newAction returns a containment step on host for the incident.
func newAction(tenant string, incidentID int64, kind response.Kind, host string, state response.State, at time.Time) *response.Action {
	return &response.Action{
		Tenant:     tenant,
		IncidentID: incidentID,
		Kind:       kind,
		Source:     "falcon",
		HostKey:    host,
		HostID:     "hid-" + host,
		State:      state,
		Reason:     "credential theft",
		Key:        tenant + "/" + string(kind) + "/" + host + "/" + at.Format(time.RFC3339Nano),
		CreatedAt:  at,
		UpdatedAt:  at,
	}
}

func insertAction(t *testing.T, db *sqlstore.DB, a *response.Action) int64 {
	t.Helper()
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.InsertAction(ctx, a) })
	if a.ID == 0 {
		t.Fatal("InsertAction did not set ID")
	}
	return a.ID
}

func newNotification(tenant string, incidentID int64, contact string, at time.Time) *sqlstore.Notification {
	return &sqlstore.Notification{
		Tenant:     tenant,
		IncidentID: incidentID,
		Channel:    "email",
		Contact:    contact,
		Address:    contact + "@example.com",
		Language:   "ja",
		Kind:       "first",
		State:      "pending",
		CreatedAt:  at,
	}
}

func insertNotification(t *testing.T, db *sqlstore.DB, n *sqlstore.Notification) int64 {
	t.Helper()
	inTx(t, db, func(ctx context.Context, tx *sqlstore.Tx) error { return tx.InsertNotification(ctx, n) })
	if n.ID == 0 {
		t.Fatal("InsertNotification did not set ID")
	}
	return n.ID
}

func auditLog(t *testing.T, db *sqlstore.DB, tenant string) []sqlstore.AuditEntry {
	t.Helper()
	log, err := db.AuditLog(t.Context(), tenant)
	check(t, "AuditLog", err)
	return log
}
