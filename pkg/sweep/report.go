package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
)

// ReportArgs asks for the report of a finished sweep.
type ReportArgs struct {
	RunID uuid.UUID `json:"run_id"`
}

// Kind implements river.JobArgs.
func (ReportArgs) Kind() string { return "sweep_report" }

// ReportWorker works ReportArgs.
type ReportWorker struct {
	river.WorkerDefaults[ReportArgs]
	svc *Service
}

// Work implements river.Worker.
func (w *ReportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	rep, err := w.svc.Report(ctx, job.Args.RunID)
	switch {
	case errors.Is(err, runs.ErrNotFound), errors.Is(err, errNotSweep):
		return river.JobCancel(err)
	case errors.Is(err, errNotFinished):
		return river.JobSnooze(time.Minute)
	case err != nil:
		return err
	}
	w.svc.log.Info("sweep reported", zap.String("run_id", job.Args.RunID.String()), zap.String("schedule", rep.Schedule),
		zap.Int("newly_unhealthy", rep.Diff.Summary.NewlyUnhealthy), zap.Int("recovered", rep.Diff.Summary.Recovered),
		zap.Int("still_broken", rep.Diff.Summary.StillBroken), zap.Int("unreachable", rep.Diff.Summary.Unreachable),
		zap.Int("remediation_requests", len(rep.Requests)), zap.Bool("notified_now", rep.NotifiedNow))
	return nil
}

var (
	errNotSweep    = errors.New("not a sweep")
	errNotFinished = errors.New("sweep not finished")
)

// Report is what Report did for a sweep.
type Report struct {
	RunID       uuid.UUID
	Schedule    string
	Diff        Diff
	Requests    []uuid.UUID // remediation requests opened for this sweep
	NotifiedNow bool        // this call queued the notification
}

// notifyListMax bounds the devices listed per category in a notification.
const notifyListMax = 50

// Report stores a finished sweep's diff, opens its remediation requests
// (if its schedule allows, at most once) and queues its notification
// (exactly once: with the commit that marks it sent). Calling it again
// does nothing new.
func (s *Service) Report(ctx context.Context, runID uuid.UUID) (Report, error) {
	rep := Report{RunID: runID}
	h, err := runs.LoadHeader(ctx, s.pool, runID)
	kind, status := h.Kind, h.Status
	rep.Schedule = h.Schedule
	if errors.Is(err, pgx.ErrNoRows) {
		return rep, fmt.Errorf("run %s: %w", runID, runs.ErrNotFound)
	}
	if err != nil {
		return rep, fmt.Errorf("load run %s: %w", runID, err)
	}
	if kind != runs.KindSweep {
		return rep, fmt.Errorf("run %s is a %s: %w", runID, kind, errNotSweep)
	}
	if status != runs.StatusCompleted {
		return rep, fmt.Errorf("run %s is %s: %w", runID, status, errNotFinished)
	}

	// 1. The report row, with the diff as of now (a finished run's diff does
	// not change). An existing row wins: the first report is the report.
	diff, err := s.Diff(ctx, runID)
	if err != nil {
		return rep, err
	}
	diffJSON, err := json.Marshal(diff)
	if err != nil {
		return rep, fmt.Errorf("encode diff: %w", err)
	}
	var stored []byte
	var claimed bool
	var notified *time.Time
	err = s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO sweep_reports (run_id, schedule, previous_run_id, diff) VALUES ($1, $2, $3, $4)
			ON CONFLICT (run_id) DO NOTHING RETURNING diff, requests_claimed, remediation_requests, notified_at)
		SELECT * FROM ins
		UNION ALL
		SELECT diff, requests_claimed, remediation_requests, notified_at FROM sweep_reports
		WHERE run_id = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
		runID, rep.Schedule, diff.PreviousRunID, diffJSON).Scan(&stored, &claimed, &rep.Requests, &notified)
	if err != nil {
		return rep, fmt.Errorf("store sweep report: %w", err)
	}
	if err := json.Unmarshal(stored, &rep.Diff); err != nil {
		return rep, fmt.Errorf("decode stored diff: %w", err)
	}

	// 2. Remediation requests, at most once: the claim commits first, so a
	// crash after it loses the requests rather than doubling them (the
	// report then says so).
	if !claimed && s.deps.Requests != nil && rep.Schedule != "" {
		ids, err := s.openRequests(ctx, runID, rep.Schedule)
		if err != nil {
			return rep, err
		}
		rep.Requests = append(rep.Requests, ids...)
	}

	// 3. The notification, queued in the transaction that marks it sent.
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var notifiedAt *time.Time
		if err := tx.QueryRow(ctx, `SELECT notified_at, remediation_requests FROM sweep_reports WHERE run_id = $1 FOR UPDATE`,
			runID).Scan(&notifiedAt, &rep.Requests); err != nil {
			return err
		}
		if notifiedAt != nil {
			return nil
		}
		if s.deps.Notifier != nil {
			if err := s.deps.Notifier.NotifyTx(ctx, tx, sweepEvent(rep)); err != nil {
				return err
			}
		}
		rep.NotifiedNow = true
		_, err := tx.Exec(ctx, `UPDATE sweep_reports SET notified_at = now() WHERE run_id = $1`, runID)
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("queue sweep notification: %w", err)
	}
	return rep, nil
}

