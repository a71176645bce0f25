package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The reads of runs' tables that other packages need to compare and report
// runs (pkg/sweep: diffs, reports, the catch-up of schedules), so that they
// never name runs or run_devices themselves (internal/archtest checks it).
// Each is the one query it was in its caller, and takes a Querier: a pool,
// or the caller's transaction when the read must happen under its locks.

// Querier is what both a pool and a transaction offer.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Header is what comparing a run with others needs of it.
type Header struct {
	ID       uuid.UUID
	Kind     string
	Schedule string // "" for a run no schedule started
	Status   string
	// Selector is the selector as stored: runs of the same selection are
	// found by comparing it as stored.
	Selector   []byte
	Checks     []string // never nil (NULL would match no run)
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// LoadHeader returns run id's header; the error is pgx.ErrNoRows when no
// run has the id.
func LoadHeader(ctx context.Context, q Querier, id uuid.UUID) (Header, error) {
	h := Header{ID: id}
	err := q.QueryRow(ctx, `SELECT kind, coalesce(schedule, ''), status, selector, checks, created_at, finished_at
		FROM runs WHERE id = $1`, id).
		Scan(&h.Kind, &h.Schedule, &h.Status, &h.Selector, &h.Checks, &h.CreatedAt, &h.FinishedAt)
	if h.Checks == nil {
		h.Checks = []string{}
	}
	return h, err
}

// PreviousCompleted returns the latest completed run before h of the same
// kind, selector and checks; the error is pgx.ErrNoRows when there is none.
func PreviousCompleted(ctx context.Context, q Querier, h Header) (uuid.UUID, *time.Time, error) {
	var id uuid.UUID
	var finished *time.Time
	err := q.QueryRow(ctx, `SELECT id, finished_at FROM runs
		WHERE kind = $1 AND selector = $2 AND checks = $3 AND status = 'completed' AND created_at < $4 AND id <> $5
		ORDER BY created_at DESC LIMIT 1`, h.Kind, h.Selector, h.Checks, h.CreatedAt, h.ID).Scan(&id, &finished)
	return id, finished, err
}

// DeviceState is one device's row in a run.
type DeviceState struct {
	DeviceID    uuid.UUID
	Device      string
	Site        string
	State       string // "pending" or "done"
	Health      string // "" while pending
	Diagnoses   []string
	Recommended string
	Error       string
}

// DeviceStates returns the devices of run id, by name.
func DeviceStates(ctx context.Context, q Querier, id uuid.UUID) ([]DeviceState, error) {
	rows, err := q.Query(ctx, `SELECT device_id, device, site, state, coalesce(health, ''), diagnoses, recommended, error
		FROM run_devices WHERE run_id = $1 ORDER BY device`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceState, error) {
		var d DeviceState
		err := row.Scan(&d.DeviceID, &d.Device, &d.Site, &d.State, &d.Health, &d.Diagnoses, &d.Recommended, &d.Error)
		return d, err
	})
}

// UnhealthyStreaks counts, per device of devices, the most recent runs of
// h's kind, selector and checks (h included, and at most maxRuns) in which
// it was checked and not healthy, back to the last run in which it was
// healthy.
func UnhealthyStreaks(ctx context.Context, q Querier, h Header, devices []uuid.UUID, maxRuns int) (map[uuid.UUID]int, error) {
	rows, err := q.Query(ctx, `
		WITH recent AS (
			SELECT id, row_number() OVER (ORDER BY created_at DESC) AS n FROM runs
			WHERE kind = $1 AND selector = $2 AND checks = $3 AND created_at <= $4
			  AND (status = 'completed' OR id = $5)
			ORDER BY created_at DESC LIMIT $7
		), hist AS (
			SELECT rd.device_id, r.n, rd.health FROM run_devices rd JOIN recent r ON r.id = rd.run_id
			WHERE rd.device_id = ANY($6) AND rd.state = 'done'
		), last_healthy AS (
			SELECT device_id, min(n) FILTER (WHERE health = 'healthy') AS n FROM hist GROUP BY device_id
		)
		SELECT h.device_id, count(*) FROM hist h JOIN last_healthy l USING (device_id)
		WHERE l.n IS NULL OR h.n < l.n GROUP BY h.device_id`,
		h.Kind, h.Selector, h.Checks, h.CreatedAt, h.ID, devices, maxRuns)
	if err != nil {
		return nil, fmt.Errorf("count consecutive unhealthy runs: %w", err)
	}
	out := map[uuid.UUID]int{}
	for rows.Next() {
		var id uuid.UUID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("count consecutive unhealthy runs: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// DevicesRecommended returns the names of the devices of run id found
// unhealthy with recommended as the cure, by name, each with its id.
func DevicesRecommended(ctx context.Context, q Querier, id uuid.UUID, recommended string) ([]DeviceState, error) {
	rows, err := q.Query(ctx, `SELECT device_id, device FROM run_devices
		WHERE run_id = $1 AND state = 'done' AND health = 'unhealthy' AND recommended = $2
		ORDER BY device`, id, recommended)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceState, error) {
		d := DeviceState{State: "done", Health: HealthUnhealthy, Recommended: recommended}
		return d, row.Scan(&d.DeviceID, &d.Device)
	})
}

// FirstSweepSince returns the oldest sweep run of schedule created after
// after (any, when nil); the error is pgx.ErrNoRows when there is none.
func FirstSweepSince(ctx context.Context, q Querier, schedule string, after *time.Time) (uuid.UUID, time.Time, error) {
	var id uuid.UUID
	var created time.Time
	err := q.QueryRow(ctx, `SELECT id, created_at FROM runs WHERE kind = 'sweep' AND schedule = $1
		AND ($2::timestamptz IS NULL OR created_at > $2) ORDER BY created_at LIMIT 1`, schedule, after).
		Scan(&id, &created)
	return id, created, err
}

// CompletedSweeps returns the sweep runs completed before before and
// less than days days earlier.
func CompletedSweeps(ctx context.Context, q Querier, before time.Time, days int) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT id FROM runs
		WHERE kind = 'sweep' AND status = 'completed'
		  AND finished_at < $1 AND finished_at > $1 - make_interval(days => $2)`, before, days)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// SummarySQL returns the select-list columns and the join that give, in
// another package's query, the status and counts of the run whose id is
// the SQL expression runID (a LEFT JOIN under alias: "" and zeros when
// there is no such run). Scan them with SummaryDest.
func SummarySQL(alias, runID string) (columns, join string) {
	a := alias + "."
	columns = `coalesce(` + a + `status, ''), coalesce(` + a + `total, 0), coalesce(` + a + `done, 0), coalesce(` +
		a + `healthy, 0), coalesce(` + a + `unhealthy, 0), coalesce(` + a + `errors, 0)`
	join = `LEFT JOIN runs ` + alias + ` ON ` + a + `id = ` + runID
	return columns, join
}

// SummaryDest returns the scan destinations of SummarySQL's columns.
func SummaryDest(status *string, s *Summary) []any {
	return []any{status, &s.Devices, &s.Done, &s.Healthy, &s.Unhealthy, &s.Error}
}
