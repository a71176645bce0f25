package api

import (
	"time"

	"github.com/google/uuid"
)

// Wire types of sweep schedules and run diffs (`schedule list -o json`,
// `runs show --diff -o json`). internal/apiserver maps pkg/sweep's types onto
// them.

// Schedule is a sweep schedule with its last and next run.
type Schedule struct {
	Name                      string           `json:"name"`
	Cron                      string           `json:"cron"`
	Timezone                  string           `json:"timezone"`
	Selector                  Selector         `json:"selector"`
	Enabled                   bool             `json:"enabled"`
	EnabledBy                 string           `json:"enabled_by"` // "config" or who changed it
	EnabledAt                 time.Time        `json:"enabled_at"`
	CreateRemediationRequests bool             `json:"create_remediation_requests"`
	NextRun                   *time.Time       `json:"next_run"` // nil when disabled
	LastSlot                  *time.Time       `json:"last_slot"`
	LastRun                   *ScheduleLastRun `json:"last_run"`
	LastError                 string           `json:"last_error,omitempty"`
}

// ScheduleLastRun is the latest sweep a schedule started.
type ScheduleLastRun struct {
	ID        uuid.UUID  `json:"id"`
	StartedAt time.Time  `json:"started_at"`
	Status    string     `json:"status"` // "" if the run was since deleted
	Summary   RunSummary `json:"summary"`
}

// RunDiff is what changed between a run and the previous completed run of
// the same kind and selector (`fleetctl runs show RUN_ID --diff`).
type RunDiff struct {
	RunID            uuid.UUID   `json:"run_id"`
	Kind             string      `json:"kind"`
	Schedule         string      `json:"schedule,omitempty"`
	Status           string      `json:"status"`
	Selector         Selector    `json:"selector"`
	CreatedAt        time.Time   `json:"created_at"`
	PreviousRunID    *uuid.UUID  `json:"previous_run_id"`
	PreviousFinished *time.Time  `json:"previous_finished_at"`
	Summary          DiffSummary `json:"summary"`
	// Unhealthy now, healthy (or absent) in the previous run.
	NewlyUnhealthy []DiffDevice `json:"newly_unhealthy"`
	// Healthy now, unhealthy or unreachable in the previous run.
	Recovered []DiffDevice `json:"recovered"`
	// Unhealthy now and not healthy in the previous run.
	StillBroken []DiffDevice `json:"still_broken"`
	// Could not be checked now (unreachable, timeout, auth-failed,
	// hostkey-mismatch: see diagnoses), whatever it was before.
	Unreachable []DiffDevice `json:"unreachable"`
	// Incidents of this run that the previous one did not have (by ID), and
	// those of the previous run that this one no longer has.
	NewIncidents      []Incident `json:"new_incidents,omitempty"`
	ResolvedIncidents []Incident `json:"resolved_incidents,omitempty"`
	// Truncated says the lists were cut (notifications carry the first ones).
	Truncated bool `json:"truncated,omitempty"`
}

// DiffSummary counts a RunDiff.
type DiffSummary struct {
	Devices        int `json:"devices"`
	Healthy        int `json:"healthy"` // healthy now (recovered included)
	NewlyUnhealthy int `json:"newly_unhealthy"`
	Recovered      int `json:"recovered"`
	StillBroken    int `json:"still_broken"`
	Unreachable    int `json:"unreachable"`
	Pending        int `json:"pending"` // not finished yet (a run still going)
}

// DiffDevice is one device in a category of a RunDiff.
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
