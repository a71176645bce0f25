package api

import "github.com/fleetd/fleetd/pkg/sweep"

// Wire types of schedules and run diffs are pkg/sweep's own.
type (
	Schedule   = sweep.Schedule
	RunDiff    = sweep.Diff
	DiffDevice = sweep.DiffDevice
)
