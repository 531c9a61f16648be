// Package jobs runs bannin's durable effects — containment calls and
// notifications — as River jobs in the same database as everything else, so
// that a job is inserted in the transaction of the decision that caused it.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// ContainArgs asks for one containment action to be carried out.
type ContainArgs struct {
	Tenant   string `json:"tenant"`
	ActionID int64  `json:"action_id"`
}

// Kind names the job in River's table.
func (ContainArgs) Kind() string { return "contain" }

// InsertOpts makes a containment job unique per action, so that a retried
// transaction can never queue it twice.
func (ContainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueContain, MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// NotifyArgs asks for one notification to be delivered.
type NotifyArgs struct {
	Tenant         string `json:"tenant"`
	NotificationID int64  `json:"notification_id"`
}

// Kind names the job in River's table.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts makes a notification job unique per notification.
func (NotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueNotify, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Queues: containment never waits behind a burst of mail.
const (
	QueueContain = "contain"
	QueueNotify  = "notify"
)

// Options tune the runner.
type Options struct {
	// RetryBase is the first retry's delay; each further retry doubles it,
	// up to RetryMax. Defaults: 2s and 5m.
	RetryBase, RetryMax time.Duration
	// Workers per queue; default 4.
	Workers int
	// RescueAfter is how long a job may stay "running" before it is taken
	// for a dead node's and run again (default 2m; jobs time out at half).
	RescueAfter time.Duration
	Logger      *slog.Logger
}

// Runner inserts and works jobs.
type Runner struct {
	client *river.Client[*sql.Tx]
	db     *sql.DB
}

// New builds a runner over the store's pool (dialect "sqlite" or "postgres")
// with the given workers registered. It does not work jobs until Start; with
// nil workers it only inserts.
func New(db *sql.DB, dialect string, workers *river.Workers, o Options) (*Runner, error) {
	if o.RetryBase <= 0 {
		o.RetryBase = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var driver riverdriver.Driver[*sql.Tx]
	if dialect == "sqlite" {
		driver = riversqlite.New(db)
	} else {
		driver = riverdatabasesql.New(db)
	}
	cfg := &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueContain: {MaxWorkers: o.Workers},
			QueueNotify:  {MaxWorkers: o.Workers},
		},
		Workers:           workers,
		RetryPolicy:       &backoff{base: o.RetryBase, max: o.RetryMax},
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 25 * time.Millisecond,
		Logger:            o.Logger,
		PollOnly:          true, // database/sql drivers have no LISTEN; SQLite has none at all
		// Vendor and mail calls time out in 30 s; a job still "running" after
		// this long belonged to a node that died, and is run again (its work
		// is idempotent: see response.Worker and the notify job).
		JobTimeout:           o.RescueAfter / 2,
		RescueStuckJobsAfter: o.RescueAfter,
	}
	if workers == nil {
		cfg.Queues = nil // an insert-only client (CLI commands)
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("job runner: %w", err)
	}
	return &Runner{client: client, db: db}, nil
}

// Insert queues jobs in the caller's transaction: they exist exactly when the
// change that caused them is committed.
func (r *Runner) Insert(ctx context.Context, tx *sql.Tx, args ...river.JobArgs) error {
	if len(args) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		params[i] = river.InsertManyParams{Args: a}
	}
	if _, err := r.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	return nil
}

// Start begins working jobs until Stop or the context ends.
func (r *Runner) Start(ctx context.Context) error { return r.client.Start(ctx) }

// Stop waits for running jobs to finish (or ctx to end).
func (r *Runner) Stop(ctx context.Context) error { return r.client.Stop(ctx) }

// ReleaseOrphans makes jobs that were running when the process died
// available again at once. Only for a store with a single node (SQLite): on a
// shared store another node's running jobs look the same, and River's
// rescuer returns them after RescueStuckJobsAfter instead.
func (r *Runner) ReleaseOrphans(ctx context.Context) (int, error) {
	res, err := r.db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("release orphaned jobs: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Outstanding counts jobs not yet finished: available, running, retryable or
// scheduled. Replay and tests wait for it to reach zero.
func (r *Runner) Outstanding(ctx context.Context) (int, error) {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}

// Discarded counts jobs that failed for good.
func (r *Runner) Discarded(ctx context.Context) (int, error) {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`).Scan(&n)
	return n, err
}

// backoff doubles the delay per attempt, capped, with no jitter so that tests
// and replays are repeatable.
type backoff struct{ base, max time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	n := max(len(job.Errors), 1)
	d := time.Duration(float64(b.base) * math.Pow(2, float64(n-1)))
	if d > b.max || d <= 0 {
		d = b.max
	}
	return time.Now().Add(d)
}
