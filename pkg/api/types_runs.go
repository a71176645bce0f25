package api

import "github.com/fleetd/fleetd/pkg/runs"

// Wire types of runs and status are pkg/runs' own: they were written to the
// DESIGN.md contract (`diagnose -o json`, `status -o json`).
type (
	Run          = runs.Run
	RunSummary   = runs.Summary
	DeviceResult = runs.DeviceResult
	DeviceStatus = runs.DeviceStatus
	Selector     = runs.Selector
)

// StartRunRequest is the body of POST /v1/runs.
type StartRunRequest struct {
	Selector Selector `json:"selector"`
	Checks   []string `json:"checks,omitempty"`
}
