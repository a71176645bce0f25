package remediate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// MaxJobAttempts bounds River attempts of one request's job. Waiting
// (snoozing) does not count; only failures of fleetd itself (database
// unreachable) do. The last attempt ends the request as failed.
const MaxJobAttempts = 10

// RemediateArgs is the River job that executes one approved request.
type RemediateArgs struct {
	RequestID uuid.UUID `json:"request_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (RemediateArgs) Kind() string { return "remediate_request" }

// Hook points: where a test (or a chaos drill) may stop a job as a crash
// would. See Hooks.
const (
	PointPrecheck    = "precheck"     // before the pre-check runs
	PointDisable     = "disable"      // pre-check done; disable-sent not journalled yet
	PointDisableSent = "disable-sent" // disable-sent journalled; command not sent yet
	PointDisabled    = "disabled"     // connector seen disabled and journalled; enable-sent not journalled yet
	PointEnableSent  = "enable-sent"  // enable-sent journalled; command not sent yet
	PointVerify      = "verify"       // before the verify checks run
	PointReboot      = "reboot"       // pre-check done; reboot-sent not journalled yet
	PointRebootSent  = "reboot-sent"  // reboot-sent journalled; command not sent yet
	PointWaitBack    = "wait-back"    // reboot accepted and journalled; before waiting for SSH
)

// Journal steps (remediation_steps.step, remediation_devices.step).
const (
	StepPrecheck     = "precheck"
	StepDisableSent  = "disable-sent"
	StepDisabled     = "disabled"
	StepEnableSent   = "enable-sent"
	StepEnabled      = "enabled"
	StepRebootSent   = "reboot-sent"
	StepRebooted     = "rebooted"
	StepBack         = "back"
	StepVerified     = "verified"      // final: verify passed
	StepVerifyFailed = "verify-failed" // final: verify ran, target diagnosis still there
	StepSkipped      = "skipped"       // final: nothing to do
	StepFailed       = "failed"        // final: could not complete
	StepNotRun       = "not-run"       // final: stopped before this device
)

// Hooks lets tests interrupt a job at a step boundary. At is called with
// the request, device and point; a non-nil error stops the job right there,
// as if the process had died (nothing more is written for any device).
type Hooks struct {
	At func(ctx context.Context, request uuid.UUID, device, point string) error
}

// WorkerConfig tunes execution.
type WorkerConfig struct {
	Sites map[string]Site
	// MaxWait is the longest a waiting job sleeps before it looks at the
	// clock again (default 5m): waits are re-judged on every wake-up, so a
	// changed clock or window is honoured. Tests with a ManualClock set it short.
	MaxWait time.Duration
	// VerifyAttempts and VerifyInterval: the connector needs a moment after
	// a restart to reconnect to EventHandler, so verify looks again before
	// it calls the device not cured.
	VerifyAttempts int
	VerifyInterval time.Duration
	// RebootTimeout is used for sites without reboot_timeout (default
	// DefaultRebootTimeout).
	RebootTimeout time.Duration
	// JobTimeout bounds one job execution (default 3h). River's rescue of
	// stuck jobs (jobs.Config.RescueAfter) should be longer; if it is not, a
	// rescued copy waits on the request lock and does no harm.
	JobTimeout time.Duration
	// LockRetry is how long a job waits when another holds the request.
	LockRetry time.Duration
	Hooks     Hooks
	// Identities says what the inventory holds now for a frozen device
	// (default: the inventory tables, InventorySource). Every device is
	// checked against it before anything is sent to it.
	Identities DeviceIdentities
}

func (c *WorkerConfig) defaults() {
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Minute
	}
	if c.VerifyAttempts <= 0 {
		c.VerifyAttempts = 3
	}
	if c.VerifyInterval < 0 {
		c.VerifyInterval = 0
	} else if c.VerifyInterval == 0 {
		c.VerifyInterval = 10 * time.Second
	}
	if c.RebootTimeout <= 0 {
		c.RebootTimeout = DefaultRebootTimeout
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 3 * time.Hour
	}
	if c.LockRetry <= 0 {
		c.LockRetry = 10 * time.Second
	}
}

// DefaultRebootTimeout is how long a rebooted device may take to come back,
// for sites without one; it is sites.*.reboot_timeout's default in fleetd's
// config file (a test in internal/app holds the two together).
const DefaultRebootTimeout = 15 * time.Minute

// Worker executes RemediateArgs jobs.
type Worker struct {
	river.WorkerDefaults[RemediateArgs]
	pool    *pgxpool.Pool
	actions DeviceActions
	clock   Clock
	cfg     WorkerConfig
	log     *zap.Logger
	notify  Notifier // nil: no notifications
}

// WorkerDeps are a Worker's collaborators.
type WorkerDeps struct {
	Actions DeviceActions
	// Notifier, when set, is told of each request that ends succeeded or
	// failed (remediation.finished); nil sends nothing.
	Notifier Notifier
	Clock    Clock // nil: the system clock
}

// NewWorker returns the worker.
func NewWorker(pool *pgxpool.Pool, deps WorkerDeps, cfg WorkerConfig, log *zap.Logger) *Worker {
	cfg.defaults()
	clock := deps.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	if cfg.Identities == nil {
		// Reads only: the catalog (what writes validate against) is not needed.
		cfg.Identities = InventorySource{Inventory: inventory.NewStore(pool, inventory.Catalog{}, log)}
	}
	return &Worker{pool: pool, actions: deps.Actions, clock: clock, cfg: cfg, log: log, notify: deps.Notifier}
}

// Timeout implements river.Worker.
func (w *Worker) Timeout(*river.Job[RemediateArgs]) time.Duration { return w.cfg.JobTimeout }

// errAborted marks a stop that must leave the journal as it is (a hook, or
// the job's context ending): the next attempt resumes from the journal.
var errAborted = errors.New("job interrupted")

// waitError asks the job to sleep and look again.
type waitError struct{ d time.Duration }

func (e *waitError) Error() string { return fmt.Sprintf("wait %v", e.d) }

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[RemediateArgs]) error {
	id := job.Args.RequestID
	log := w.log.With(zap.String("request_id", id.String()), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))

	unlock, ok, err := w.lock(ctx, id)
	if err != nil {
		return fmt.Errorf("lock request %s: %w", id, err)
	}
	if !ok {
		log.Info("another job holds this request; waiting")
		return river.JobSnooze(w.cfg.LockRetry)
	}
	defer unlock()

	err = w.work(ctx, job, log)
	var we *waitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &we):
		return river.JobSnooze(we.d)
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		// Shutdown (or a simulated crash): hand the job back at once; the
		// journal says where to resume.
		log.Info("remediation interrupted; it resumes from its journal", zap.Error(err))
		return river.JobSnooze(0)
	case errors.Is(err, errAborted):
		log.Info("remediation interrupted; it resumes from its journal", zap.Error(err))
		return err
	}
	var cancel *river.JobCancelError
	if errors.As(err, &cancel) {
		return err
	}
	if job.Attempt >= job.MaxAttempts {
		// Every request ends in a definite state.
		log.Error("remediation job gave up", zap.Error(err))
		if ferr := w.failRequest(context.WithoutCancel(ctx), id, fmt.Sprintf("fleetd gave up after %d attempts: %v", job.Attempt, err)); ferr != nil {
			log.Error("could not record the failure", zap.Error(ferr))
		}
		return river.JobCancel(err)
	}
	log.Warn("remediation job failed; River retries it", zap.Error(err))
	return err
}

// lock takes a session advisory lock on the request on a dedicated
// connection, so that a rescued copy of a job still running elsewhere waits;
// the lock dies with the connection if the process does.
func (w *Worker) lock(ctx context.Context, id uuid.UUID) (func(), bool, error) {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(7301, hashtext($1))`, id.String()).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		_, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7301, hashtext($1))`, id.String())
		if err != nil {
			// Closing the connection is what releases a session lock for sure.
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, true, nil
}

func (w *Worker) work(ctx context.Context, job *river.Job[RemediateArgs], log *zap.Logger) error {
	id := job.Args.RequestID
	r, err := loadRequest(ctx, w.pool, id, false)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	switch r.State {
	case StateScheduled, StateRunning:
	case StatePending, StateApproved:
		return river.JobCancel(fmt.Errorf("request %s is %s, not scheduled: refusing to run it", id, r.State))
	default:
		log.Info("request is " + string(r.State) + "; nothing to do")
		return nil
	}
	devs, err := loadDevices(ctx, w.pool, id)
	if err != nil {
		return err
	}
	if h := recomputeHash(r, devs); r.approvedHash == "" || h != r.approvedHash {
		log.Error("approval does not match the stored request; refusing to act",
			zap.String("approved_hash", r.approvedHash), zap.String("recomputed_hash", h))
		return w.refuse(ctx, r, devs, fmt.Sprintf("refused: the stored request no longer matches its approval (parameters hash %s, approved %s); nothing was sent to any device",
			short(h), short(r.approvedHash)))
	}
	if r.paramsVersion < paramsVersion {
		// Approved before device identities were frozen: the approval names
		// devices, not boxes, and the worker cannot tell which box was meant.
		log.Error("request predates frozen device identities; refusing to act", zap.Int("params_version", r.paramsVersion))
		return w.failRequest(ctx, id, fmt.Sprintf("refused: request %s was approved before fleetd froze device identities (id, address, credential, host key) into approvals, so nothing says which boxes were approved; make a new request",
			id))
	}

	if r.State == StateScheduled {
		if err := w.ready(ctx, r, devs, log); err != nil {
			return err
		}
		tag, err := w.pool.Exec(ctx, `UPDATE remediation_requests SET state = 'running', started_at = $2, schedule_note = '',
			updated_at = now() WHERE id = $1 AND state = 'scheduled'`, id, w.clock.Now().UTC())
		if err != nil {
			return fmt.Errorf("start request: %w", err)
		}
		if tag.RowsAffected() == 0 {
			log.Info("request left scheduled before it started (cancelled); nothing to do")
			return nil
		}
		if err := audit.Record(ctx, w.pool, audit.Event{Actor: SystemActor, Action: AuditRunning, TargetKind: TargetRemediation,
			Target: id.String(), Details: map[string]any{"from": StateScheduled, "to": StateRunning, "job_id": job.ID,
				"why": "approved by " + r.ApprovedBy + "; start time reached"}}); err != nil {
			return err
		}
		log.Info("remediation started", zap.String("action", string(r.Action)), zap.Int("devices", len(devs)))
	} else {
		log.Info("remediation resumes from its journal")
	}

	x := &executor{w: w, req: r, job: job, log: log}
	if err := x.run(ctx, devs); err != nil {
		return err
	}
	return w.finish(ctx, id, log)
}

// ready returns nil when a scheduled request may start now, or a waitError.
// A window that passed while nobody ran the job (fleetd down) is never used
// late: the request moves to the next window and says why.
func (w *Worker) ready(ctx context.Context, r requestRow, devs []deviceRow, log *zap.Logger) error {
	now := w.clock.Now()
	switch r.Schedule {
	case ScheduleAt:
		if r.At != nil && now.Before(*r.At) {
			return &waitError{min(r.At.Sub(now), w.cfg.MaxWait)}
		}
	case ScheduleWindow:
		open, wait, err := w.windowOpen(ctx, r, devs, now, log)
		if err != nil {
			return err
		}
		if !open {
			return &waitError{wait}
		}
	}
	return nil
}

// windowOpen reports whether the request's site window is open at now; when
// not, it records the next start (and why, if a window was missed) and
// returns how long to sleep.
func (w *Worker) windowOpen(ctx context.Context, r requestRow, devs []deviceRow, now time.Time, log *zap.Logger) (bool, time.Duration, error) {
	if len(devs) == 0 {
		return true, 0, nil
	}
	site := devs[0].Site
	start, end, err := siteWindow(w.cfg.Sites, site, now)
	if err != nil {
		// The window was removed from config after approval: never reboot
		// outside a window; wait, and say so.
		note := fmt.Sprintf("waiting: %v", err)
		if r.ScheduleNote != note {
			_ = w.note(ctx, r, nil, note, "")
		}
		return false, w.cfg.MaxWait, nil
	}
	if !start.After(now) {
		return true, 0, nil
	}
	next := start.UTC()
	if r.NotBefore == nil || !r.NotBefore.Equal(next) {
		why := fmt.Sprintf("waiting for site %s maintenance window %s to %s", site, next.Format(time.RFC3339), end.UTC().Format(time.RFC3339))
		if r.NotBefore != nil && r.NotBefore.Before(now) {
			why = fmt.Sprintf("missed the maintenance window that began %s (fleetd was not running or was busy then); never rebooting outside a window, so waiting for the next one: %s to %s",
				r.NotBefore.UTC().Format(time.RFC3339), next.Format(time.RFC3339), end.UTC().Format(time.RFC3339))
			log.Warn("maintenance window missed; rescheduled", zap.Time("missed", *r.NotBefore), zap.Time("next", next))
		}
		if err := w.note(ctx, r, &next, why, AuditRescheduled); err != nil {
			return false, 0, err
		}
	}
	return false, min(start.Sub(now), w.cfg.MaxWait), nil
}

// note records a new start time and why, with an audit event when action is set.
func (w *Worker) note(ctx context.Context, r requestRow, notBefore *time.Time, why, action string) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET not_before = coalesce($2, not_before), schedule_note = $3,
				updated_at = now() WHERE id = $1`, r.ID, notBefore, why); err != nil {
			return fmt.Errorf("record schedule: %w", err)
		}
		if action == "" {
			return nil
		}
		return audit.Record(ctx, tx, audit.Event{Actor: SystemActor, Action: action, TargetKind: TargetRemediation,
			Target: r.ID.String(), Details: map[string]any{"state": r.State, "why": why, "not_before": notBefore}})
	})
}

