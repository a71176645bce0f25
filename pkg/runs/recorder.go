package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// Result is one device's final result for a run.
type Result struct {
	RunID    uuid.UUID
	DeviceID uuid.UUID
	Attempts int
	Outcome
}

// RecorderConfig tunes batching and says who learns of what is recorded.
type RecorderConfig struct {
	MaxBatch int           // flush when this many results wait (default 256)
	MaxDelay time.Duration // or when the oldest has waited this long (default 100ms)
	// OnRecorded are called, in order, after each committed batch with the
	// results that were new and the runs that completed with it (metrics,
	// sweep reports). They run on the recorder's goroutine: they must not
	// block.
	OnRecorded []func(results []Result, completed []uuid.UUID)
}

// Recorder writes results in batches. Workers call Record, which returns
// once the result is committed: a job is reported complete to River only
// after its result is durable.
type Recorder struct {
	pool *pgxpool.Pool
	log  *zap.Logger
	cfg  RecorderConfig
	in   chan *pendingResult
}

type pendingResult struct {
	res  Result
	done chan error
}

// NewRecorder returns a Recorder; call Run to start it.
func NewRecorder(pool *pgxpool.Pool, cfg RecorderConfig, log *zap.Logger) *Recorder {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 100 * time.Millisecond
	}
	return &Recorder{pool: pool, log: log, cfg: cfg, in: make(chan *pendingResult, cfg.MaxBatch*4)}
}

// Record queues a result and waits until it is committed or ctx ends.
func (r *Recorder) Record(ctx context.Context, res Result) error {
	p := &pendingResult{res: res, done: make(chan error, 1)}
	select {
	case r.in <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The write may still land; a retried job will then find the
		// device done and skip it.
		return ctx.Err()
	}
}

// Run flushes batches until ctx ends; it then fails the waiters still
// queued (their jobs are retried by River) and returns.
func (r *Recorder) Run(ctx context.Context) {
	var batch []*pendingResult
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, p := range batch {
				p.done <- ctx.Err()
			}
			for {
				select {
				case p := <-r.in:
					p.done <- ctx.Err()
				default:
					return
				}
			}
		case p := <-r.in:
			if len(batch) == 0 {
				timer.Reset(r.cfg.MaxDelay)
			}
			batch = append(batch, p)
			if len(batch) < r.cfg.MaxBatch {
				continue
			}
			timer.Stop()
		case <-timer.C:
		}
		if len(batch) == 0 {
			continue
		}
		// Take whatever else is already waiting, up to the batch size.
	drain:
		for len(batch) < r.cfg.MaxBatch {
			select {
			case p := <-r.in:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		err := r.flushWithRetry(ctx, batch)
		for _, p := range batch {
			p.done <- err
		}
		batch = batch[:0]
	}
}

