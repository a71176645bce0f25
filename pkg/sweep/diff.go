package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/runs"
)

// DiffDevice is one device in a category of a Diff.
type DiffDevice struct {
	Device      string   `json:"device"`
	Site        string   `json:"site"`
	Health      string   `json:"health"`
	Diagnoses   []string `json:"diagnoses"`
	Recommended string   `json:"recommended,omitempty"`
	Error       string   `json:"error,omitempty"`
	// PreviousHealth is "" when the device was not in the previous run.
	PreviousHealth    string   `json:"previous_health"`
	PreviousDiagnoses []string `json:"previous_diagnoses,omitempty"`
	// Consecutive counts the runs in a row, this one included, of the same
	// kind and selector in which the device was not healthy: the nights a
	// nightly sweep has seen it broken (still broken and unreachable only).
	Consecutive int `json:"consecutive,omitempty"`
}

// DiffSummary counts a Diff.
type DiffSummary struct {
	Devices        int `json:"devices"`
	Healthy        int `json:"healthy"` // healthy now (recovered included)
	NewlyUnhealthy int `json:"newly_unhealthy"`
	Recovered      int `json:"recovered"`
	StillBroken    int `json:"still_broken"`
	Unreachable    int `json:"unreachable"`
	Pending        int `json:"pending"` // not finished yet (a run still going)
}

// Diff is what changed between a run and the previous completed run of the
// same kind and selector (`fleetctl runs show RUN_ID --diff`).
type Diff struct {
	RunID            uuid.UUID     `json:"run_id"`
	Kind             string        `json:"kind"`
	Schedule         string        `json:"schedule,omitempty"`
	Status           string        `json:"status"`
	Selector         runs.Selector `json:"selector"`
	CreatedAt        time.Time     `json:"created_at"`
	PreviousRunID    *uuid.UUID    `json:"previous_run_id"`
	PreviousFinished *time.Time    `json:"previous_finished_at"`
	Summary          DiffSummary   `json:"summary"`
	// Unhealthy now, healthy (or absent) in the previous run.
	NewlyUnhealthy []DiffDevice `json:"newly_unhealthy"`
	// Healthy now, unhealthy or unreachable in the previous run.
	Recovered []DiffDevice `json:"recovered"`
	// Unhealthy now and not healthy in the previous run.
	StillBroken []DiffDevice `json:"still_broken"`
	// Could not be checked now (unreachable, timeout, auth-failed,
	// hostkey-mismatch: see diagnoses), whatever it was before.
	Unreachable []DiffDevice `json:"unreachable"`
	// Truncated says the lists were cut (notifications carry the first ones).
	Truncated bool `json:"truncated,omitempty"`
}

// maxStreakRuns bounds how far back Consecutive looks.
const maxStreakRuns = 100

type devRow struct {
	id                        uuid.UUID
	name, site, state, health string
	diagnoses                 []string
	recommended, errText      string
}

func loadDevices(ctx context.Context, q pgxQuerier, runID uuid.UUID) ([]devRow, error) {
	rows, err := q.Query(ctx, `SELECT device_id, device, site, state, coalesce(health, ''), diagnoses, recommended, error
		FROM run_devices WHERE run_id = $1 ORDER BY device`, runID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (devRow, error) {
		var d devRow
		err := row.Scan(&d.id, &d.name, &d.site, &d.state, &d.health, &d.diagnoses, &d.recommended, &d.errText)
		return d, err
	})
}

type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Diff compares a run with the previous completed run of the same kind,
// selector and checks. A run still going gives a partial diff (Pending
// counts the devices not done).
func (s *Service) Diff(ctx context.Context, runID uuid.UUID) (Diff, error) {
	return computeDiff(ctx, s.pool, runID)
}

