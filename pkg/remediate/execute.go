package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Loop positions of a device's execution that are not journal steps.
const (
	posAct    = "act"    // pre-check done now: act
	posEnable = "enable" // connector disabled (seen): enable it
	posVerify = "verify" // action done: verify
)

// device runs (or resumes) one device. It returns nil when the device ended
// (whatever its outcome), a *waitError when its reboot must wait for a
// window, and any other error when the job must stop without writing more.
func (x *executor) device(ctx context.Context, d *deviceRow) error {
	log := x.log.With(zap.String("device", d.Name))
	// Before any session, fresh or resumed: is it still the approved box?
	if refused, err := x.checkIdentity(ctx, d); err != nil || refused {
		return err
	}
	pos := d.Step
	if pos != "" {
		log.Info("resuming device from its journal", zap.String("step", pos))
	}
	for {
		var next string
		var err error
		switch pos {
		case "", StepPrecheck:
			// Nothing was sent yet (or only looked at): look (again).
			if x.req.Action == ActionReboot {
				if err := x.checkWindow(); err != nil {
					return err
				}
			}
			next, err = x.precheck(ctx, d)
		case posAct:
			if x.req.Action == ActionReboot {
				next, err = x.reboot(ctx, d)
			} else {
				next, err = x.disable(ctx, d)
			}
		case StepDisableSent:
			next, err = x.resumeDisableSent(ctx, d, log)
		case StepDisabled:
			next, err = x.resumeDisabled(ctx, d, log)
		case posEnable:
			next, err = x.enable(ctx, d)
		case StepEnableSent:
			next, err = x.resumeEnableSent(ctx, d, log)
		case StepEnabled, StepBack, posVerify:
			next, err = x.verify(ctx, d)
		case StepRebootSent:
			// The reboot may have landed before fleetd stopped: never send it
			// twice for one approval. Wait for the device and verify.
			if err := x.journal(ctx, d, StepRebooted, map[string]any{"resumed": true,
				"note": "fleetd stopped after sending reboot; not sending it again"}); err != nil {
				return err
			}
			next = StepRebooted
		case StepRebooted:
			next, err = x.waitBack(ctx, d)
		default:
			// A final step whose outcome was not written: finish as journalled.
			return x.finishDevice(ctx, d, devEnd{outcome: OutcomeFailed, step: StepFailed,
				message: "interrupted after step " + pos + "; outcome unknown"})
		}
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		pos = next
	}
}

// checkIdentity compares the frozen device with what the inventory holds
// now (by the frozen id) and, when it is not the same box reached the same
// way, ends the device failed with what changed, audited, before anything is
// sent. It reports whether the device was refused.
func (x *executor) checkIdentity(ctx context.Context, d *deviceRow) (bool, error) {
	lives, err := x.w.cfg.Identities.CurrentDevices(ctx, []Device{d.Device})
	if err == nil && len(lives) != 1 {
		err = fmt.Errorf("%d answers for one device", len(lives))
	}
	if err != nil {
		return false, fmt.Errorf("check identity of %s (nothing is sent until it is checked): %w", d.Name, err)
	}
	live := lives[0]
	changes := identityChanges(d.Device, live)
	if len(changes) == 0 {
		return false, nil
	}
	msg := refusalMessage(d.Name, changes, d.Step)
	x.log.Warn("device changed since approval; refusing it", zap.String("device", d.Name),
		zap.Strings("changes", changes), zap.String("step", d.Step))
	details := map[string]any{"device": d.Name, "device_id": d.ID, "changes": changes, "why": msg,
		"approved": map[string]any{"id": d.ID, "address": d.Address, "credential": d.Credential, "host_key": d.HostKey}}
	if live != nil {
		details["now"] = map[string]any{"id": live.ID, "name": live.Name, "address": live.Address,
			"credential": live.Credential, "host_key": live.HostKey}
	}
	return true, x.finishDevice(ctx, d, devEnd{outcome: OutcomeFailed, step: StepFailed, message: msg,
		err: "device identity changed since approval", class: ClassIdentityChanged,
		audit: &audit.Event{Actor: SystemActor, Action: AuditDeviceRefused, TargetKind: TargetRemediation,
			Target: x.req.ID.String(), Details: details}})
}

