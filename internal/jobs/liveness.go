package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// LivenessConfig tunes Liveness.
type LivenessConfig struct {
	ClientID string
	// Interval between heartbeats (default 5s).
	Interval time.Duration
	// DeadAfter: a replica whose last heartbeat is older is dead (default
	// 30s; at least 3 intervals).
	DeadAfter time.Duration
	// Queues whose running jobs of a dead replica are released. Only queues
	// whose jobs are safe to run again belong here (diagnose: a device's
	// result is recorded once, and the checks only read).
	Queues []string
}

func (c *LivenessConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.DeadAfter < 3*c.Interval {
		c.DeadAfter = max(30*time.Second, 3*c.Interval)
	}
}

// Liveness writes this process's heartbeat and releases the running jobs of
// replicas that stopped beating (a SIGKILL, a lost machine), so that the
// live replicas finish a sweep within seconds of a crash. River's own rescue
// of stuck jobs remains the backstop for everything else.
//
// A database outage stops everyone's heartbeats at once. So that a replica
// that was merely cut off is not declared dead when the database returns,
// a process releases others' jobs only after its own heartbeats have
// succeeded without a gap for DeadAfter: by then every live replica has
// written a fresh heartbeat too.
type Liveness struct {
	pool *pgxpool.Pool
	cfg  LivenessConfig
	log  *zap.Logger

	healthySince time.Time // start of our current run of successful heartbeats
	lastOK       time.Time
}

// NewLiveness returns a Liveness; Run starts it.
func NewLiveness(pool *pgxpool.Pool, cfg LivenessConfig, log *zap.Logger) *Liveness {
	cfg.defaults()
	return &Liveness{pool: pool, cfg: cfg, log: log}
}

// Run beats until ctx ends, then removes this process's row (a clean stop
// is not a death).
func (l *Liveness) Run(ctx context.Context) {
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := l.RunOnce(ctx, time.Now()); err != nil && ctx.Err() == nil {
			l.log.Warn("replica heartbeat failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = l.pool.Exec(dctx, `DELETE FROM fleetd_replicas WHERE client_id = $1`, l.cfg.ClientID)
			cancel()
			return
		case <-t.C:
		}
	}
}

// RunOnce writes one heartbeat and, if this process has been healthy long
// enough, releases the jobs of dead replicas. It returns how many jobs it
// released.
func (l *Liveness) RunOnce(ctx context.Context, now time.Time) (int64, error) {
	if l.cfg.ClientID == "" {
		return 0, nil
	}
	if _, err := l.pool.Exec(ctx, `INSERT INTO fleetd_replicas (client_id, last_seen) VALUES ($1, now())
		ON CONFLICT (client_id) DO UPDATE SET last_seen = now()`, l.cfg.ClientID); err != nil {
		l.healthySince = time.Time{}
		return 0, fmt.Errorf("heartbeat: %w", err)
	}
	// A gap longer than a few intervals (an outage, a stalled process)
	// starts the healthy period again.
	if l.healthySince.IsZero() || now.Sub(l.lastOK) > 2*l.cfg.Interval {
		l.healthySince = now
	}
	l.lastOK = now
	if now.Sub(l.healthySince) < l.cfg.DeadAfter {
		return 0, nil
	}
	tag, err := l.pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND queue = ANY($1)
		  AND attempted_by[array_length(attempted_by, 1)] IN (
		      SELECT client_id FROM fleetd_replicas
		      WHERE client_id <> $2 AND last_seen < now() - make_interval(secs => $3))`,
		l.cfg.Queues, l.cfg.ClientID, l.cfg.DeadAfter.Seconds())
	if err != nil {
		return 0, fmt.Errorf("release jobs of dead replicas: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		l.log.Warn("released the running jobs of a replica that stopped beating; live workers take them",
			zap.Int64("jobs", n), zap.Duration("dead_after", l.cfg.DeadAfter))
		return n, nil
	}
	// Forget replicas dead for long (their jobs, if any, are River's now).
	_, _ = l.pool.Exec(ctx, `DELETE FROM fleetd_replicas WHERE last_seen < now() - interval '1 day'`)
	return 0, nil
}
