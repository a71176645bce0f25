package remediate

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/queues"
)

// ExpireArgs is the periodic job that expires unapproved requests past
// their TTL. Expiry also happens on every read and approval; this job makes
// the expired state (and its audit event) appear on time when nobody looks.
type ExpireArgs struct{}

// Kind implements river.JobArgs.
func (ExpireArgs) Kind() string { return "remediation_expire" }

// ExpireWorker runs ExpireArgs. It needs no River client, so it can be
// registered before the client (and the Service) exist.
type ExpireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	pool  *pgxpool.Pool
	clock Clock
	log   *zap.Logger
}

// NewExpireWorker returns the worker; clock nil means the system clock.
func NewExpireWorker(pool *pgxpool.Pool, clock Clock, log *zap.Logger) *ExpireWorker {
	if clock == nil {
		clock = SystemClock{}
	}
	return &ExpireWorker{pool: pool, clock: clock, log: log}
}

// Work implements river.Worker.
func (w *ExpireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	_, err := expireDue(ctx, w.pool, w.clock, w.log)
	return err
}

// ExpirePeriodicJob runs ExpireArgs every interval (on the elected leader).
func ExpirePeriodicJob(interval time.Duration) *river.PeriodicJob {
	if interval <= 0 {
		interval = time.Minute
	}
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return ExpireArgs{}, &river.InsertOpts{Queue: queues.Default, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true})
}

// Register adds the remediation workers (the request executor and the
// expiry sweeper) to a River worker set; pair it with ExpirePeriodicJob in
// the client's PeriodicJobs.
func Register(workers *river.Workers, w *Worker) {
	river.AddWorker(workers, w)
	river.AddWorker(workers, NewExpireWorker(w.pool, w.clock, w.log))
}

// OpenRequestsSQL is a query of the ids of the requests not yet finished
// (pending approval, approved, scheduled or running), for another package's
// query that must keep what they depend on (pkg/runs' retention, through
// pkg/sweep's reports).
func OpenRequestsSQL() string {
	return `SELECT id FROM remediation_requests WHERE state IN ('pending', 'approved', 'scheduled', 'running')`
}