// checkWindow returns a *waitError when an in-window request is outside its
// window now.
func (x *executor) checkWindow() error {
	if x.req.Schedule != ScheduleWindow {
		return nil
	}
	now := x.w.clock.Now()
	start, _, err := siteWindow(x.w.cfg.Sites, x.site, now)
	if err != nil || start.After(now) {
		return &waitError{}
	}
	return nil
}

func (x *executor) hook(ctx context.Context, d *deviceRow, point string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w at %s of %s: %w", errAborted, point, d.Name, err)
	}
	if x.w.cfg.Hooks.At == nil {
		return nil
	}
	if err := x.w.cfg.Hooks.At(ctx, x.req.ID, d.Name, point); err != nil {
		return fmt.Errorf("%w at %s of %s: %w", errAborted, point, d.Name, err)
	}
	return nil
}

func aborted(ctx context.Context, d *deviceRow, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w during %s of %s: %w", errAborted, what, d.Name, err)
	}
	return nil
}

// journal appends a step and makes it the device's latest, in one
// transaction, before the caller goes on.
func (x *executor) journal(ctx context.Context, d *deviceRow, step string, detail map[string]any) error {
	return x.journalSet(ctx, d, step, detail, nil)
}

func (x *executor) journalSet(ctx context.Context, d *deviceRow, step string, detail map[string]any, before []string) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("journal %s of %s: %w", step, d.Name, err)
	}
	err = pgx.BeginFunc(ctx, x.w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO remediation_steps (request_id, device_id, step, job_id, attempt, detail)
			VALUES ($1, $2, $3, $4, $5, $6)`, x.req.ID, d.ID, step, x.job.ID, x.job.Attempt, b); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE remediation_devices SET step = $3, outcome = 'running',
				started_at = coalesce(started_at, now()), diagnoses_before = coalesce($4, diagnoses_before)
			WHERE request_id = $1 AND device_id = $2`, x.req.ID, d.ID, step, before)
		return err
	})
	if err != nil {
		return fmt.Errorf("journal %s of %s (nothing more is sent until it is recorded): %w", step, d.Name, err)
	}
	d.Step, d.Outcome = step, OutcomeRunning
	if before != nil {
		d.DiagnosesBefore = before
	}
	return nil
}

type devEnd struct {
	outcome, step, message, err, class, recommended string
	after                                           []string
	detail                                          map[string]any
	audit                                           *audit.Event // recorded with the outcome
}

// finishDevice journals the final step and the device's outcome together.
func (x *executor) finishDevice(ctx context.Context, d *deviceRow, e devEnd) error {
	detail := e.detail
	if detail == nil {
		detail = map[string]any{}
	}
	detail["outcome"], detail["message"] = e.outcome, e.message
	if e.err != "" {
		detail["error"], detail["error_class"] = e.err, e.class
	}
	b, _ := json.Marshal(detail)
	after := e.after
	if after == nil {
		after = []string{}
	}
	err := pgx.BeginFunc(ctx, x.w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO remediation_steps (request_id, device_id, step, job_id, attempt, detail)
			VALUES ($1, $2, $3, $4, $5, $6)`, x.req.ID, d.ID, e.step, x.job.ID, x.job.Attempt, b); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE remediation_devices SET step = $3, outcome = $4, message = $5, error = $6,
				error_class = $7, recommended = $8, diagnoses_after = $9, finished_at = now(),
				started_at = CASE WHEN $4 = 'not-run' THEN started_at ELSE coalesce(started_at, now()) END
			WHERE request_id = $1 AND device_id = $2`,
			x.req.ID, d.ID, e.step, e.outcome, e.message, e.err, e.class, e.recommended, after)
		if err != nil || e.audit == nil {
			return err
		}
		return audit.Record(ctx, tx, *e.audit)
	})
	if err != nil {
		return fmt.Errorf("record outcome of %s: %w", d.Name, err)
	}
	d.Step, d.Outcome, d.Message, d.Error, d.ErrorClass, d.Recommended, d.DiagnosesAfter =
		e.step, e.outcome, e.message, e.err, e.class, e.recommended, after
	x.log.Info("device finished", zap.String("device", d.Name), zap.String("outcome", e.outcome),
		zap.String("message", e.message))
	return nil
}

func (x *executor) fail(ctx context.Context, d *deviceRow, message string, cause error, recommended string) error {
	e := devEnd{outcome: OutcomeFailed, step: StepFailed, message: message, recommended: recommended}
	if cause != nil {
		e.err = cause.Error()
		e.class = errorClass(cause)
	}
	return x.finishDevice(ctx, d, e)
}

