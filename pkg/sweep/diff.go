package sweep

import (
	"github.com/fleetd/fleetd/pkg/api"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/runs"
)

// DiffDevice is one device in a category of a Diff.
type DiffDevice = api.DiffDevice

// DiffSummary counts a Diff.
type DiffSummary = api.DiffSummary

// Diff is what changed between a run and the previous completed run of the
// same kind and selector (`fleetctl runs show RUN_ID --diff`).
type Diff = api.RunDiff

// maxStreakRuns bounds how far back Consecutive looks.
const maxStreakRuns = 100

// Diff compares a run with the previous completed run of the same kind,
// selector and checks. A run still going gives a partial diff (Pending
// counts the devices not done).
func (s *Service) Diff(ctx context.Context, runID uuid.UUID) (Diff, error) {
	d, err := computeDiff(ctx, s.pool, runID)
	if err != nil {
		return d, err
	}
	return d, s.diffIncidents(ctx, &d)
}

// diffIncidents names the incidents the run has and the previous run had
// not (new), and the other way round (resolved), compared by ID.
func (s *Service) diffIncidents(ctx context.Context, d *Diff) error {
	cur, err := s.incidents.ForRun(ctx, d.RunID)
	if err != nil {
		return err
	}
	var prev []api.Incident
	if d.PreviousRunID != nil {
		p, err := s.incidents.ForRun(ctx, *d.PreviousRunID)
		if err != nil {
			return err
		}
		prev = p.Incidents
	}
	d.NewIncidents, d.ResolvedIncidents = incident.Changes(prev, cur.Incidents)
	return nil
}

func computeDiff(ctx context.Context, q runs.Querier, runID uuid.UUID) (Diff, error) {
	d := Diff{RunID: runID, NewlyUnhealthy: []DiffDevice{}, Recovered: []DiffDevice{}, StillBroken: []DiffDevice{},
		Unreachable: []DiffDevice{}}
	h, err := runs.LoadHeader(ctx, q, runID)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("run %s: %w", runID, runs.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("load run %s: %w", runID, err)
	}
	d.Kind, d.Schedule, d.Status, d.CreatedAt = h.Kind, h.Schedule, h.Status, h.CreatedAt
	_ = json.Unmarshal(h.Selector, &d.Selector)

	prevID, prevFinished, err := runs.PreviousCompleted(ctx, q, h)
	switch {
	case err == nil:
		d.PreviousRunID, d.PreviousFinished = &prevID, prevFinished
	case !errors.Is(err, pgx.ErrNoRows):
		return d, fmt.Errorf("find the previous run: %w", err)
	}

	cur, err := runs.DeviceStates(ctx, q, runID)
	if err != nil {
		return d, fmt.Errorf("load run %s devices: %w", runID, err)
	}
	prev := map[uuid.UUID]runs.DeviceState{}
	if d.PreviousRunID != nil {
		rows, err := runs.DeviceStates(ctx, q, prevID)
		if err != nil {
			return d, fmt.Errorf("load previous run %s devices: %w", prevID, err)
		}
		for _, r := range rows {
			if r.State == "done" {
				prev[r.DeviceID] = r
			}
		}
	}

	var broken []uuid.UUID // needs a streak
	for _, c := range cur {
		d.Summary.Devices++
		if c.State != "done" {
			d.Summary.Pending++
			continue
		}
		dd := DiffDevice{Device: c.Device, Site: c.Site, Health: c.Health, Diagnoses: nonNil(c.Diagnoses),
			Recommended: c.Recommended, Error: c.Error}
		p, had := prev[c.DeviceID]
		if had {
			dd.PreviousHealth, dd.PreviousDiagnoses = p.Health, p.Diagnoses
		}
		switch c.Health {
		case runs.HealthHealthy:
			d.Summary.Healthy++
			if had && p.Health != runs.HealthHealthy {
				d.Recovered = append(d.Recovered, dd)
			}
		case runs.HealthUnhealthy:
			if !had || p.Health == runs.HealthHealthy {
				dd.Consecutive = 1
				d.NewlyUnhealthy = append(d.NewlyUnhealthy, dd)
			} else {
				d.StillBroken = append(d.StillBroken, dd)
				broken = append(broken, c.DeviceID)
			}
		default:
			d.Unreachable = append(d.Unreachable, dd)
			broken = append(broken, c.DeviceID)
		}
	}
	d.Summary.NewlyUnhealthy, d.Summary.Recovered = len(d.NewlyUnhealthy), len(d.Recovered)
	d.Summary.StillBroken, d.Summary.Unreachable = len(d.StillBroken), len(d.Unreachable)

	if len(broken) > 0 {
		streaks, err := runs.UnhealthyStreaks(ctx, q, h, broken, maxStreakRuns)
		if err != nil {
			return d, err
		}
		byName := map[string]int{}
		for _, c := range cur {
			if n, ok := streaks[c.DeviceID]; ok {
				byName[c.Device] = n
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TruncateDiff returns a copy of d whose lists hold at most n devices each
// (for notifications); the summary keeps the full counts. (A function, not a
// method: Diff is the wire type api.RunDiff.)
func TruncateDiff(d Diff, n int) Diff {
	cut := func(l []DiffDevice) []DiffDevice {
		if len(l) > n {
			d.Truncated = true
			return slices.Clone(l[:n])
		}
		return l
	}
	d.NewlyUnhealthy, d.Recovered = cut(d.NewlyUnhealthy), cut(d.Recovered)
	d.StillBroken, d.Unreachable = cut(d.StillBroken), cut(d.Unreachable)
	// An incident's device list too: a site-wide one names thousands.
	cutDevices := func(l []api.Incident) []api.Incident {
		out := slices.Clone(l)
		for i := range out {
			if len(out[i].Devices) > n {
				out[i].Devices = slices.Clone(out[i].Devices[:n])
				d.Truncated = true
			}
		}
		return out
	}
	d.NewIncidents, d.ResolvedIncidents = cutDevices(d.NewIncidents), cutDevices(d.ResolvedIncidents)
	return d
}

// IncidentLines names d's new and resolved incidents, one line each.
func IncidentLines(d Diff) []string {
	var lines []string
	for _, in := range d.NewIncidents {
		lines = append(lines, fmt.Sprintf("new incident %s: %s; fix: %s", in.ID, in.Summary, in.Fix))
	}
	for _, in := range d.ResolvedIncidents {
		lines = append(lines, fmt.Sprintf("resolved incident %s (%d devices)", in.ID, len(in.Devices)))
	}
	return lines
}

// DiffLines renders d for people (chat notifications), most urgent first.
func DiffLines(d Diff, maxPerList int) []string {
	s := d.Summary
	lines := []string{fmt.Sprintf("%d devices: %d healthy, %d newly unhealthy, %d recovered, %d still broken, %d unreachable",
		s.Devices, s.Healthy, s.NewlyUnhealthy, s.Recovered, s.StillBroken, s.Unreachable)}
	if d.PreviousRunID == nil {
		lines = append(lines, "no previous sweep of this selector to compare with")
	}
	lines = append(lines, IncidentLines(d)...)
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