// openRequests claims the report's request step and opens one
// restart-connector request for the sweep's curable devices that no open
// request covers yet.
func (s *Service) openRequests(ctx context.Context, runID uuid.UUID, schedule string) ([]uuid.UUID, error) {
	var allowed bool
	err := s.pool.QueryRow(ctx, `SELECT create_remediation_requests FROM sweep_schedules WHERE name = $1`, schedule).Scan(&allowed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // the schedule was removed from config since
	}
	if err != nil {
		return nil, fmt.Errorf("load schedule %s: %w", schedule, err)
	}
	if !allowed {
		return nil, nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sweep_reports SET requests_claimed = true WHERE run_id = $1 AND NOT requests_claimed`, runID)
	if err != nil {
		return nil, fmt.Errorf("claim remediation requests: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, nil // another attempt has it
	}
	// Curable here means what the diagnosis recommends is a connector
	// restart (pkg/diagnose): eventhandler-disconnected, connector-stopped.
	// Devices already in a request that is still open are left to it.
	devices, err := s.curableDevices(ctx, runID)
	if err != nil {
		return nil, s.requestsFailed(ctx, runID, fmt.Errorf("select curable devices: %w", err))
	}
	if len(devices) == 0 {
		return nil, nil
	}
	reason := fmt.Sprintf("sweep %s (schedule %s) found %d device(s) whose diagnosis a connector restart cures",
		runID, schedule, len(devices))
	id, err := s.deps.Requests.RequestRestart(ctx, "sweep:"+schedule, devices, reason)
	if err != nil {
		return nil, s.requestsFailed(ctx, runID, fmt.Errorf("open remediation request: %w", err))
	}
	if _, err := s.pool.Exec(ctx, `UPDATE sweep_reports SET remediation_requests = array_append(remediation_requests, $2)
		WHERE run_id = $1`, runID, id); err != nil {
		return nil, fmt.Errorf("record remediation request %s: %w", id, err)
	}
	s.log.Info("sweep opened a remediation request (pending approval)", zap.String("run_id", runID.String()),
		zap.String("request_id", id.String()), zap.Int("devices", len(devices)))
	return []uuid.UUID{id}, nil
}

// curableDevices returns, by name, the devices of the run whose diagnosis
// recommends a connector restart and that no open request covers: two
// reads, one of each owner's tables (pkg/runs, pkg/remediate), once per
// report.
func (s *Service) curableDevices(ctx context.Context, runID uuid.UUID) ([]string, error) {
	cands, err := runs.DevicesRecommended(ctx, s.pool, runID, "restart-connector")
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	ids := make([]uuid.UUID, len(cands))
	for i, c := range cands {
		ids[i] = c.DeviceID
	}
	covered, err := remediate.DevicesInOpenRequests(ctx, s.pool, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cands {
		if !covered[c.DeviceID] {
			out = append(out, c.Device)
		}
	}
	return out, nil
}

// requestsFailed records why no request was opened; the report goes on.
func (s *Service) requestsFailed(ctx context.Context, runID uuid.UUID, cause error) error {
	s.log.Error("sweep could not open its remediation request", zap.String("run_id", runID.String()), zap.Error(cause))
	if _, err := s.pool.Exec(ctx, `UPDATE sweep_reports SET requests_error = $2 WHERE run_id = $1`, runID, cause.Error()); err != nil {
		return fmt.Errorf("record request failure: %w", err)
	}
	return nil
}

// SweepEventData is the data of a sweep.completed event.
type SweepEventData struct {
	Schedule            string      `json:"schedule"`
	Diff                Diff        `json:"diff"`
	RemediationRequests []uuid.UUID `json:"remediation_requests"`
}

func sweepEvent(rep Report) notify.Event {
	d := TruncateDiff(rep.Diff, notifyListMax)
	title := fmt.Sprintf("Sweep %s finished: %d newly unhealthy, %d recovered, %d still broken, %d unreachable",
		rep.Schedule, d.Summary.NewlyUnhealthy, d.Summary.Recovered, d.Summary.StillBroken, d.Summary.Unreachable)
	if n, r := len(d.NewIncidents), len(d.ResolvedIncidents); n+r > 0 {
		title += fmt.Sprintf("; %d new incident(s), %d resolved", n, r)
	}
	lines := DiffLines(d, 20)
	lines = append(lines, fmt.Sprintf("details: `fleetctl runs show %s --diff`", rep.RunID))
	for _, id := range rep.Requests {
		lines = append(lines, fmt.Sprintf("remediation request %s waits for approval: `fleetctl requests show %s`", id, id))
	}
	reqs := rep.Requests
	if reqs == nil {
		reqs = []uuid.UUID{}
	}
	ev, _ := notify.NewEvent(notify.EventSweepCompleted, "sweep.completed/"+rep.RunID.String(), title, lines,
		SweepEventData{Schedule: rep.Schedule, Diff: d, RemediationRequests: reqs})
	ev.Path = notify.RunPath(rep.RunID.String())
	return ev
}

// RetainedRunsSQL is a query of the ids of the sweep runs whose report
// still needs them (pkg/runs' retention keeps them whatever their age):
// the report's notification not yet sent, or one of the remediation
// requests it opened still open. openRequests is a query of the open
// requests' ids (remediate.OpenRequestsSQL).
func RetainedRunsSQL(openRequests string) string {
	return `SELECT run_id FROM sweep_reports WHERE notified_at IS NULL
		OR remediation_requests && ARRAY(` + openRequests + `)`
}
