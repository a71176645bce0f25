package runs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/queues"
)

// ErrNotFound is returned for an unknown run.
var ErrNotFound = errors.New("run not found")

// SelectionError says why a selector matched no usable device set.
type SelectionError struct {
	Unknown []string // device names not in the inventory
	Empty   bool     // the selector matched nothing
	Reason  string
}

func (e *SelectionError) Error() string {
	switch {
	case len(e.Unknown) > 0:
		return "unknown device(s): " + strings.Join(e.Unknown, ", ")
	case e.Reason != "":
		return e.Reason
	default:
		return "no devices match the selection"
	}
}

// DeviceSource resolves a selector to devices (pkg/inventory in production).
type DeviceSource interface {
	SelectDevices(ctx context.Context, sel Selector) ([]Device, error)
}

// Inserter is the part of a River client the service needs.
type Inserter interface {
	InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error)
}

// Service creates runs and answers queries about them.
type Service struct {
	pool        *pgxpool.Pool
	river       Inserter
	devices     DeviceSource
	log         *zap.Logger
	maxAttempts int
	batch       int
}

// DefaultMaxAttempts bounds a device job's attempts when NewService is
// given none; it is jobs.max_attempts's default in fleetd's config file (a
// test in internal/app holds the two together).
const DefaultMaxAttempts = 3

// NewService returns a Service. maxAttempts bounds the River attempts of a
// device job (retries happen only for transient failures); below 1 it is
// DefaultMaxAttempts.
func NewService(pool *pgxpool.Pool, inserter Inserter, devices DeviceSource, maxAttempts int, log *zap.Logger) *Service {
	if maxAttempts < 1 {
		maxAttempts = DefaultMaxAttempts
	}
	return &Service{pool: pool, river: inserter, devices: devices, log: log, maxAttempts: maxAttempts,
		batch: DefaultDeviceBatch}
}

// DefaultDeviceBatch is how many of a run's devices one device job
// carries when WithDeviceBatch is not given; it is jobs.diagnose_batch's
// default in fleetd's config file.
//
// Why batches (issue 15): a job is three writes of a River row with seven
// indexes, two of them GIN (insert, fetch, completion), plus the job's own
// load query. One job per device made that most of PostgreSQL's share of a
// run; eight devices per job divide it by eight. The devices of a batch
// run at once (the process's diagnose workers are sized so that batches ×
// devices is runner.max_concurrent), so a batch ends within one session's
// deadline, as a one-device job did, and River's rescue and the session
// lease work as before.
const DefaultDeviceBatch = 8

// WithDeviceBatch sets how many devices one device job carries (1: one job
// per device). Runs with fewer devices than that get one job.
func (s *Service) WithDeviceBatch(n int) *Service {
	if n > 0 {
		s.batch = n
	}
	return s
}

// StartRequest asks for a run.
type StartRequest struct {
	Kind        string
	RequestedBy string
	Selector    Selector
	Checks      []string
	Schedule    string
}