// errorClass names a device failure the way diagnose does (unreachable,
// auth-failed, timeout, ...).
func errorClass(err error) string {
	var c interface{ Class() string }
	if errors.As(err, &c) {
		return c.Class()
	}
	return string(runner.Classify(err))
}

// precheck looks at the device and ends it when there is nothing to do.
func (x *executor) precheck(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.hook(ctx, d, PointPrecheck); err != nil {
		return "", err
	}
	a := x.w.actions.Check(ctx, d.Device)
	if err := aborted(ctx, d, "pre-check"); err != nil {
		return "", err
	}
	before := a.Diagnoses
	if before == nil {
		before = []string{}
	}
	if err := x.journalSet(ctx, d, StepPrecheck, map[string]any{"assessment": a}, before); err != nil {
		return "", err
	}
	switch {
	case a.Health == runs.HealthError:
		return "", x.finishDevice(ctx, d, devEnd{outcome: OutcomeFailed, step: StepFailed, err: a.Error, class: a.ErrorClass,
			message: fmt.Sprintf("pre-check could not run (%s); nothing was sent", orUnknown(a.ErrorClass))})
	case a.Health == runs.HealthHealthy:
		return "", x.finishDevice(ctx, d, devEnd{outcome: OutcomeSkipped, step: StepSkipped, after: a.Diagnoses,
			message: "nothing to do: the pre-check found the device healthy"})
	case len(a.has(targeted...)) == 0:
		return "", x.finishDevice(ctx, d, devEnd{outcome: OutcomeSkipped, step: StepSkipped, after: a.Diagnoses,
			recommended: a.Recommended,
			message: fmt.Sprintf("nothing to do for %s: the device shows %s, which it does not fix", x.req.Action,
				strings.Join(a.Diagnoses, ", "))})
	}
	return posAct, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown error"
	}
	return s
}

// disable: journal, send, journal what the device shows.
func (x *executor) disable(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.hook(ctx, d, PointDisable); err != nil {
		return "", err
	}
	if err := x.journal(ctx, d, StepDisableSent, map[string]any{"command": diagnose.CmdDisableConnector}); err != nil {
		return "", err
	}
	return x.sendDisable(ctx, d)
}

func (x *executor) sendDisable(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.hook(ctx, d, PointDisableSent); err != nil {
		return "", err
	}
	if err := x.w.actions.DisableConnector(ctx, d.Device); err != nil {
		if err := aborted(ctx, d, "disable"); err != nil {
			return "", err
		}
		// Did it take? Look before deciding.
		st, serr := x.w.actions.ConnectorStatus(ctx, d.Device)
		switch {
		case serr != nil:
			return "", x.fail(ctx, d, fmt.Sprintf("disable was sent but the device then could not be read (%s): the connector may be stopped; check it", errorClass(serr)),
				err, string(diagnose.RecommendRestartConnector))
		case st == ConnectorDisabled:
			if err := x.journal(ctx, d, StepDisabled, map[string]any{"note": "disable reported an error but the connector is disabled: " + err.Error()}); err != nil {
				return "", err
			}
			return posEnable, nil
		default:
			return "", x.fail(ctx, d, "the connector did not stop after pmtool disablebyid; nothing else was sent", err, "")
		}
	}
	if err := x.journal(ctx, d, StepDisabled, map[string]any{"status": ConnectorDisabled}); err != nil {
		return "", err
	}
	return posEnable, nil
}

// resumeDisableSent: the disable was journalled and may or may not have
// been sent: ask the device.
func (x *executor) resumeDisableSent(ctx context.Context, d *deviceRow, log *zap.Logger) (string, error) {
	st, err := x.w.actions.ConnectorStatus(ctx, d.Device)
	if err != nil {
		if err := aborted(ctx, d, "status after restart"); err != nil {
			return "", err
		}
		return "", x.fail(ctx, d, fmt.Sprintf("fleetd restarted after sending disable and the device could not be read (%s): the connector may be stopped; check it", errorClass(err)),
			err, string(diagnose.RecommendRestartConnector))
	}
	switch st {
	case ConnectorDisabled:
		log.Info("disable had landed before the interruption")
		if err := x.journal(ctx, d, StepDisabled, map[string]any{"resumed": true, "status": st}); err != nil {
			return "", err
		}
		return posEnable, nil
	case ConnectorRunning:
		// The disable never took effect, so no restart has happened yet:
		// sending it now is still the first one.
		log.Info("disable had not landed before the interruption; sending it")
		if err := x.journal(ctx, d, StepDisableSent, map[string]any{"resumed": true, "command": diagnose.CmdDisableConnector,
			"note": "the connector still runs: the first disable never landed"}); err != nil {
			return "", err
		}
		return x.sendDisable(ctx, d)
	default:
		return "", x.fail(ctx, d, "after an interruption the connector is neither running nor disabled; not touching it", nil, "")
	}
}

