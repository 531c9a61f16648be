package response

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/bannin-soc/bannin/internal/jobs"
)

// MaxTries is how often a containment call is tried before it is failed.
const MaxTries = 8

// ErrNotRequested: the action is no longer requested (it was cancelled
// while its call ran), so the worker's outcome is not recorded over it.
var ErrNotRequested = errors.New("the action is no longer requested")

// Store is what the containment worker reads and writes.
type Store interface {
	Action(ctx context.Context, tenant string, id int64) (*Action, error)
	// SaveAction writes the outcome of a requested action with an audit
	// entry; ErrNotRequested when it is requested no more.
	SaveAction(ctx context.Context, a *Action, auditAction, detail string) error
	// AuditAction writes an audit entry about an action.
	AuditAction(ctx context.Context, a *Action, auditAction, detail string, at time.Time) error
}

// Responders finds the responder of a tenant's source.
type Responders func(tenant, source string) (connector.Responder, error)

// Worker carries out containment actions through the vendor's API.
type Worker struct {
	river.WorkerDefaults[jobs.ContainArgs]
	Store      Store
	Responders Responders
	// Stamp returns the time to record on the action; replay stamps effects
	// with the decision's virtual time.
	Stamp func(a *Action) time.Time
	Log   *slog.Logger
}

// Work runs one containment action. A repeated run after a crash finds the
// action done (or the host already in the asked state) and calls nothing.
func (w *Worker) Work(ctx context.Context, job *river.Job[jobs.ContainArgs]) error {
	err := w.work(ctx, job)
	if err != nil && job.Attempt >= job.MaxAttempts && !isControl(err) {
		// River discards the job after this: make the action say so rather
		// than stay "requested" for ever.
		w.markFailed(job, err)
	}
	return err
}

func (w *Worker) work(ctx context.Context, job *river.Job[jobs.ContainArgs]) error {
	act, err := w.Store.Action(ctx, job.Args.Tenant, job.Args.ActionID)
	if err != nil {
		return err
	}
	if act.State != StateRequested {
		return nil // done, failed or waiting for approval: nothing to run
	}
	resp, err := w.Responders(act.Tenant, act.Source)
	if err != nil {
		return w.fail(ctx, act, fmt.Sprintf("no responder: %v", err))
	}
	act.Attempts++
	t := connector.Target{HostID: act.HostID, HostName: act.HostKey}
	var res connector.Result
	if act.Kind == KindRelease {
		res, err = resp.Release(ctx, t, act.Key)
	} else {
		res, err = resp.Isolate(ctx, t, act.Key)
	}
	if err == nil {
		act.State, act.Detail, act.UpdatedAt = StateDone, doneDetail(act, res), w.Stamp(act)
		err := w.Store.SaveAction(ctx, act, "action.done", act.Detail)
		if errors.Is(err, ErrNotRequested) {
			if act.Kind == KindIsolate && !res.Already {
				return w.undo(ctx, resp, t, act)
			}
			return nil // cancelled meanwhile; the host was already so
		}
		return err
	}
	return w.retryOrFail(ctx, act, err)
}

// undo lifts an isolation whose action was cancelled while the vendor
// carried it out (its incident became a false positive meanwhile): the
// host must not stay isolated. The release is keyed apart from the
// isolation; a failure is retried by the job.
func (w *Worker) undo(ctx context.Context, resp connector.Responder, t connector.Target, act *Action) error {
	if _, err := resp.Release(ctx, t, act.Key+"/undo"); err != nil {
		w.Log.Error("an isolation completed after it was cancelled and could not be lifted; retrying", "tenant", act.Tenant,
			"incident", act.Incident, "host", act.HostKey, "err", err)
		return err
	}
	return w.Store.AuditAction(ctx, act, "action.undone",
		"isolation completed at the vendor after it was cancelled; lifted again", w.Stamp(act))
}

func doneDetail(a *Action, r connector.Result) string {
	d := fmt.Sprintf("%s %s: accepted by the vendor", a.Kind, a.HostKey)
	if r.Already {
		d = fmt.Sprintf("%s %s: the host was already in that state; no call made", a.Kind, a.HostKey)
	}
	if r.Detail != "" {
		d += " (" + r.Detail + ")"
	}
	return d
}

func (w *Worker) retryOrFail(ctx context.Context, act *Action, err error) error {
	var re *connector.RetryableError
	if !errors.As(err, &re) {
		return w.fail(ctx, act, err.Error())
	}
	if act.Attempts >= MaxTries {
		return w.fail(ctx, act, fmt.Sprintf("gave up after %d tries: %v", act.Attempts, err))
	}
	act.Detail, act.UpdatedAt = fmt.Sprintf("try %d failed, will retry: %v", act.Attempts, err), w.Stamp(act)
	if serr := w.Store.SaveAction(ctx, act, "action.retry", act.Detail); errors.Is(serr, ErrNotRequested) {
		return river.JobCancel(serr)
	} else if serr != nil {
		return serr
	}
	w.Log.Warn("containment call failed; retrying", "tenant", act.Tenant, "incident", act.Incident, "host", act.HostKey, "err", err)
	if re.After > 0 {
		return river.JobSnooze(re.After) // the vendor said when; our own try count bounds it
	}
	return err
}

func (w *Worker) fail(ctx context.Context, act *Action, why string) error {
	act.State, act.Detail, act.UpdatedAt = StateFailed, why, w.Stamp(act)
	if err := w.Store.SaveAction(ctx, act, "action.failed", why); errors.Is(err, ErrNotRequested) {
		return river.JobCancel(err) // cancelled meanwhile: nothing left to do
	} else if err != nil {
		return err
	}
	w.Log.Error("containment failed", "tenant", act.Tenant, "incident", act.Incident, "host", act.HostKey, "why", why)
	return river.JobCancel(errors.New(why))
}

// isControl reports River's snooze and cancel results, which are not failures
// of the last attempt.
func isControl(err error) bool {
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	return errors.As(err, &snooze) || errors.As(err, &cancel)
}

// markFailed records, as best it can, that an action's job gave up.
func (w *Worker) markFailed(job *river.Job[jobs.ContainArgs], cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	act, err := w.Store.Action(ctx, job.Args.Tenant, job.Args.ActionID)
	if err != nil || act.State != StateRequested {
		return
	}
	act.State, act.Detail, act.UpdatedAt = StateFailed, "gave up after the job's last try: "+cause.Error(), w.Stamp(act)
	if err := w.Store.SaveAction(ctx, act, "action.failed", act.Detail); err != nil {
		w.Log.Error("could not record a failed containment", "tenant", act.Tenant, "action", act.ID, "err", err)
	}
}