// Start freezes the device list and enqueues its device jobs (batches of
// WithDeviceBatch devices, slowest first), all in one transaction: either
// the run exists with all its jobs, or nothing does.
func (s *Service) Start(ctx context.Context, req StartRequest) (Run, error) {
	if req.Kind == "" {
		req.Kind = KindDiagnose
	}
	devs, err := s.devices.SelectDevices(ctx, req.Selector)
	if err != nil {
		return Run{}, err
	}
	if len(devs) == 0 {
		return Run{}, &SelectionError{Empty: true}
	}
	slices.SortFunc(devs, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })

	run := Run{
		ID: uuid.New(), Kind: req.Kind, Status: StatusQueued, RequestedBy: req.RequestedBy,
		Selector: req.Selector, Checks: req.Checks, Schedule: req.Schedule,
		CreatedAt: time.Now().UTC(), Summary: Summary{Devices: len(devs)},
	}
	selJSON, _ := json.Marshal(req.Selector)
	checks := req.Checks
	if checks == nil {
		checks = []string{}
	}

	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var schedule *string
		if req.Schedule != "" {
			schedule = &req.Schedule
		}
		if _, err := tx.Exec(ctx, `INSERT INTO runs (id, kind, status, requested_by, selector, checks, schedule, total, created_at)
			VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8)`,
			run.ID, run.Kind, run.RequestedBy, selJSON, checks, schedule, len(devs), run.CreatedAt); err != nil {
			return fmt.Errorf("insert run: %w", err)
		}
		rows := make([][]any, len(devs))
		for i, d := range devs {
			rows[i] = []any{run.ID, d.ID, d.Name, d.Site, d.Kind}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"run_devices"},
			[]string{"run_id", "device_id", "device", "site", "kind"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert run devices: %w", err)
		}
		order, err := longestFirst(ctx, tx, devs)
		if err != nil {
			return err
		}
		params := make([]river.InsertManyParams, 0, (len(order)+s.batch-1)/s.batch)
		for b := range slices.Chunk(order, s.batch) {
			args := DiagnoseArgs{RunID: run.ID, Checks: req.Checks}
			if len(b) == 1 {
				args.DeviceID = b[0].ID
			} else {
				args.DeviceIDs = make([]uuid.UUID, len(b))
				for i, d := range b {
					args.DeviceIDs[i] = d.ID
				}
			}
			params = append(params, river.InsertManyParams{Args: args,
				InsertOpts: &river.InsertOpts{Queue: queues.Diagnose, MaxAttempts: s.maxAttempts}})
		}
		if _, err := s.river.InsertManyFastTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue device jobs: %w", err)
		}
		return nil
	})
	if err != nil {
		return Run{}, fmt.Errorf("start run: %w", err)
	}
	s.log.Info("run created", zap.String("run_id", run.ID.String()), zap.String("kind", run.Kind),
		zap.Int("devices", len(devs)), zap.String("requested_by", run.RequestedBy))
	return run, nil
}

// longestFirst orders devs for their jobs (River works them in insertion
// order): by the longest single command of each device's last session,
// longest first, and devices never checked before those. At real latencies
// the few devices that wait out a timeout (a blocked egress: 10 s of curl)
// would otherwise start in the last wave as often as in the first and end
// the run 10 s after everything else (issue 15); started first, they
// overlap the rest. Not the session's length: when a run saturates the
// CPU, that is mostly queueing and depends on the wave a device ran in
// (the first wave's sessions are the shortest), so ranking by it put last
// run's first wave last, blocked egresses included. Results from before
// migration 013 have no longest command and rank by their session length.
// One index probe per device (run_devices_device_idx), before the run's
// own rows exist.
func longestFirst(ctx context.Context, q Querier, devs []Device) ([]Device, error) {
	ids := make([]uuid.UUID, len(devs))
	for i, d := range devs {
		ids[i] = d.ID
	}
	rows, err := q.Query(ctx, `SELECT x.id, extract(epoch FROM l.d)::float8 FROM unnest($1::uuid[]) AS x (id)
		CROSS JOIN LATERAL (SELECT coalesce(longest_command_ms * interval '1 ms', finished_at - started_at) AS d FROM run_devices
			WHERE device_id = x.id AND finished_at IS NOT NULL AND state = 'done' AND started_at IS NOT NULL
			ORDER BY finished_at DESC LIMIT 1) l`, ids)
	if err != nil {
		return nil, fmt.Errorf("last session lengths: %w", err)
	}
	last := make(map[uuid.UUID]float64, len(devs))
	for rows.Next() {
		var id uuid.UUID
		var secs float64
		if err := rows.Scan(&id, &secs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("last session lengths: %w", err)
		}
		last[id] = secs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last session lengths: %w", err)
	}
	out := slices.Clone(devs)
	length := func(d Device) float64 {
		if secs, ok := last[d.ID]; ok {
			return secs
		}
		return math.Inf(1) // never checked: unknown, so early
	}
	slices.SortStableFunc(out, func(a, b Device) int { return cmp.Compare(length(b), length(a)) })
	return out, nil
}

// GetOptions says how much of a run to load.
type GetOptions struct {
	Devices     bool   // include per-device results
	Checks      bool   // include per-check results (implies Devices)
	Device      string // only this device (implies Devices and Checks)
	Transcripts bool   // include transcripts (only with Device)
}

