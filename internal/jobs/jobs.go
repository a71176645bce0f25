// Package jobs builds fleetd's River client: the durable queue shared by
// every fleetd process on one database. Queues, worker counts, timeouts,
// rescue of jobs held by a dead process and the retry policy are set here,
// in one place, from the typed config.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"

	"github.com/fleetd/fleetd/pkg/queues"
)

// Client is fleetd's River client type.
type Client = river.Client[pgx.Tx]

// Config tunes the queue.
type Config struct {
	// DiagnoseWorkers is how many device jobs one process runs at once; the
	// runner's own limits (global, per site, start rate) still apply.
	DiagnoseWorkers  int
	RemediateWorkers int
	DefaultWorkers   int
	// JobTimeout bounds a job; it must exceed the runner's session deadline.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay "running" before River
	// assumes its process died and makes it available again.
	RescueAfter       time.Duration
	FetchPollInterval time.Duration
	RetryPolicy       river.ClientRetryPolicy
	PeriodicJobs      []*river.PeriodicJob
	// ClientID identifies this fleetd process to River. It must be unique
	// among running processes and stable across restarts of the same one
	// (internal/app derives it from the host name and the API address), so
	// that a restarted process can take back at once the jobs its previous
	// incarnation held when it died: see ReleaseOrphans.
	ClientID string
	TestOnly bool
}

func (c *Config) defaults() {
	if c.DiagnoseWorkers <= 0 {
		c.DiagnoseWorkers = 200
	}
	if c.RemediateWorkers <= 0 {
		c.RemediateWorkers = 20
	}
	if c.DefaultWorkers <= 0 {
		c.DefaultWorkers = 10
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 5 * time.Minute
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + time.Minute
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = 500 * time.Millisecond
	}
}

// NewClient returns a River client that works the given workers. A client
// with nil workers can only insert.
func NewClient(pool *pgxpool.Pool, workers *river.Workers, cfg Config, log *zap.Logger) (*Client, error) {
	cfg.defaults()
	rc := &river.Config{
		Logger:               slog.New(zapslog.NewHandler(log.Named("river").WithOptions(zap.IncreaseLevel(zapcore.WarnLevel)).Core())),
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        50 * time.Millisecond,
		RetryPolicy:          cfg.RetryPolicy,
		PeriodicJobs:         cfg.PeriodicJobs,
		TestOnly:             cfg.TestOnly,
		ID:                   cfg.ClientID,
	}
	if workers != nil {
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{
			queues.Diagnose:  {MaxWorkers: cfg.DiagnoseWorkers},
			queues.Remediate: {MaxWorkers: cfg.RemediateWorkers},
			queues.Default:   {MaxWorkers: cfg.DefaultWorkers}, // sweeps, notifications
		}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return c, nil
}

// ReleaseOrphans makes the jobs that a previous incarnation of this process
// (same ClientID) was running when it died available again right away.
// Without it they wait for River's rescuer (RescueAfter, checked every 30 s).
// Call it before Start: nothing of this process runs yet, so every running
// job attributed to clientID is an orphan. Jobs are idempotent (a device
// result is recorded once; remediation resumes from its journal), so a
// job released here that had in fact completed its work is harmless.
func ReleaseOrphans(ctx context.Context, pool *pgxpool.Pool, clientID string) (int64, error) {
	if clientID == "" {
		return 0, nil
	}
	tag, err := pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`, clientID)
	if err != nil {
		return 0, fmt.Errorf("release jobs of a previous run of %s: %w", clientID, err)
	}
	return tag.RowsAffected(), nil
}
