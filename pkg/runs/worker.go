package runs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// DiagnoseArgs is the River job of one device in one run.
type DiagnoseArgs struct {
	RunID    uuid.UUID `json:"run_id"`
	DeviceID uuid.UUID `json:"device_id"`
	Checks   []string  `json:"checks,omitempty"`
}

// Kind implements river.JobArgs.
func (DiagnoseArgs) Kind() string { return "diagnose_device" }

// Diagnoser runs the checks on one device. It never returns an error: a
// device that could not be checked is an Outcome with health "error".
type Diagnoser interface {
	Diagnose(ctx context.Context, dev Device, checks []string) Outcome
}

// DiagnoseWorker executes DiagnoseArgs jobs.
type DiagnoseWorker struct {
	river.WorkerDefaults[DiagnoseArgs]
	pool      *pgxpool.Pool
	diagnoser Diagnoser
	recorder  *Recorder
	timeout   time.Duration
	log       *zap.Logger
	locks     *SessionLocks
	snooze    time.Duration
}

// WithSessionLocks makes the worker take the (run, device) lock before a
// session: a job whose device still has a session of the same run open
// (the first attempt of a rescued or released job) is snoozed for snooze
// (no attempt consumed) instead of opening a second one.
func (w *DiagnoseWorker) WithSessionLocks(l *SessionLocks, snooze time.Duration) *DiagnoseWorker {
	if snooze <= 0 {
		snooze = 10 * time.Second
	}
	w.locks, w.snooze = l, snooze
	return w
}

// NewDiagnoseWorker returns the worker; timeout bounds one job (it should
// exceed the runner's per-device session deadline).
func NewDiagnoseWorker(pool *pgxpool.Pool, d Diagnoser, rec *Recorder, timeout time.Duration, log *zap.Logger) *DiagnoseWorker {
	return &DiagnoseWorker{pool: pool, diagnoser: d, recorder: rec, timeout: timeout, log: log}
}

// jobDeviceSQL loads a device job's run row and device in one query.
var jobDeviceSQL = func() string {
	cols, joins := inventory.JobDeviceSQL("d", "rd.device_id")
	return `SELECT rd.device, rd.site, rd.kind, rd.state, r.status, ` + cols + `
		FROM run_devices rd JOIN runs r ON r.id = rd.run_id
		` + joins + `
		WHERE rd.run_id = $1 AND rd.device_id = $2`
}()

// Timeout implements river.Worker.
func (w *DiagnoseWorker) Timeout(*river.Job[DiagnoseArgs]) time.Duration { return w.timeout }

// Work implements river.Worker.
func (w *DiagnoseWorker) Work(ctx context.Context, job *river.Job[DiagnoseArgs]) error {
	a := job.Args
	if w.locks != nil {
		// Taken before the device's state is read: a copy that waited on
		// it then finds the first attempt's result committed.
		unlock, ok, err := w.locks.TryLock(ctx, a.RunID, a.DeviceID)
		if err != nil {
			return fmt.Errorf("run %s device %s: %w", a.RunID, a.DeviceID, err)
		}
		if !ok {
			w.log.Warn("a session of this run is still open on the device; waiting for it to end",
				zap.String("run_id", a.RunID.String()), zap.String("device_id", a.DeviceID.String()),
				zap.Int64("job_id", job.ID), zap.Duration("snooze", w.snooze))
			return river.JobSnooze(w.snooze)
		}
		// Held until the result is committed (Record waits for it).
		defer unlock()
	}
	var dev Device
	var state, runStatus string
	// One round trip: the run's row and, from the inventory's building
	// block, where and how to reach the device.
	jd, err := inventory.ScanJobDevice(w.pool.QueryRow(ctx, jobDeviceSQL, a.RunID, a.DeviceID),
		&dev.Name, &dev.Site, &dev.Kind, &state, &runStatus)
	dev.Address, dev.Credential, dev.Tags, dev.PinnedHostKey = jd.Address, jd.Credential, jd.Tags, jd.PinnedHostKey
	if errors.Is(err, pgx.ErrNoRows) {
		// The run was deleted: nothing to do, and nothing to retry.
		return river.JobCancel(fmt.Errorf("run %s device %s no longer exists", a.RunID, a.DeviceID))
	}
	if err != nil {
		return fmt.Errorf("load job device: %w", err)
	}
	dev.ID = a.DeviceID
	log := w.log.With(zap.String("run_id", a.RunID.String()), zap.String("device", dev.Name),
		zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
	if state == "done" {
		// A rescued or retried job whose result is already recorded.
		log.Info("device result already recorded; skipping")
		return nil
	}
	if runStatus == StatusCancelled {
		return nil
	}

	out := w.diagnoser.Diagnose(ctx, dev, a.Checks)
	if out.Transient && job.Attempt < job.MaxAttempts {
		log.Info("transient failure; River will retry", zap.String("error", out.Error))
		return fmt.Errorf("device %s: %s (attempt %d of %d)", dev.Name, out.Error, job.Attempt, job.MaxAttempts)
	}
	if err := w.recorder.Record(ctx, Result{RunID: a.RunID, DeviceID: a.DeviceID, Attempts: job.Attempt, Outcome: out}); err != nil {
		return fmt.Errorf("record result of %s: %w", dev.Name, err)
	}
	return nil
}

// RetryPolicy retries transient device failures after a fixed delay plus a
// little jitter (River's default grows as attempt^4 seconds, too slow for an
// interactive diagnose).
type RetryPolicy struct{ Delay time.Duration }

// DefaultRetryDelay is RetryPolicy's Delay when unset; it is
// jobs.retry_delay's default in fleetd's config file (a test in
// internal/app holds the two together).
const DefaultRetryDelay = 2 * time.Second

// NextRetry implements river.ClientRetryPolicy.
func (p RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.Delay
	if d <= 0 {
		d = DefaultRetryDelay
	}
	jitter := time.Duration(job.ID%10) * d / 20
	return time.Now().Add(d*time.Duration(max(job.Attempt, 1)) + jitter)
}