const runColumns = `id, kind, status, requested_by, selector, checks, coalesce(schedule, ''), created_at,
	started_at, finished_at, total, done, healthy, unhealthy, errors`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	var sel []byte
	err := row.Scan(&r.ID, &r.Kind, &r.Status, &r.RequestedBy, &sel, &r.Checks, &r.Schedule, &r.CreatedAt,
		&r.StartedAt, &r.FinishedAt, &r.Summary.Devices, &r.Summary.Done, &r.Summary.Healthy,
		&r.Summary.Unhealthy, &r.Summary.Error)
	if err != nil {
		return r, err
	}
	_ = json.Unmarshal(sel, &r.Selector)
	if len(r.Checks) == 0 {
		r.Checks = nil
	}
	return r, nil
}

// Get loads a run.
func (s *Service) Get(ctx context.Context, id uuid.UUID, opt GetOptions) (Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("load run %s: %w", id, err)
	}
	if opt.Device != "" {
		opt.Devices, opt.Checks = true, true
	}
	if opt.Checks {
		opt.Devices = true
	}
	if !opt.Devices {
		return r, nil
	}
	checksCol := `'null'::jsonb`
	if opt.Checks {
		checksCol = `rd.checks`
	}
	transcriptCol := `''`
	if opt.Transcripts && opt.Device != "" {
		transcriptCol = `coalesce(t.transcript, '')`
	}
	q := `SELECT rd.device, rd.site, rd.kind, rd.state, coalesce(rd.health, ''), rd.diagnoses, rd.recommended,
		rd.error, rd.attempts, rd.started_at, rd.finished_at, ` + checksCol + `, ` + transcriptCol + `, rd.sw_version
		FROM run_devices rd LEFT JOIN run_transcripts t ON t.run_id = rd.run_id AND t.device_id = rd.device_id
		WHERE rd.run_id = $1 AND ($2 = '' OR rd.device = $2) ORDER BY rd.device`
	rows, err := s.pool.Query(ctx, q, id, opt.Device)
	if err != nil {
		return r, fmt.Errorf("load run %s devices: %w", id, err)
	}
	r.Devices, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceResult, error) {
		var d DeviceResult
		var checks []byte
		err := row.Scan(&d.Device, &d.Site, &d.Kind, &d.State, &d.Health, &d.Diagnoses, &d.Recommended,
			&d.Error, &d.Attempts, &d.StartedAt, &d.FinishedAt, &checks, &d.Transcript, &d.SWVersion)
		if len(checks) > 0 && string(checks) != "null" {
			d.Checks = checks
		}
		if d.Diagnoses == nil {
			d.Diagnoses = []string{}
		}
		return d, err
	})
	if err != nil {
		return r, fmt.Errorf("load run %s devices: %w", id, err)
	}
	if opt.Device != "" && len(r.Devices) == 0 {
		return r, fmt.Errorf("device %q is not part of run %s: %w", opt.Device, id, ErrNotFound)
	}
	return r, nil
}

// List returns the most recent runs, newest first.
func (s *Service) List(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs ORDER BY created_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) { return scanRun(row) })
}

// StatusFilter narrows `fleetctl status`.
type StatusFilter struct {
	Site      string
	Diagnosis string
	Health    string
}

// Status returns the latest known health of every device in the inventory
// (devices never checked have health "unknown").
func (s *Service) Status(ctx context.Context, f StatusFilter) ([]DeviceStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.name, d.site, d.kind, coalesce(s.health, 'unknown'),
			coalesce(s.diagnoses, '{}'), coalesce(s.recommended, ''), coalesce(s.error, ''), s.checked_at, s.run_id
		FROM `+inventory.DevicesSQL("d")+` LEFT JOIN device_status s ON s.device_id = d.id
		WHERE ($1 = '' OR d.site = $1)
		  AND ($2 = '' OR s.diagnoses @> ARRAY[$2]::text[])
		  AND ($3 = '' OR coalesce(s.health, 'unknown') = $3)
		ORDER BY d.name`, f.Site, f.Diagnosis, f.Health)
	if err != nil {
		return nil, fmt.Errorf("device status: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceStatus, error) {
		var d DeviceStatus
		err := row.Scan(&d.Device, &d.Site, &d.Kind, &d.Health, &d.Diagnoses, &d.Recommended, &d.Error,
			&d.CheckedAt, &d.RunID)
		return d, err
	})
}