// resumeDisabled: disabled was seen; enable-sent not journalled, so fleetd
// did not enable it. If it runs anyway someone else did: do not restart it again.
func (x *executor) resumeDisabled(ctx context.Context, d *deviceRow, log *zap.Logger) (string, error) {
	st, err := x.w.actions.ConnectorStatus(ctx, d.Device)
	if err != nil {
		if err := aborted(ctx, d, "status after restart"); err != nil {
			return "", err
		}
		return "", x.fail(ctx, d, fmt.Sprintf("the connector was disabled and the device could not be read (%s): enable it (pmtool enablebyid SSEConnector)", errorClass(err)),
			err, string(diagnose.RecommendRestartConnector))
	}
	if st == ConnectorRunning {
		log.Info("connector found running again; not enabling it")
		if err := x.journal(ctx, d, StepEnabled, map[string]any{"resumed": true, "note": "found running; enabled outside this job"}); err != nil {
			return "", err
		}
		return posVerify, nil
	}
	return posEnable, nil
}

func (x *executor) enable(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.hook(ctx, d, PointDisabled); err != nil {
		return "", err
	}
	if err := x.journal(ctx, d, StepEnableSent, map[string]any{"command": diagnose.CmdEnableConnector}); err != nil {
		return "", err
	}
	return x.sendEnable(ctx, d)
}

func (x *executor) sendEnable(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.hook(ctx, d, PointEnableSent); err != nil {
		return "", err
	}
	if err := x.w.actions.EnableConnector(ctx, d.Device); err != nil {
		if err := aborted(ctx, d, "enable"); err != nil {
			return "", err
		}
		st, serr := x.w.actions.ConnectorStatus(ctx, d.Device)
		switch {
		case serr == nil && st == ConnectorRunning:
			if err := x.journal(ctx, d, StepEnabled, map[string]any{"note": "enable reported an error but the connector runs: " + err.Error()}); err != nil {
				return "", err
			}
			return posVerify, nil
		case serr != nil:
			return "", x.fail(ctx, d, fmt.Sprintf("enable was sent but the device then could not be read (%s): the connector may still be disabled; check it", errorClass(serr)),
				err, string(diagnose.RecommendRestartConnector))
		default:
			return "", x.fail(ctx, d, "the connector is still disabled after pmtool enablebyid failed: enable it (pmtool enablebyid SSEConnector)",
				err, string(diagnose.RecommendRestartConnector))
		}
	}
	if err := x.journal(ctx, d, StepEnabled, map[string]any{"status": ConnectorRunning}); err != nil {
		return "", err
	}
	return posVerify, nil
}

// resumeEnableSent: the enable may or may not have landed. Enabling a
// disabled connector completes the one restart; it is not a second one.
func (x *executor) resumeEnableSent(ctx context.Context, d *deviceRow, log *zap.Logger) (string, error) {
	st, err := x.w.actions.ConnectorStatus(ctx, d.Device)
	if err != nil {
		if err := aborted(ctx, d, "status after restart"); err != nil {
			return "", err
		}
		return "", x.fail(ctx, d, fmt.Sprintf("fleetd restarted after sending enable and the device could not be read (%s): the connector may still be disabled; check it", errorClass(err)),
			err, string(diagnose.RecommendRestartConnector))
	}
	if st == ConnectorRunning {
		log.Info("enable had landed before the interruption")
		if err := x.journal(ctx, d, StepEnabled, map[string]any{"resumed": true, "status": st}); err != nil {
			return "", err
		}
		return posVerify, nil
	}
	log.Info("enable had not landed before the interruption; sending it")
	if err := x.journal(ctx, d, StepEnableSent, map[string]any{"resumed": true, "command": diagnose.CmdEnableConnector,
		"note": "the connector is still disabled: the first enable never landed"}); err != nil {
		return "", err
	}
	return x.sendEnable(ctx, d)
}

