package runs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/queues"
)

// Retention (config retention.*): how long finished runs and their
// transcripts are kept. The history grows by about 2.3 kB of results and
// 4 kB of transcript per device per run (docs/benchmarks.md, P4): 10,000
// devices swept nightly add 64 MB a night, 23 GB a year. The defaults keep
// a quarter of a year of results, which is what a trend or an audit of
// "when did this device start failing" looks at, and two weeks of
// transcripts, which are read to debug a recent run and are two thirds of
// the bytes.
const (
	DefaultRetainRuns        = 90 * 24 * time.Hour
	DefaultRetainTranscripts = 14 * 24 * time.Hour
	// MinRetainRuns is the shortest retention.runs: a finished sweep's
	// report is caught up for up to 7 days (pkg/sweep), and it needs its run.
	MinRetainRuns = 7 * 24 * time.Hour
	// DefaultRetentionInterval is how often the periodic job prunes.
	DefaultRetentionInterval = time.Hour
)

// RetentionConfig says what the pruner keeps.
type RetentionConfig struct {
	Runs        time.Duration // finished runs older than this are deleted (0: default; negative: never)
	Transcripts time.Duration // transcripts of runs finished longer ago are deleted (0: default; negative: never)
	// Keep are SQL queries, each returning a column of run ids that must be
	// kept whatever their age: another package's building block naming its
	// own tables (pkg/sweep's runs a report or an open remediation request
	// still needs). Their transcripts are kept too.
	Keep []string
}

// WithDefaults fills zero fields.
func (c RetentionConfig) WithDefaults() RetentionConfig {
	if c.Runs == 0 {
		c.Runs = DefaultRetainRuns
	}
	if c.Transcripts == 0 {
		c.Transcripts = DefaultRetainTranscripts
	}
	return c
}

// Pruner deletes what RetentionConfig no longer keeps. It never deletes a
// run that is queued or running, the two latest completed runs of each kind,
// selector and checks (the next sweep's diff compares with the latest), a
// run some device's latest status comes from, nor a run a Keep query
// returns.
type Pruner struct {
	pool *pgxpool.Pool
	cfg  RetentionConfig
	log  *zap.Logger
}

// NewPruner returns a Pruner.
func NewPruner(pool *pgxpool.Pool, cfg RetentionConfig, log *zap.Logger) *Pruner {
	return &Pruner{pool: pool, cfg: cfg.WithDefaults(), log: log}
}

// PruneStats is what one Prune deleted.
type PruneStats struct {
	Runs        int // runs deleted with their results, transcripts and reports
	Transcripts int // runs whose transcripts alone were deleted
	// Busy is true when another process held the pruning lock: it is
	// pruning, this one did nothing.
	Busy bool
}

// pruneLock is the advisory lock key of pruning ("runs-prune" in ASCII):
// each batch's transaction holds it, so two replicas never prune at once.
const pruneLock = 0x72756e732d707275

// protectedSQL is a query of the ids of runs never pruned: in progress;
// the two latest completed of each kind, selector and checks (a finished
// sweep whose report is not written yet diffs against the one before it);
// the runs of the devices' latest status; and the Keep queries' (NULLs
// left out: one would make NOT IN match nothing).
func (p *Pruner) protectedSQL() string {
	parts := []string{
		`SELECT id FROM runs WHERE status IN ('queued', 'running')`,
		`SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY kind, selector, checks ORDER BY created_at DESC) AS n
			FROM runs WHERE status = 'completed') latest WHERE n <= 2`,
		`SELECT run_id FROM device_status`,
	}
	for _, k := range p.cfg.Keep {
		parts = append(parts, `SELECT * FROM (`+k+`) k`)
	}
	return `SELECT id FROM (` + strings.Join(parts, "\nUNION\n") + `) protected (id) WHERE id IS NOT NULL`
}

// Prune deletes, one run per transaction (a run of 10,000 devices is
// 10,000 result and transcript rows; short transactions keep the workers'
// writes flowing), the runs finished before now - Runs and then the
// transcripts of runs finished before now - Transcripts, oldest first.
func (p *Pruner) Prune(ctx context.Context, now time.Time) (PruneStats, error) {
	var st PruneStats
	steps := []struct {
		age   time.Duration
		count *int
		sql   string
	}{
		{p.cfg.Runs, &st.Runs, `DELETE FROM runs WHERE id = (
			SELECT id FROM runs WHERE status IN ('completed', 'cancelled') AND coalesce(finished_at, created_at) < $1
			  AND id NOT IN (` + p.protectedSQL() + `)
			ORDER BY created_at LIMIT 1) RETURNING id`},
		{p.cfg.Transcripts, &st.Transcripts, `WITH victim AS (
			SELECT id FROM runs r WHERE status IN ('completed', 'cancelled') AND coalesce(finished_at, created_at) < $1
			  AND EXISTS (SELECT 1 FROM run_transcripts t WHERE t.run_id = r.id)
			  AND id NOT IN (` + p.protectedSQL() + `)
			ORDER BY created_at LIMIT 1
		), del AS (DELETE FROM run_transcripts WHERE run_id = (SELECT id FROM victim))
		SELECT id FROM victim`},
	}
	// Leases long expired: their process died before its result (the
	// recorder deletes the others). Never a live one.
	if _, err := p.pool.Exec(ctx, `DELETE FROM run_leases WHERE until < $1`, now.Add(-time.Hour)); err != nil {
		return st, fmt.Errorf("prune expired session leases: %w", err)
	}
	for _, s := range steps {
		if s.age < 0 {
			continue
		}
		cutoff := now.Add(-s.age)
		for {
			done, busy, err := p.pruneOne(ctx, s.sql, cutoff)
			if err != nil {
				return st, err
			}
			if busy {
				st.Busy = true
				return st, nil
			}
			if !done {
				break
			}
			*s.count++
		}
	}
	return st, nil
}

// pruneOne runs one deletion under the pruning lock; done says whether
// it found something to delete.
func (p *Pruner) pruneOne(ctx context.Context, sql string, cutoff time.Time) (done, busy bool, err error) {
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(pruneLock)).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			busy = true
			return nil
		}
		rows, err := tx.Query(ctx, sql, cutoff)
		if err != nil {
			return err
		}
		done = rows.Next()
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return false, false, fmt.Errorf("prune runs: %w", err)
	}
	return done, busy, nil
}

// RetentionArgs is the periodic job that prunes.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "runs_retention" }

// RetentionWorker runs RetentionArgs.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	pruner *Pruner
	log    *zap.Logger
}

// NewRetentionWorker returns the worker.
func NewRetentionWorker(p *Pruner, log *zap.Logger) *RetentionWorker {
	return &RetentionWorker{pruner: p, log: log}
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	st, err := w.pruner.Prune(ctx, time.Now())
	if err != nil {
		return err
	}
	if st.Runs > 0 || st.Transcripts > 0 {
		w.log.Info("pruned history", zap.Int("runs", st.Runs), zap.Int("transcripts_of_runs", st.Transcripts))
	}
	return nil
}

// Timeout implements river.Worker: the first prune of a long history
// deletes many runs.
func (w *RetentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return time.Hour }

// RetentionPeriodicJob enqueues RetentionArgs every interval, on the elected
// leader only; a job enqueued twice around a change of leader is harmless
// (the second waits for nothing: it finds the lock taken or nothing left).
func RetentionPeriodicJob(interval time.Duration) *river.PeriodicJob {
	if interval <= 0 {
		interval = DefaultRetentionInterval
	}
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return RetentionArgs{}, &river.InsertOpts{Queue: queues.Default, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true, ID: "runs_retention"})
}
