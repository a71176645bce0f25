package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// Reaper gives a final result to devices whose job River gave up on
// (discarded after its last attempt, or cancelled) before a result was
// recorded — a job interrupted by a shutdown on its last attempt, say.
// Without it such a run would wait forever for a device nobody works on.
// Every fleetd runs it; the Recorder's pending guard makes overlaps harmless.
type Reaper struct {
	pool     *pgxpool.Pool
	recorder *Recorder
	log      *zap.Logger
	interval time.Duration
}

// NewReaper returns a Reaper that looks every interval (default 30s).
func NewReaper(pool *pgxpool.Pool, rec *Recorder, interval time.Duration, log *zap.Logger) *Reaper {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	return &Reaper{pool: pool, recorder: rec, log: log, interval: interval}
}

// Run looks until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if n, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("looking for abandoned device jobs failed", zap.Error(err))
		} else if n > 0 {
			r.log.Warn("recorded an error result for devices whose job gave up", zap.Int("devices", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce records a result for every pending device of a run whose job is
// discarded or cancelled, and returns how many it recorded.
func (r *Reaper) RunOnce(ctx context.Context) (int, error) {
	rows, err := r.pool.Query(ctx, `
		SELECT rd.run_id, rd.device_id, j.state, j.attempt + coalesce((j.args->>'prior_attempts')::int, 0),
			coalesce(j.errors[array_length(j.errors, 1)]->>'error', '')
		FROM river_job j
		CROSS JOIN LATERAL (SELECT (j.args->>'device_id')::uuid AS id WHERE j.args ? 'device_id'
			UNION ALL SELECT x::uuid FROM jsonb_array_elements_text(j.args->'device_ids') AS x) ids
		JOIN run_devices rd ON rd.run_id = (j.args->>'run_id')::uuid AND rd.device_id = ids.id
		WHERE j.kind = $1 AND j.state IN ('discarded', 'cancelled') AND rd.state = 'pending'
			-- A device of a batch whose retry was handed on to a job of its
			-- own has that job still to come.
			AND NOT EXISTS (SELECT 1 FROM river_job k WHERE k.kind = $1
				AND k.args @> jsonb_build_object('run_id', rd.run_id, 'device_id', rd.device_id)
				AND k.state NOT IN ('discarded', 'cancelled', 'completed'))
		LIMIT 1000`, DiagnoseArgs{}.Kind())
	if err != nil {
		return 0, fmt.Errorf("abandoned device jobs: %w", err)
	}
	type lost struct {
		run, device uuid.UUID
		state       string
		attempt     int
		lastErr     string
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lost, error) {
		var l lost
		return l, row.Scan(&l.run, &l.device, &l.state, &l.attempt, &l.lastErr)
	})
	if err != nil {
		return 0, fmt.Errorf("abandoned device jobs: %w", err)
	}
	now := time.Now().UTC()
	for _, l := range found {
		msg := fmt.Sprintf("job %s after %d attempt(s)", l.state, l.attempt)
		if l.lastErr != "" {
			msg += ": " + l.lastErr
		}
		err := r.recorder.Record(ctx, Result{RunID: l.run, DeviceID: l.device, Attempts: l.attempt, Outcome: Outcome{
			// The worker only hands a job back to River for a transient
			// failure (the device unreachable) or a lost database write.
			Health: HealthError, Diagnoses: []string{"unreachable"}, Error: msg, StartedAt: now, FinishedAt: now}})
		if err != nil {
			return 0, err
		}
	}
	return len(found), nil
}
