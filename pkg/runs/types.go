package runs

import (
	"github.com/fleetd/fleetd/pkg/api"

	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/diagnose"
)

// Kinds of run.
const (
	KindDiagnose = "diagnose"
	KindSweep    = "sweep"
)

// Run statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// Device health values (docs/design.md, "Contracts"), as the strings runs
// store and answer: diagnose's values, defined there once.
const (
	HealthHealthy   = string(diagnose.HealthHealthy)
	HealthUnhealthy = string(diagnose.HealthUnhealthy)
	HealthError     = string(diagnose.HealthError)
	HealthUnknown   = string(diagnose.HealthUnknown) // status of a device never checked
)

// Device is a device as frozen into a run.
type Device struct {
	ID   uuid.UUID `json:"-"`
	Name string    `json:"device"`
	Site string    `json:"site"`
	Kind string    `json:"kind"`

	// Filled by the worker from the inventory in the same query that loads
	// the job's device, so that a device costs one round trip before SSH:
	// where to connect, with which credential, and the pinned host key
	// (SSH wire format; nil when none is pinned yet).
	Address       string            `json:"-"`
	Credential    string            `json:"-"`
	Tags          map[string]string `json:"-"`
	PinnedHostKey []byte            `json:"-"`
}

// The run objects below are the API's contract objects themselves
// (pkg/api, a leaf importing nothing of fleetd): one definition, which the
// server writes as it is, the way Teleport's services use api/types.

// Selector says which devices a run covers. Exactly one of All, Site,
// Devices or Tag selects; Site and Tag may be combined.
type Selector = api.Selector

// Summary counts a run's devices.
type Summary = api.RunSummary

// Run is the object of docs/design.md's `diagnose -o json` contract.
type Run = api.Run

// DeviceResult is one device's result within a run.
type DeviceResult = api.DeviceResult

// DeviceStatus is a device's latest known health (`fleetctl status`).
type DeviceStatus = api.DeviceStatus

// Outcome is what a Diagnoser found on one device.
type Outcome struct {
	Health      string
	Diagnoses   []string
	Recommended string
	Error       string // operator-readable; never contains a secret
	Checks      json.RawMessage
	Transcript  string
	// SWVersion is the software version the device's login banner named
	// ("" when none did).
	SWVersion  string
	StartedAt  time.Time
	FinishedAt time.Time
	// LongestCommand is the session's longest single command: how long the
	// device made it wait at once. The next run starts the devices where it
	// was longest first (longestFirst).
	LongestCommand time.Duration
	// Transient marks a failure worth another attempt later (the device was
	// unreachable): the worker returns an error to River, which retries,
	// until the last attempt, whose outcome is recorded as it is.
	Transient bool
}
