package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Wire types of runs and status: the docs/design.md contract of
// `diagnose -o json` and `status -o json`. internal/apiserver maps pkg/runs'
// types onto them (a test there fails if the two encodings drift apart).

// Selector says which devices a run covers. Exactly one of All, Site,
// Devices or Tag selects; Site and Tag may be combined.
type Selector struct {
	All     bool     `json:"all,omitempty"`
	Site    string   `json:"site,omitempty"`
	Devices []string `json:"devices,omitempty"`
	Tag     string   `json:"tag,omitempty"` // k=v
}

// RunSummary counts a run's devices.
type RunSummary struct {
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
	Summary     RunSummary     `json:"summary"`
	Devices     []DeviceResult `json:"devices,omitempty"`
	// Incidents group the run's unhealthy and unreachable devices by root
	// cause (pkg/incident); absent when there is none.
	Incidents []Incident `json:"incidents,omitempty"`
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
	// SWVersion is the software version the device's login banner named.
	SWVersion string `json:"sw_version,omitempty"`
	// Incident is the ID of the run's incident that explains this device,
	// and RecommendedOn the device the recommendation acts on when it is not
	// this one (an fmc-rooted incident: the FMC).
	Incident      string `json:"incident,omitempty"`
	RecommendedOn string `json:"recommended_on,omitempty"`
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

// StartRunRequest is the body of POST /v1/runs.
type StartRunRequest struct {
	Selector Selector `json:"selector"`
	Checks   []string `json:"checks,omitempty"`
}
