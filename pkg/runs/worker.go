package runs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/queues"
)

// DiagnoseArgs is the River job of some devices of one run: a batch
// (DeviceIDs, Service.WithDeviceBatch), or one device (DeviceID: a run of
// one, the retry of a device a batch handed on, or a job an older fleetd
// queued).
type DiagnoseArgs struct {
	RunID     uuid.UUID   `json:"run_id"`
	DeviceID  uuid.UUID   `json:"device_id,omitzero"`
	DeviceIDs []uuid.UUID `json:"device_ids,omitempty"`
	Checks    []string    `json:"checks,omitempty"`
	// PriorAttempts is how many sessions the device had before this job
	// (in the batch that handed it on): its attempt number is this plus
	// the job's.
	PriorAttempts int `json:"prior_attempts,omitempty"`
}

// devices is the job's device ids, in the order they were enqueued.
func (a DiagnoseArgs) devices() []uuid.UUID {
	if len(a.DeviceIDs) > 0 {
		return a.DeviceIDs
	}
	return []uuid.UUID{a.DeviceID}
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
	pool       *pgxpool.Pool
	diagnoser  Diagnoser
	recorder   *Recorder
	timeout    time.Duration
	log        *zap.Logger
	snooze     time.Duration
	retryDelay time.Duration
}

// WithRetryDelay sets the delay before the retry of a batch's device that
// failed transiently, as RetryPolicy's Delay (jobs.retry_delay).
func (w *DiagnoseWorker) WithRetryDelay(d time.Duration) *DiagnoseWorker {
	w.retryDelay = d
	return w
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

// Work implements river.Worker. The job's devices are loaded, and their
// session leases taken, in one statement; each pending device it got the
// lease of has its session at once (the worker count keeps batches ×
// devices within runner.max_concurrent), and the job ends when all have.
// A device whose lease another attempt holds waits for the job's next
// try (snoozed: no attempt used); one recorded already is skipped.
func (w *DiagnoseWorker) Work(ctx context.Context, job *river.Job[DiagnoseArgs]) error {
	a := job.Args
	token, holder := uuid.New(), ""
	if n := len(job.AttemptedBy); n > 0 {
		holder = job.AttemptedBy[n-1] // this process's client id
	}
	devs, err := w.load(ctx, a, token, holder)
	if err != nil {
		return err
	}
	if len(devs) == 0 {
		// The run was deleted: nothing to do, and nothing to retry.
		return river.JobCancel(fmt.Errorf("run %s no longer exists", a.RunID))
	}
	if devs[0].runStatus == StatusCancelled {
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(devs))
	held := 0
	for i, jd := range devs {
		log := w.log.With(zap.String("run_id", a.RunID.String()), zap.String("device", jd.dev.Name),
			zap.Int64("job_id", job.ID), zap.Int("attempt", a.PriorAttempts+job.Attempt))
		switch {
		case jd.state == "done":
			// A rescued or retried job whose result is already recorded.
			log.Info("device result already recorded; skipping")
		case !jd.leased:
			log.Warn("a session of this run is still open on the device; waiting for it to end",
				zap.Duration("snooze", w.snooze))
			held++
		default:
			wg.Go(func() { errs[i] = w.device(ctx, job, jd.dev, token, log) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// River tries the job again: its recorded devices are skipped then.
		return err
	}
	if held > 0 {
		return river.JobSnooze(w.snooze)
	}
	return nil
}

// jobDevice is one device of a job as jobDevicesSQL loads it.
type jobDevice struct {
	dev       Device
	state     string
	runStatus string
	leased    bool
}

func (w *DiagnoseWorker) load(ctx context.Context, a DiagnoseArgs, token uuid.UUID, holder string) ([]jobDevice, error) {
	rows, err := w.pool.Query(ctx, jobDevicesSQL, a.RunID, a.devices(), token, leaseInterval(w.timeout+leaseMargin), holder)
	if err != nil {
		return nil, fmt.Errorf("load job devices: %w", err)
	}
	defer rows.Close()
	var out []jobDevice
	for rows.Next() {
		var jd jobDevice
		d := &jd.dev
		inv, err := inventory.ScanJobDevice(rows, &d.ID, &d.Name, &d.Site, &d.Kind, &jd.state, &jd.runStatus, &jd.leased)
		if err != nil {
			return nil, fmt.Errorf("load job devices: %w", err)
		}
		d.Address, d.Credential, d.Tags, d.PinnedHostKey = inv.Address, inv.Credential, inv.Tags, inv.PinnedHostKey
		out = append(out, jd)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load job devices: %w", err)
	}
	return out, nil
}

// device has one device's session, under the lease this attempt holds,
// and records its result. A transient failure with attempts left is
// retried: by River for a one-device job (the error), and for a device of
// a batch by a one-device job of its own, scheduled after the retry delay,
// so that the batch's other devices need not wait for it.
func (w *DiagnoseWorker) device(ctx context.Context, job *river.Job[DiagnoseArgs], dev Device, token uuid.UUID, log *zap.Logger) error {
	a := job.Args
	// Held until the result is committed (the recorder clears it), or
	// given back when this attempt ends without one.
	recorded := false
	defer func() {
		if !recorded {
			w.releaseLease(a.RunID, dev.ID, token)
		}
	}()
	attempt, limit := a.PriorAttempts+job.Attempt, a.PriorAttempts+job.MaxAttempts
	out := w.diagnoser.Diagnose(ctx, dev, a.Checks)
	if out.Transient && attempt < limit {
		if len(a.DeviceIDs) == 0 {
			log.Info("transient failure; River will retry", zap.String("error", out.Error))
			return fmt.Errorf("device %s: %s (attempt %d of %d)", dev.Name, out.Error, attempt, limit)
		}
		err := w.handOn(ctx, DiagnoseArgs{RunID: a.RunID, DeviceID: dev.ID, Checks: a.Checks, PriorAttempts: attempt},
			limit-attempt, job.ID)
		if err == nil {
			log.Info("transient failure; retried in a job of its own", zap.String("error", out.Error))
			return nil
		}
		log.Warn("handing a device's retry on failed; the batch is retried", zap.Error(err))
		return fmt.Errorf("device %s: %s (attempt %d of %d); %w", dev.Name, out.Error, attempt, limit, err)
	}
	if err := w.recorder.Record(ctx, Result{RunID: a.RunID, DeviceID: dev.ID, Attempts: attempt, Outcome: out}); err != nil {
		return fmt.Errorf("record result of %s: %w", dev.Name, err)
	}
	recorded = true
	return nil
}

// handOn enqueues args (one device's retry) with maxAttempts attempts,
// after the retry delay for its attempt number.
func (w *DiagnoseWorker) handOn(ctx context.Context, args DiagnoseArgs, maxAttempts int, jobID int64) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	at := RetryPolicy{Delay: w.retryDelay}.NextRetry(&rivertype.JobRow{ID: jobID, Attempt: args.PriorAttempts})
	_, err = client.Insert(ctx, args, &river.InsertOpts{Queue: queues.Diagnose, MaxAttempts: maxAttempts, ScheduledAt: at})
	return err
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
