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
	snooze    time.Duration
}

// DefaultLeaseSnooze is how long a job whose device still has a session of
// its run open (another attempt's lease, sessionlease.go) waits before
// trying again; no attempt is consumed.
const DefaultLeaseSnooze = 10 * time.Second

// WithLeaseSnooze sets how long a job whose device's session lease another
// attempt holds is snoozed (default DefaultLeaseSnooze).
func (w *DiagnoseWorker) WithLeaseSnooze(snooze time.Duration) *DiagnoseWorker {
	if snooze > 0 {
		w.snooze = snooze
	}
	return w
}

// NewDiagnoseWorker returns the worker; timeout bounds one job (it should
// exceed the runner's per-device session deadline).
func NewDiagnoseWorker(pool *pgxpool.Pool, d Diagnoser, rec *Recorder, timeout time.Duration, log *zap.Logger) *DiagnoseWorker {
	return &DiagnoseWorker{pool: pool, diagnoser: d, recorder: rec, timeout: timeout, log: log, snooze: DefaultLeaseSnooze}
}

// Timeout implements river.Worker.
func (w *DiagnoseWorker) Timeout(*river.Job[DiagnoseArgs]) time.Duration { return w.timeout }

// Work implements river.Worker.
func (w *DiagnoseWorker) Work(ctx context.Context, job *river.Job[DiagnoseArgs]) error {
	a := job.Args
	var dev Device
	var state, runStatus string
	var leased bool
	// One round trip: the run's row, from the inventory's building block
	// where and how to reach the device, and this attempt's session lease.
	token, holder := uuid.New(), ""
	if n := len(job.AttemptedBy); n > 0 {
		holder = job.AttemptedBy[n-1] // this process's client id
	}
	jd, err := inventory.ScanJobDevice(w.pool.QueryRow(ctx, jobDeviceSQL, a.RunID, a.DeviceID, token,
		leaseInterval(w.timeout+leaseMargin), holder), &dev.Name, &dev.Site, &dev.Kind, &state, &runStatus, &leased)
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
	if !leased {
		log.Warn("a session of this run is still open on the device; waiting for it to end",
			zap.Duration("snooze", w.snooze))
		return river.JobSnooze(w.snooze)
	}
	// Held until the result is committed (the recorder clears it), or
	// given back when this attempt ends without one.
	recorded := false
	defer func() {
		if !recorded {
			w.releaseLease(a.RunID, a.DeviceID, token)
		}
	}()

	out := w.diagnoser.Diagnose(ctx, dev, a.Checks)
	if out.Transient && job.Attempt < job.MaxAttempts {
		log.Info("transient failure; River will retry", zap.String("error", out.Error))
		return fmt.Errorf("device %s: %s (attempt %d of %d)", dev.Name, out.Error, job.Attempt, job.MaxAttempts)
	}
	if err := w.recorder.Record(ctx, Result{RunID: a.RunID, DeviceID: a.DeviceID, Attempts: job.Attempt, Outcome: out}); err != nil {
		return fmt.Errorf("record result of %s: %w", dev.Name, err)
	}
	recorded = true
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
