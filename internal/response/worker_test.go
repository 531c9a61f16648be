package response

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/jobs"
)

// cancellingStore holds one action; while the vendor call runs, the
// action is cancelled (its incident became a false positive).
type cancellingStore struct {
	mu     sync.Mutex
	act    Action
	audits []string
}

func (s *cancellingStore) Action(_ context.Context, _ string, _ int64) (*Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.act
	return &a, nil
}

func (s *cancellingStore) SaveAction(_ context.Context, a *Action, _, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.act.State != StateRequested {
		return fmt.Errorf("action %d is %s: %w", a.ID, s.act.State, ErrNotRequested)
	}
	s.act = *a
	return nil
}

func (s *cancellingStore) AuditAction(_ context.Context, _ *Action, action, _ string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audits = append(s.audits, action)
	return nil
}

// vendor records calls; its Isolate cancels the action in the store first.
type vendor struct {
	store   *cancellingStore
	already bool
	calls   []string
}

func (v *vendor) Isolate(_ context.Context, _ connector.Target, key string) (connector.Result, error) {
	v.store.mu.Lock()
	v.store.act.State = StateCancelled
	v.store.mu.Unlock()
	v.calls = append(v.calls, "isolate "+key)
	return connector.Result{Already: v.already}, nil
}

func (v *vendor) Release(_ context.Context, _ connector.Target, key string) (connector.Result, error) {
	v.calls = append(v.calls, "release "+key)
	return connector.Result{}, nil
}

// TestIsolationCancelledMidCall: an isolation cancelled while the vendor
// carried it out is not recorded as done, and the worker lifts it again
// (keyed apart); when the host was already isolated, nothing is undone.
func TestIsolationCancelledMidCall(t *testing.T) {
	for _, already := range []bool{false, true} {
		st := &cancellingStore{act: Action{ID: 1, Tenant: "a", Incident: "INC-000001", Kind: KindIsolate, HostKey: "pc-1",
			HostID: "aid-1", State: StateRequested, Key: "a/INC-000001/isolate/pc-1"}}
		v := &vendor{store: st, already: already}
		w := &Worker{Store: st, Responders: func(string, string) (connector.Responder, error) { return v, nil },
			Stamp: func(*Action) time.Time { return time.Unix(0, 0) }, Log: slog.New(slog.DiscardHandler)}
		job := &river.Job[jobs.ContainArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 5}, Args: jobs.ContainArgs{Tenant: "a", ActionID: 1}}
		if err := w.Work(context.Background(), job); err != nil {
			t.Fatalf("already=%v: %v", already, err)
		}
		if st.act.State != StateCancelled {
			t.Errorf("already=%v: action %s, want it left cancelled", already, st.act.State)
		}
		want := []string{"isolate a/INC-000001/isolate/pc-1", "release a/INC-000001/isolate/pc-1/undo"}
		if already {
			want = want[:1]
		}
		if fmt.Sprint(v.calls) != fmt.Sprint(want) {
			t.Errorf("already=%v: vendor calls %v, want %v", already, v.calls, want)
		}
		if !already && (len(st.audits) != 1 || st.audits[0] != "action.undone") {
			t.Errorf("audits %v, want action.undone", st.audits)
		}
	}
}
