package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep/cron"
)

// SweepArgs asks for the sweep of one schedule's slot.
type SweepArgs struct {
	Schedule string    `json:"schedule"`
	Slot     time.Time `json:"slot"` // the cron time, UTC
}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "sweep_start" }

// SweepWorker starts the run of a slot, once.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	svc *Service
}

// Work implements river.Worker.
func (w *SweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	res, err := w.svc.StartSlot(ctx, job.Args.Schedule, job.Args.Slot)
	if errors.Is(err, ErrUnknownSchedule) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	w.svc.log.Info("sweep slot handled", zap.String("schedule", job.Args.Schedule),
		zap.Time("slot", job.Args.Slot), zap.String("outcome", res.Outcome), zap.Int64("job_id", job.ID),
		zap.Stringer("run_id", res.RunID))
	return nil
}

// Slot outcomes.
const (
	SlotStarted  = "started"
	SlotDisabled = "disabled"  // the schedule is disabled: nothing started
	SlotDone     = "done"      // this slot (or a later one) was already handled
	SlotNoDevice = "no-device" // the selector matched nothing; recorded, not retried
)

// SlotResult says what StartSlot did.
type SlotResult struct {
	Outcome string
	RunID   uuid.UUID // the slot's run (started now or earlier)
}

// StartSlot starts the sweep of a schedule's slot unless it is disabled or
// the slot was handled. The schedule row stays locked throughout, so two
// jobs for one slot (the periodic job and a catch-up, or a retry) start one
// run.
func (s *Service) StartSlot(ctx context.Context, name string, slot time.Time) (SlotResult, error) {
	if s.deps.Runs == nil {
		return SlotResult{}, errors.New("sweep: no run service")
	}
	var res SlotResult
	slot = slot.UTC()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var enabled bool
		var selJSON []byte
		var lastSlot, lastRunAt *time.Time
		err := tx.QueryRow(ctx, `SELECT enabled, selector, last_slot, last_run_at FROM sweep_schedules
			WHERE name = $1 FOR UPDATE`, name).Scan(&enabled, &selJSON, &lastSlot, &lastRunAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w %q", ErrUnknownSchedule, name)
		}
		if err != nil {
			return fmt.Errorf("lock schedule: %w", err)
		}
		if !enabled {
			res.Outcome = SlotDisabled
			return nil
		}
		if lastSlot != nil && !slot.After(*lastSlot) {
			res.Outcome = SlotDone
			return nil
		}
		// A previous attempt may have started the run and died before
		// recording it: a run of this schedule newer than the last one
		// recorded is that run. (last_run_at is the recorded run's own
		// created_at, so both sides come from the same clock.)
		var orphanAt time.Time
		res.RunID, orphanAt, err = runs.FirstSweepSince(ctx, tx, name, lastRunAt)
		switch {
		case err == nil:
			res.Outcome = SlotDone
			return s.recordSlot(ctx, tx, name, slot, res.RunID, orphanAt, "")
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("look for the slot's run: %w", err)
		}
		var sel runs.Selector
		if err := json.Unmarshal(selJSON, &sel); err != nil {
			return fmt.Errorf("schedule %s selector: %w", name, err)
		}
		run, err := s.deps.Runs.Start(ctx, runs.StartRequest{Kind: runs.KindSweep, RequestedBy: "schedule:" + name,
			Selector: sel, Schedule: name})
		var selErr *runs.SelectionError
		if errors.As(err, &selErr) {
			res.Outcome = SlotNoDevice
			s.log.Warn("scheduled sweep selects no device; skipped", zap.String("schedule", name), zap.Error(err))
			return s.recordSlot(ctx, tx, name, slot, uuid.Nil, time.Time{}, err.Error())
		}
		if err != nil {
			return fmt.Errorf("start sweep: %w", err)
		}
		res.Outcome, res.RunID = SlotStarted, run.ID
		return s.recordSlot(ctx, tx, name, slot, run.ID, run.CreatedAt, "")
	})
	if err != nil {
		return SlotResult{}, fmt.Errorf("schedule %s slot %s: %w", name, slot.Format(time.RFC3339), err)
	}
	if res.Outcome == SlotStarted {
		s.log.Info("scheduled sweep started", zap.String("schedule", name), zap.String("run_id", res.RunID.String()),
			zap.Time("slot", slot))
		if s.deps.Observer != nil {
			s.deps.Observer.SweepStarted(name)
		}
	}
	return res, nil
}