// refuse ends a request whose approval does not match it, touching nothing.
func (w *Worker) refuse(ctx context.Context, r requestRow, devs []deviceRow, why string) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE remediation_devices SET outcome = 'not-run', step = 'not-run', message = $2
			WHERE request_id = $1 AND outcome IN ('pending', 'running')`, r.ID, "not run: "+why); err != nil {
			return err
		}
		return w.finishTx(ctx, tx, r.ID, why)
	})
}

func (w *Worker) failRequest(ctx context.Context, id uuid.UUID, why string) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE remediation_devices SET outcome = CASE WHEN step = '' THEN 'not-run' ELSE 'failed' END,
				step = CASE WHEN step = '' THEN 'not-run' ELSE step END,
				message = CASE WHEN step = '' THEN 'not run: ' ELSE 'interrupted: ' END || $2, finished_at = now()
			WHERE request_id = $1 AND outcome IN ('pending', 'running')`, id, why); err != nil {
			return err
		}
		return w.finishTx(ctx, tx, id, why)
	})
}

// finish ends a running request from its devices' outcomes.
func (w *Worker) finish(ctx context.Context, id uuid.UUID, log *zap.Logger) error {
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error { return w.finishTx(ctx, tx, id, "") })
	if err == nil {
		log.Info("remediation finished")
	}
	return err
}

