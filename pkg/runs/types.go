package runs

import (
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

// Selector says which devices a run covers. Exactly one of All, Site,
// Devices or Tag selects; Site and Tag may be combined.
type Selector struct {
	All     bool     `json:"all,omitempty"`
	Site    string   `json:"site,omitempty"`
	Devices []string `json:"devices,omitempty"`
	Tag     string   `json:"tag,omitempty"` // k=v
}

// Summary counts a run's devices.
type Summary struct {
	Devices   int `json:"devices"`
	Done      int `json:"done"`
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
	Error     int `json:"error"`
}

// Run is the object of docs/design.md's `diagnose -o json` contract.
type Run struct {
	ID          uuid.UUID      `json:"id"`
	Kind        string         `json:"kind"`
	Status      string         `json:"status"`
	RequestedBy string         `json:"requested_by"`
	Selector    Selector       `json:"selector"`
	Checks      []string       `json:"checks,omitempty"`
	Schedule    string         `json:"schedule,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
	StartedAt   *time.Time     `json:"started_at"`
	FinishedAt  *time.Time     `json:"finished_at"`
	Summary     Summary        `json:"summary"`
	Devices     []DeviceResult `json:"devices,omitempty"`
}

// DeviceResult is one device's result within a run.
type DeviceResult struct {
	Device      string          `json:"device"`
	Site        string          `json:"site"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"` // pending | done
	Health      string          `json:"health"`
	Diagnoses   []string        `json:"diagnoses"`
	Recommended string          `json:"recommended"`
	Error       string          `json:"error"`
	Attempts    int             `json:"attempts"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	Checks      json.RawMessage `json:"checks,omitempty"`
	Transcript  string          `json:"transcript,omitempty"`
}

// DeviceStatus is a device's latest known health (`fleetctl status`).
type DeviceStatus struct {
	Device      string     `json:"device"`
	Site        string     `json:"site"`
	Kind        string     `json:"kind"`
	Health      string     `json:"health"` // healthy | unhealthy | error | unknown (never checked)
	Diagnoses   []string   `json:"diagnoses"`
	Recommended string     `json:"recommended"`
	Error       string     `json:"error"`
	CheckedAt   *time.Time `json:"checked_at"`
	RunID       *uuid.UUID `json:"run_id"`
}

// Outcome is what a Diagnoser found on one device.
type Outcome struct {
	Health      string
	Diagnoses   []string
	Recommended string
	Error       string // operator-readable; never contains a secret
	Checks      json.RawMessage
	Transcript  string
	StartedAt   time.Time
	FinishedAt  time.Time
	// Transient marks a failure worth another attempt later (the device was
	// unreachable): the worker returns an error to River, which retries,
	// until the last attempt, whose outcome is recorded as it is.
	Transient bool
}