func (s *Service) recordSlot(ctx context.Context, tx pgx.Tx, name string, slot time.Time, runID uuid.UUID,
	runCreated time.Time, lastErr string) error {
	var id *uuid.UUID
	var at *time.Time
	if runID != uuid.Nil {
		id, at = &runID, &runCreated
	}
	_, err := tx.Exec(ctx, `UPDATE sweep_schedules SET last_slot = $2,
			last_run_id = coalesce($3, last_run_id), last_run_at = coalesce($4, last_run_at),
			last_error = $5, updated_at = $6
		WHERE name = $1`, name, slot, id, at, lastErr, s.clock.Now().UTC())
	if err != nil {
		return fmt.Errorf("record slot: %w", err)
	}
	return nil
}

// MaintenanceArgs is the leader's periodic look for missed slots and for
// finished sweeps without a report.
type MaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceArgs) Kind() string { return "sweep_maintenance" }

// MaintenanceWorker works MaintenanceArgs.
type MaintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	svc *Service
}

// Work implements river.Worker.
func (w *MaintenanceWorker) Work(ctx context.Context, job *river.Job[MaintenanceArgs]) error {
	due, err := w.svc.CatchUp(ctx)
	if err != nil {
		return err
	}
	for _, d := range due {
		w.svc.log.Info("missed sweep queued", zap.String("schedule", d.Schedule), zap.Time("slot", d.Slot))
	}
	reports, err := w.svc.ReconcileReports(ctx)
	if err != nil {
		return err
	}
	if len(reports) > 0 {
		w.svc.log.Info("finished sweeps without a report queued", zap.Int("runs", len(reports)))
	}
	return nil
}

// Due is a slot the catch-up queued.
type Due struct {
	Schedule string
	Slot     time.Time
}

// CatchUp queues the latest missed slot of each enabled schedule: the
// latest cron time at or before now, if it is after both the last handled
// slot and active_since. However many slots an outage covered, one sweep
// runs. A slot queued here and by the periodic job is one job (unique
// args), and StartSlot starts it once anyway.
func (s *Service) CatchUp(ctx context.Context) ([]Due, error) {
	now := s.clock.Now()
	rows, err := s.pool.Query(ctx, `SELECT name, cron, timezone, last_slot, active_since
		FROM sweep_schedules WHERE enabled ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	type cand struct {
		name, cron, tz string
		last           *time.Time
		since          time.Time
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.name, &c.cron, &c.tz, &c.last, &c.since); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catch-up: %w", err)
		}
		cands = append(cands, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	var due []Due
	for _, c := range cands {
		sched, err := cron.Parse(c.cron, c.tz)
		if err != nil {
			s.log.Error("stored schedule does not parse", zap.String("schedule", c.name), zap.Error(err))
			continue
		}
		slot := sched.Prev(now)
		if slot.IsZero() {
			continue
		}
		floor := c.since
		if c.last != nil && c.last.After(floor) {
			floor = *c.last
		}
		if !slot.After(floor) {
			continue
		}
		if s.deps.Queue == nil {
			return due, errors.New("sweep: no job queue")
		}
		if _, err := s.deps.Queue.Insert(ctx, SweepArgs{Schedule: c.name, Slot: slot.UTC()}, s.sweepOpts()); err != nil {
			return due, fmt.Errorf("queue missed slot of %s: %w", c.name, err)
		}
		due = append(due, Due{Schedule: c.name, Slot: slot.UTC()})
	}
	return due, nil
}

// reportGrace leaves the completing process time to queue its own report.
const reportGrace = time.Minute

// ReconcileReports queues the report of every sweep finished in the last
// week that has none yet (or whose notification was not sent).
func (s *Service) ReconcileReports(ctx context.Context) ([]uuid.UUID, error) {
	// Two reads, one of each owner's tables: the week's finished sweeps
	// (pkg/runs), less those whose report went out.
	finished, err := runs.CompletedSweeps(ctx, s.pool, s.clock.Now().Add(-reportGrace), 7)
	if err != nil {
		return nil, fmt.Errorf("find unreported sweeps: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT run_id FROM sweep_reports WHERE run_id = ANY($1) AND notified_at IS NOT NULL`, finished)
	if err != nil {
		return nil, fmt.Errorf("find unreported sweeps: %w", err)
	}
	reported, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("find unreported sweeps: %w", err)
	}
	var ids []uuid.UUID
	for _, id := range finished {
		if !slices.Contains(reported, id) {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if err := s.queueReport(ctx, id); err != nil {
			return ids, err
		}
	}
	return ids, nil
}