func (w *Worker) finishTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, why string) error {
	r, err := loadRequest(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if r.State.Final() {
		return nil
	}
	devs, err := loadDevices(ctx, tx, id)
	if err != nil {
		return err
	}
	res := buildResult(r.Request, devs, why)
	state := StateSucceeded
	if res.Summary.Failed > 0 || res.Summary.NotRun > 0 || res.Summary.Pending > 0 || why != "" {
		state = StateFailed
	}
	if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET state = $2, finished_at = $3, result = $4, updated_at = now()
		WHERE id = $1`, id, state, w.clock.Now().UTC(), res); err != nil {
		return fmt.Errorf("finish request: %w", err)
	}
	action := AuditSucceeded
	if state == StateFailed {
		action = AuditFailed
	}
	if err := audit.Record(ctx, tx, audit.Event{Actor: SystemActor, Action: action, TargetKind: TargetRemediation,
		Target: id.String(), Details: map[string]any{"from": r.State, "to": state, "why": res.Message,
			"summary": res.Summary, "recommended": res.Recommended}}); err != nil {
		return err
	}
	if w.notify == nil {
		return nil
	}
	// In the transaction: the event goes out once, with the final state; a
	// finish that rolls back (and is retried) sends nothing.
	return w.notify.NotifyTx(ctx, tx, finishedEvent(r.Request, state, res))
}

func buildResult(r Request, devs []deviceRow, why string) Result {
	res := Result{Summary: summarize(devs), Devices: make([]DeviceResult, len(devs))}
	var reboot []string
	for i, d := range devs {
		res.Devices[i] = d.result()
		if d.Recommended == "reboot" {
			reboot = append(reboot, d.Name)
		}
	}
	s := res.Summary
	var parts []string
	parts = append(parts, fmt.Sprintf("%d of %d device(s) remediated", s.Succeeded, s.Devices))
	if s.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped (nothing to do)", s.Skipped))
	}
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.NotRun > 0 {
		parts = append(parts, fmt.Sprintf("%d not run", s.NotRun))
	}
	res.Message = strings.Join(parts, ", ")
	if why != "" {
		res.Message = why + "; " + res.Message
	} else if stop := stopReason(r, devs); stop != "" && s.NotRun > 0 {
		res.Message += "; " + stop
	}
	if len(reboot) > 0 {
		res.Recommended = "reboot"
		res.Message += fmt.Sprintf("; a connector restart did not cure %s: reboot as the tech note says (fleetctl remediate --reboot %s --in-window)",
			strings.Join(reboot, ", "), strings.Join(reboot, " "))
	}
	return res
}

// stopReason says why later batches must not start, or "".
func stopReason(r Request, devs []deviceRow) string {
	failed := 0
	canaryFailed := false
	for _, d := range devs {
		if d.Outcome == OutcomeFailed {
			failed++
			if d.Batch == 0 {
				canaryFailed = true
			}
		}
	}
	switch {
	case canaryFailed:
		return fmt.Sprintf("stopped: the canary %s failed", devs[0].Name)
	case failed > r.FailureThreshold:
		return fmt.Sprintf("stopped: %d failed device(s) passed the failure threshold of %d", failed, r.FailureThreshold)
	}
	return ""
}

// executor runs one request's devices.
type executor struct {
	w    *Worker
	site string // of the first device; in-window requests have one site
	req  requestRow
	job  *river.Job[RemediateArgs]
	log  *zap.Logger
}

func (x *executor) run(ctx context.Context, devs []deviceRow) error {
	if len(devs) > 0 {
		x.site = devs[0].Site
	}
	maxBatch := 0
	for _, d := range devs {
		maxBatch = max(maxBatch, d.Batch)
	}
	for b := 0; b <= maxBatch; b++ {
		if stop := stopReason(x.req.Request, devs); stop != "" {
			if err := x.markNotRun(ctx, devs, b, stop); err != nil {
				return err
			}
			x.log.Warn("remediation stopped early", zap.String("why", stop), zap.Int("batch", b))
			return nil
		}
		var batch []int
		for i, d := range devs {
			if d.Batch == b && (d.Outcome == OutcomePending || d.Outcome == OutcomeRunning) {
				batch = append(batch, i)
			}
		}
		if len(batch) == 0 {
			continue
		}
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for k, i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = x.device(ctx, &devs[i])
			}()
		}
		wg.Wait()
		var we *waitError
		for _, err := range errs {
			if errors.As(err, &we) {
				return x.outsideWindow(ctx, devs)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// outsideWindow: the site's window is closed (it closed mid-request, or
// fleetd was down through it) and some devices were not rebooted yet. They
// wait for the next window; devices already past their reboot finished.
func (x *executor) outsideWindow(ctx context.Context, devs []deviceRow) error {
	now := x.w.clock.Now()
	site := devs[0].Site
	waiting := 0
	for _, d := range devs {
		if d.Outcome == OutcomePending || d.Outcome == OutcomeRunning {
			waiting++
		}
	}
	start, end, err := siteWindow(x.w.cfg.Sites, site, now)
	if err != nil {
		why := fmt.Sprintf("%d device(s) wait: %v", waiting, err)
		if x.req.ScheduleNote != why {
			if err := x.w.note(ctx, x.req, nil, why, AuditRescheduled); err != nil {
				return err
			}
		}
		return &waitError{x.w.cfg.MaxWait}
	}
	if !start.After(now) {
		return &waitError{0}
	}
	next := start.UTC()
	if x.req.NotBefore == nil || !x.req.NotBefore.Equal(next) {
		why := fmt.Sprintf("site %s maintenance window is closed (it ended, or passed while fleetd was not running) with %d device(s) not yet rebooted; never rebooting outside a window, they wait for the next one: %s to %s",
			site, waiting, next.Format(time.RFC3339), end.UTC().Format(time.RFC3339))
		x.log.Warn("maintenance window closed; remaining devices wait for the next", zap.Int("waiting", waiting), zap.Time("next", next))
		if err := x.w.note(ctx, x.req, &next, why, AuditRescheduled); err != nil {
			return err
		}
	}
	return &waitError{min(start.Sub(now), x.w.cfg.MaxWait)}
}

func (x *executor) markNotRun(ctx context.Context, devs []deviceRow, fromBatch int, why string) error {
	for i := range devs {
		d := &devs[i]
		if d.Batch >= fromBatch && d.Outcome == OutcomePending && d.Step == "" {
			if err := x.finishDevice(ctx, d, devEnd{outcome: OutcomeNotRun, step: StepNotRun, message: "not run: " + why}); err != nil {
				return err
			}
		}
	}
	return nil
}