// reboot: journal, send, journal.
func (x *executor) reboot(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.checkWindow(); err != nil {
		return "", err
	}
	if err := x.hook(ctx, d, PointReboot); err != nil {
		return "", err
	}
	if err := x.journal(ctx, d, StepRebootSent, map[string]any{"command": diagnose.CmdReboot, "at": x.w.clock.Now().UTC()}); err != nil {
		return "", err
	}
	if err := x.hook(ctx, d, PointRebootSent); err != nil {
		return "", err
	}
	if err := x.w.actions.Reboot(ctx, d.Device); err != nil {
		if err := aborted(ctx, d, "reboot"); err != nil {
			return "", err
		}
		return "", x.fail(ctx, d, "the reboot was not confirmed by the device; it may not be rebooting", err, "")
	}
	if err := x.journal(ctx, d, StepRebooted, nil); err != nil {
		return "", err
	}
	return StepRebooted, nil
}

func (x *executor) waitBack(ctx context.Context, d *deviceRow) (string, error) {
	if err := x.hook(ctx, d, PointWaitBack); err != nil {
		return "", err
	}
	timeout := x.w.cfg.RebootTimeout
	if s, ok := x.w.cfg.Sites[d.Site]; ok && s.RebootTimeout > 0 {
		timeout = s.RebootTimeout
	}
	start := time.Now()
	if err := x.w.actions.WaitBack(ctx, d.Device, timeout); err != nil {
		if err := aborted(ctx, d, "wait for reboot"); err != nil {
			return "", err
		}
		return "", x.fail(ctx, d, fmt.Sprintf("the device did not come back within the reboot timeout of %v", timeout), err, "")
	}
	if err := x.journal(ctx, d, StepBack, map[string]any{"waited": time.Since(start).Round(time.Millisecond).String()}); err != nil {
		return "", err
	}
	return posVerify, nil
}

// verify re-runs the checks; the device succeeds only if the diagnoses the
// action targets are gone.
func (x *executor) verify(ctx context.Context, d *deviceRow) (string, error) {
	for attempt := 1; ; attempt++ {
		if err := x.hook(ctx, d, PointVerify); err != nil {
			return "", err
		}
		a := x.w.actions.Check(ctx, d.Device)
		if err := aborted(ctx, d, "verify"); err != nil {
			return "", err
		}
		still := a.has(targeted...)
		if a.Health != runs.HealthError && len(still) == 0 {
			msg := "verified: the device is healthy"
			if fixed := intersect(d.DiagnosesBefore, targeted); len(fixed) > 0 {
				msg = "verified: " + strings.Join(fixed, ", ") + " is gone"
			}
			if len(a.Diagnoses) > 0 {
				msg += "; still showing " + strings.Join(a.Diagnoses, ", ") + ", which " + string(x.req.Action) + " does not fix"
			}
			return "", x.finishDevice(ctx, d, devEnd{outcome: OutcomeSucceeded, step: StepVerified, message: msg,
				after: a.Diagnoses, recommended: a.Recommended, detail: map[string]any{"assessment": a, "verify_attempts": attempt}})
		}
		if attempt >= x.w.cfg.VerifyAttempts {
			if a.Health == runs.HealthError {
				return "", x.finishDevice(ctx, d, devEnd{outcome: OutcomeFailed, step: StepVerifyFailed, after: a.Diagnoses,
					err: a.Error, class: a.ErrorClass,
					message: fmt.Sprintf("%s done, but verify could not run (%s)", x.req.Action, orUnknown(a.ErrorClass))})
			}
			e := devEnd{outcome: OutcomeFailed, step: StepVerifyFailed, after: a.Diagnoses,
				detail: map[string]any{"assessment": a, "verify_attempts": attempt}}
			if x.req.Action == ActionRestartConnector {
				e.recommended = string(diagnose.RecommendReboot)
				e.message = fmt.Sprintf("the connector was restarted but %s persists; as the tech note says, the next step is a reboot",
					strings.Join(still, ", "))
			} else {
				e.recommended = a.Recommended
				e.message = fmt.Sprintf("the device rebooted and came back but %s persists", strings.Join(still, ", "))
			}
			return "", x.finishDevice(ctx, d, e)
		}
		t := time.NewTimer(x.w.cfg.VerifyInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", aborted(ctx, d, "verify")
		case <-t.C:
		}
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		for _, t := range b {
			if s == t {
				out = append(out, s)
			}
		}
	}
	return out
}
