package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/runs"
)

// Querier is what both a pool and a transaction offer (one definition,
// pkg/runs').
type Querier = runs.Querier

type querier = Querier

const requestColumns = `id, action, state, requested_by, reason, selector, schedule, run_at, not_before,
	schedule_note, batch_size, failure_threshold, params_hash, created_at, expires_at,
	coalesce(approved_by, ''), approved_at, approval_comment, coalesce(approved_hash, ''),
	coalesce(rejected_by, ''), reject_reason, coalesce(cancelled_by, ''), cancel_reason, decided_at,
	started_at, finished_at, result, params_version`

// requestRow is a request as stored, with the fields only the package uses.
type requestRow struct {
	Request
	approvedHash  string
	paramsVersion int // canonicalParams version of params_hash
}

func scanRequest(row pgx.Row) (requestRow, error) {
	var r requestRow
	var sel, result []byte
	err := row.Scan(&r.ID, &r.Action, &r.State, &r.RequestedBy, &r.Reason, &sel, &r.Schedule, &r.At, &r.NotBefore,
		&r.ScheduleNote, &r.BatchSize, &r.FailureThreshold, &r.ParamsHash, &r.CreatedAt, &r.ExpiresAt,
		&r.ApprovedBy, &r.ApprovedAt, &r.ApprovalComment, &r.approvedHash,
		&r.RejectedBy, &r.RejectReason, &r.CancelledBy, &r.CancelReason, &r.DecidedAt,
		&r.StartedAt, &r.FinishedAt, &result, &r.paramsVersion)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(sel, &r.Selector); err != nil {
		return r, fmt.Errorf("decode selector of request %s: %w", r.ID, err)
	}
	if len(result) > 0 && string(result) != "null" {
		r.Result = &Result{}
		if err := json.Unmarshal(result, r.Result); err != nil {
			return r, fmt.Errorf("decode result of request %s: %w", r.ID, err)
		}
	}
	return r, nil
}

// CountPendingApprovals counts the requests waiting for an approver (pending
// and not yet expired), for the approvals gauge of pkg/metrics.
func CountPendingApprovals(ctx context.Context, q Querier) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM remediation_requests
		WHERE state = 'pending' AND expires_at > now()`).Scan(&n)
	return n, err
}

// DevicesInOpenRequests returns which of the devices (by id) a request not
// yet final (pending, approved, scheduled or running) covers, for a sweep
// that opens requests only for devices no open request covers yet.
func DevicesInOpenRequests(ctx context.Context, q Querier, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT x.device_id FROM remediation_devices x
		JOIN remediation_requests r ON r.id = x.request_id
		WHERE x.device_id = ANY($1) AND r.state IN ('pending', 'approved', 'scheduled', 'running')`, ids)
	if err != nil {
		return nil, err
	}
	covered := map[uuid.UUID]bool{}
	var id uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		covered[id] = true
		return nil
	})
	return covered, err
}

func loadRequest(ctx context.Context, q querier, id uuid.UUID, forUpdate bool) (requestRow, error) {
	sql := `SELECT ` + requestColumns + ` FROM remediation_requests WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	r, err := scanRequest(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return r, fmt.Errorf("load request %s: %w", id, err)
	}
	return r, nil
}

// deviceRow is one frozen device of a request with its progress.
type deviceRow struct {
	Device
	Position        int
	Batch           int
	Outcome         string
	Step            string
	DiagnosesBefore []string
	DiagnosesAfter  []string
	Message         string
	Error           string
	ErrorClass      string
	Recommended     string
	StartedAt       *time.Time
	FinishedAt      *time.Time
}

func (d deviceRow) result() DeviceResult {
	r := DeviceResult{Device: d.Name, Site: d.Site, Batch: d.Batch, Outcome: d.Outcome, Step: d.Step,
		DiagnosesBefore: d.DiagnosesBefore, DiagnosesAfter: d.DiagnosesAfter, Message: d.Message,
		Error: d.Error, ErrorClass: d.ErrorClass, Recommended: d.Recommended,
		StartedAt: d.StartedAt, FinishedAt: d.FinishedAt}
	if r.DiagnosesBefore == nil {
		r.DiagnosesBefore = []string{}
	}
	if r.DiagnosesAfter == nil {
		r.DiagnosesAfter = []string{}
	}
	return r
}

func loadDevices(ctx context.Context, q querier, id uuid.UUID) ([]deviceRow, error) {
	rows, err := q.Query(ctx, `SELECT device_id, device, site, kind, address, credential, host_key, position, batch,
			outcome, step, diagnoses_before, diagnoses_after, message, error, error_class, recommended, started_at, finished_at
		FROM remediation_devices WHERE request_id = $1 ORDER BY position`, id)
	if err != nil {
		return nil, fmt.Errorf("load devices of request %s: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (deviceRow, error) {
		var d deviceRow
		err := row.Scan(&d.ID, &d.Name, &d.Site, &d.Kind, &d.Address, &d.Credential, &d.HostKey, &d.Position, &d.Batch,
			&d.Outcome, &d.Step,
			&d.DiagnosesBefore, &d.DiagnosesAfter, &d.Message, &d.Error, &d.ErrorClass, &d.Recommended,
			&d.StartedAt, &d.FinishedAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("load devices of request %s: %w", id, err)
	}
	return out, nil
}

// recomputeHash rebuilds the canonical parameters from what is stored now,
// in the version the request was made with.
func recomputeHash(r requestRow, devs []deviceRow) string {
	ds := make([]Device, len(devs))
	for i, d := range devs {
		ds[i] = d.Device
	}
	return paramsHash(r.paramsVersion, r.ID, r.Action, r.RequestedBy, r.Reason, r.Selector, ds, r.Schedule, r.At,
		r.BatchSize, r.FailureThreshold)
}

// summarize counts outcomes.
func summarize(devs []deviceRow) Summary {
	s := Summary{Devices: len(devs)}
	for _, d := range devs {
		switch d.Outcome {
		case OutcomeSucceeded:
			s.Succeeded++
		case OutcomeSkipped:
			s.Skipped++
		case OutcomeFailed:
			s.Failed++
		case OutcomeNotRun:
			s.NotRun++
		default:
			s.Pending++
		}
	}
	return s
}