func computeDiff(ctx context.Context, q pgxQuerier, runID uuid.UUID) (Diff, error) {
	d := Diff{RunID: runID, NewlyUnhealthy: []DiffDevice{}, Recovered: []DiffDevice{}, StillBroken: []DiffDevice{},
		Unreachable: []DiffDevice{}}
	var sel []byte
	var checks []string
	err := q.QueryRow(ctx, `SELECT kind, coalesce(schedule, ''), status, selector, checks, created_at FROM runs WHERE id = $1`, runID).
		Scan(&d.Kind, &d.Schedule, &d.Status, &sel, &checks, &d.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("run %s: %w", runID, runs.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("load run %s: %w", runID, err)
	}
	_ = json.Unmarshal(sel, &d.Selector)
	if checks == nil {
		checks = []string{} // NULL would match nothing
	}

	var prevID uuid.UUID
	var prevFinished *time.Time
	err = q.QueryRow(ctx, `SELECT id, finished_at FROM runs
		WHERE kind = $1 AND selector = $2 AND checks = $3 AND status = 'completed' AND created_at < $4 AND id <> $5
		ORDER BY created_at DESC LIMIT 1`, d.Kind, sel, checks, d.CreatedAt, runID).Scan(&prevID, &prevFinished)
	switch {
	case err == nil:
		d.PreviousRunID, d.PreviousFinished = &prevID, prevFinished
	case !errors.Is(err, pgx.ErrNoRows):
		return d, fmt.Errorf("find the previous run: %w", err)
	}

	cur, err := loadDevices(ctx, q, runID)
	if err != nil {
		return d, fmt.Errorf("load run %s devices: %w", runID, err)
	}
	prev := map[uuid.UUID]devRow{}
	if d.PreviousRunID != nil {
		rows, err := loadDevices(ctx, q, prevID)
		if err != nil {
			return d, fmt.Errorf("load previous run %s devices: %w", prevID, err)
		}
		for _, r := range rows {
			if r.state == "done" {
				prev[r.id] = r
			}
		}
	}

	var broken []uuid.UUID // needs a streak
	for _, c := range cur {
		d.Summary.Devices++
		if c.state != "done" {
			d.Summary.Pending++
			continue
		}
		dd := DiffDevice{Device: c.name, Site: c.site, Health: c.health, Diagnoses: nonNil(c.diagnoses),
			Recommended: c.recommended, Error: c.errText}
		p, had := prev[c.id]
		if had {
			dd.PreviousHealth, dd.PreviousDiagnoses = p.health, p.diagnoses
		}
		switch c.health {
		case runs.HealthHealthy:
			d.Summary.Healthy++
			if had && p.health != runs.HealthHealthy {
				d.Recovered = append(d.Recovered, dd)
			}
		case runs.HealthUnhealthy:
			if !had || p.health == runs.HealthHealthy {
				dd.Consecutive = 1
				d.NewlyUnhealthy = append(d.NewlyUnhealthy, dd)
			} else {
				d.StillBroken = append(d.StillBroken, dd)
				broken = append(broken, c.id)
			}
		default:
			d.Unreachable = append(d.Unreachable, dd)
			broken = append(broken, c.id)
		}
	}
	d.Summary.NewlyUnhealthy, d.Summary.Recovered = len(d.NewlyUnhealthy), len(d.Recovered)
	d.Summary.StillBroken, d.Summary.Unreachable = len(d.StillBroken), len(d.Unreachable)

	if len(broken) > 0 {
		streaks, err := loadStreaks(ctx, q, d.Kind, sel, checks, d.CreatedAt, runID, broken)
		if err != nil {
			return d, err
		}
		byName := map[string]int{}
		for _, c := range cur {
			if n, ok := streaks[c.id]; ok {
				byName[c.name] = n
			}
		}
		for _, list := range [][]DiffDevice{d.StillBroken, d.Unreachable} {
			for i := range list {
				list[i].Consecutive = max(byName[list[i].Device], 1)
			}
		}
	}
	return d, nil
}

// loadStreaks counts, per device, the most recent runs of the same kind and
// selector (this one included) in which it was checked and not healthy,
// back to the last run in which it was healthy.
func loadStreaks(ctx context.Context, q pgxQuerier, kind string, sel []byte, checks []string, created time.Time,
	runID uuid.UUID, devices []uuid.UUID) (map[uuid.UUID]int, error) {
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
		kind, sel, checks, created, runID, devices, maxStreakRuns)
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Truncate returns a copy whose lists hold at most n devices each (for
// notifications); the summary keeps the full counts.
func (d Diff) Truncate(n int) Diff {
	cut := func(l []DiffDevice) []DiffDevice {
		if len(l) > n {
			d.Truncated = true
			return slices.Clone(l[:n])
		}
		return l
	}
	d.NewlyUnhealthy, d.Recovered = cut(d.NewlyUnhealthy), cut(d.Recovered)
	d.StillBroken, d.Unreachable = cut(d.StillBroken), cut(d.Unreachable)
	return d
}

// Lines renders the diff for people (chat notifications), most urgent first.
func (d Diff) Lines(maxPerList int) []string {
	s := d.Summary
	lines := []string{fmt.Sprintf("%d devices: %d healthy, %d newly unhealthy, %d recovered, %d still broken, %d unreachable",
		s.Devices, s.Healthy, s.NewlyUnhealthy, s.Recovered, s.StillBroken, s.Unreachable)}
	if d.PreviousRunID == nil {
		lines = append(lines, "no previous sweep of this selector to compare with")
	}
	section := func(title string, l []DiffDevice, total int, withNights bool) {
		if total == 0 {
			return
		}
		items := make([]string, 0, min(len(l), maxPerList))
		for i, dd := range l {
			if i == maxPerList {
				break
			}
			item := "`" + dd.Device + "`"
			var what []string
			if len(dd.Diagnoses) > 0 {
				what = append(what, strings.Join(dd.Diagnoses, ","))
			}
			if withNights && dd.Consecutive > 1 {
				what = append(what, fmt.Sprintf("%d in a row", dd.Consecutive))
			}
			if len(what) > 0 {
				item += " (" + strings.Join(what, "; ") + ")"
			}
			items = append(items, item)
		}
		line := fmt.Sprintf("%s (%d): %s", title, total, strings.Join(items, ", "))
		if total > len(items) {
			line += fmt.Sprintf(" and %d more", total-len(items))
		}
		lines = append(lines, line)
	}
	section("newly unhealthy", d.NewlyUnhealthy, s.NewlyUnhealthy, false)
	section("unreachable", d.Unreachable, s.Unreachable, true)
	section("still broken", d.StillBroken, s.StillBroken, true)
	section("recovered", d.Recovered, s.Recovered, false)
	return lines
}