// flushWithRetry keeps trying through a database outage (PostgreSQL
// restarting): results wait in memory, their workers wait with them.
func (r *Recorder) flushWithRetry(ctx context.Context, batch []*pendingResult) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.flush(ctx, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.Warn("writing results failed; retrying", zap.Int("results", len(batch)),
			zap.Int("attempt", attempt), zap.Error(err))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

type resultRow struct {
	RunID       uuid.UUID       `json:"run_id"`
	DeviceID    uuid.UUID       `json:"device_id"`
	Health      string          `json:"health"`
	Diagnoses   []string        `json:"diagnoses"`
	Recommended string          `json:"recommended"`
	Error       string          `json:"error"`
	Checks      json.RawMessage `json:"checks"`
	Attempts    int             `json:"attempts"`
	StartedAt   time.Time       `json:"started_at"`
	FinishedAt  time.Time       `json:"finished_at"`
	Transcript  string          `json:"transcript"`
	SWVersion   string          `json:"sw_version"`
	LongestMS   int64           `json:"longest_command_ms"`
}

// recordSQL writes a batch of results in one statement. The latest status
// is written only for devices still in the inventory (device_status
// references devices: a device deleted during its run would fail the batch).
var recordSQL = `
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
        run_id uuid, device_id uuid, health text, diagnoses text[], recommended text, error text,
        checks jsonb, attempts int, started_at timestamptz, finished_at timestamptz, sw_version text,
        longest_command_ms int)
), target AS MATERIALIZED (
    -- Each result's pending row, found by a primary-key probe per result
    -- (fenced: OFFSET 0, MATERIALIZED) and updated by its ctid. Left to
    -- itself the planner may drive the update from run_devices: statistics
    -- taken while no run was in progress say no row is pending, so it
    -- planned a scan of run_devices with this batch's jsonb_to_recordset
    -- re-run for every pending row, 0.2-0.9 s a batch (auto_explain, issue
    -- 15; TestHotStatementsProbeByKeyWhateverTheStatistics).
    SELECT i.*, t.tid, 'pending'::text AS pending FROM input i CROSS JOIN LATERAL (SELECT ctid AS tid FROM run_devices
        WHERE run_id = i.run_id AND device_id = i.device_id AND state = 'pending' OFFSET 0) t
), upd AS (
    UPDATE run_devices rd SET state = 'done', health = i.health, diagnoses = coalesce(i.diagnoses, '{}'),
        recommended = i.recommended, error = i.error, checks = coalesce(i.checks, '[]'), attempts = i.attempts,
        started_at = i.started_at, finished_at = i.finished_at, sw_version = coalesce(i.sw_version, ''),
        longest_command_ms = i.longest_command_ms
    FROM target i
    -- The state guard is a join clause (i.pending), not a constant: as
    -- "rd.state = 'pending'" the same statistics still made the planner scan
    -- run_devices for the update. Rechecked on a concurrent update, as is
    -- the ctid (a row recorded meanwhile has moved).
    WHERE rd.ctid = i.tid AND rd.run_id = i.run_id AND rd.device_id = i.device_id AND rd.state = i.pending
    RETURNING rd.run_id, rd.device_id, rd.health, rd.diagnoses, rd.recommended, rd.error, rd.finished_at
), leases AS (
    -- The session is over: its lease (sessionlease.go) goes.
    DELETE FROM run_leases l USING upd u WHERE l.run_id = u.run_id AND l.device_id = u.device_id
), status AS (
    INSERT INTO device_status AS s (device_id, run_id, health, diagnoses, recommended, error, checked_at)
    SELECT DISTINCT ON (u.device_id) u.device_id, u.run_id, u.health, u.diagnoses, u.recommended, u.error, u.finished_at
    FROM upd u WHERE ` + inventory.DeviceExistsSQL("u.device_id") + `
    ORDER BY u.device_id, u.finished_at DESC
    ON CONFLICT (device_id) DO UPDATE SET run_id = EXCLUDED.run_id, health = EXCLUDED.health,
        diagnoses = EXCLUDED.diagnoses, recommended = EXCLUDED.recommended, error = EXCLUDED.error,
        checked_at = EXCLUDED.checked_at
    WHERE s.checked_at <= EXCLUDED.checked_at
), counts AS (
    SELECT run_id, count(*) AS n,
        count(*) FILTER (WHERE health = 'healthy') AS healthy,
        count(*) FILTER (WHERE health = 'unhealthy') AS unhealthy,
        count(*) FILTER (WHERE health = 'error') AS errors
    FROM upd GROUP BY run_id
), runs_upd AS (
    UPDATE runs r SET done = r.done + c.n, healthy = r.healthy + c.healthy,
        unhealthy = r.unhealthy + c.unhealthy, errors = r.errors + c.errors,
        started_at = coalesce(r.started_at, now()),
        status = CASE WHEN r.status = 'cancelled' THEN r.status
                      WHEN r.done + c.n >= r.total THEN 'completed' ELSE 'running' END,
        finished_at = CASE WHEN r.done + c.n >= r.total THEN now() ELSE r.finished_at END
    FROM counts c WHERE r.id = c.run_id
    RETURNING r.id, r.status
)
SELECT 'device' AS what, run_id, device_id FROM upd
UNION ALL
SELECT 'completed', id, NULL FROM runs_upd WHERE status = 'completed'`

func (r *Recorder) flush(ctx context.Context, batch []*pendingResult) error {
	rows := make([]resultRow, len(batch))
	byKey := make(map[[2]uuid.UUID]Result, len(batch))
	var transcripts [][]any
	for i, p := range batch {
		res := p.res
		rows[i] = resultRow{RunID: res.RunID, DeviceID: res.DeviceID, Health: res.Health,
			Diagnoses: res.Diagnoses, Recommended: res.Recommended, Error: res.Error, Checks: res.Checks,
			Attempts: res.Attempts, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt, SWVersion: res.SWVersion,
			LongestMS: res.LongestCommand.Milliseconds()}
		if rows[i].Diagnoses == nil {
			rows[i].Diagnoses = []string{}
		}
		if len(rows[i].Checks) == 0 {
			rows[i].Checks = json.RawMessage("[]")
		}
		if rows[i].FinishedAt.IsZero() {
			rows[i].FinishedAt = time.Now().UTC()
		}
		if rows[i].StartedAt.IsZero() {
			rows[i].StartedAt = rows[i].FinishedAt
		}
		byKey[[2]uuid.UUID{res.RunID, res.DeviceID}] = res
	}
	payload, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	var recorded []Result
	var completed []uuid.UUID
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		recorded, completed = recorded[:0], completed[:0]
		rs, err := tx.Query(ctx, recordSQL, payload)
		if err != nil {
			return err
		}
		for rs.Next() {
			var what string
			var runID uuid.UUID
			var deviceID *uuid.UUID
			if err := rs.Scan(&what, &runID, &deviceID); err != nil {
				return err
			}
			if what == "completed" {
				completed = append(completed, runID)
				continue
			}
			res := byKey[[2]uuid.UUID{runID, *deviceID}]
			recorded = append(recorded, res)
			if res.Transcript != "" {
				transcripts = append(transcripts, []any{runID, *deviceID, res.Transcript})
			}
		}
		if err := rs.Err(); err != nil {
			return err
		}
		if len(transcripts) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"run_transcripts"},
				[]string{"run_id", "device_id", "transcript"}, pgx.CopyFromRows(transcripts)); err != nil {
				return fmt.Errorf("store transcripts: %w", err)
			}
		}
		return nil
	})
	transcripts = nil
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("record %d results: %w", len(batch), err)
	}
	for _, id := range completed {
		r.log.Info("run completed", zap.String("run_id", id.String()))
	}
	if len(recorded) > 0 || len(completed) > 0 {
		for _, fn := range r.cfg.OnRecorded {
			fn(recorded, completed)
		}
	}
	return nil
}
