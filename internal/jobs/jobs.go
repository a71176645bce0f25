// Package jobs builds fleetd's River client: the durable queue shared by
// every fleetd process on one database. Queues, worker counts, timeouts,
// rescue of jobs held by a dead process and the retry policy are set here,
// in one place, from the typed config.
package jobs

import (
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
)

// Client is fleetd's River client type.
type Client = river.Client[pgx.Tx]

// Queue names.
const (
	QueueDiagnose  = "diagnose"
	QueueRemediate = "remediate"
	QueueDefault   = river.QueueDefault // sweeps, notifications
)

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
	// Insecure test toggles.
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
	}
	if workers != nil {
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{
			QueueDiagnose:  {MaxWorkers: cfg.DiagnoseWorkers},
			QueueRemediate: {MaxWorkers: cfg.RemediateWorkers},
			QueueDefault:   {MaxWorkers: cfg.DefaultWorkers},
		}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return c, nil
}
