package remediate

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Action is what a request does to its devices.
type Action string

// Actions (docs/design.md: `action: restart-connector|reboot`).
const (
	ActionRestartConnector Action = "restart-connector"
	ActionReboot           Action = "reboot"
)

// ParseAction accepts the two action names.
func ParseAction(s string) (Action, error) {
	switch Action(s) {
	case ActionRestartConnector, ActionReboot:
		return Action(s), nil
	}
	return "", fmt.Errorf("unknown action %q (want restart-connector or reboot)", s)
}

// State is where a request is in its life.
type State string

// Request states (docs/design.md).
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateRejected  State = "rejected"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
	StateScheduled State = "scheduled"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
)

// AllStates lists every state, in life order.
func AllStates() []State {
	return []State{StatePending, StateApproved, StateScheduled, StateRunning, StateSucceeded, StateFailed,
		StateRejected, StateExpired, StateCancelled}
}

// Final reports a state nothing leaves.
func (s State) Final() bool {
	switch s {
	case StateRejected, StateExpired, StateCancelled, StateSucceeded, StateFailed:
		return true
	}
	return false
}

// Cancellable reports whether a request in this state may still be cancelled
// (nothing has been sent to a device yet).
func (s State) Cancellable() bool {
	return s == StatePending || s == StateApproved || s == StateScheduled
}

// ParseState accepts a state name.
func ParseState(s string) (State, error) {
	for _, st := range AllStates() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q", s)
}

// Schedule says when an approved request may run.
type Schedule string

// Schedules.
const (
	// ScheduleNow runs as soon as the request is approved.
	ScheduleNow Schedule = "now"
	// ScheduleAt runs at (or after) a given time.
	ScheduleAt Schedule = "at"
	// ScheduleWindow runs only inside the devices' site maintenance window.
	ScheduleWindow Schedule = "window"
)

// Device outcomes, per device of a request.
const (
	OutcomePending   = "pending"
	OutcomeRunning   = "running"
	OutcomeSucceeded = "succeeded"
	OutcomeSkipped   = "skipped" // nothing to do: already healthy (a success)
	OutcomeFailed    = "failed"
	OutcomeNotRun    = "not-run" // the request stopped before this device's batch
)

// Actor is the identity acting on a request: the API token's name and role.
type Actor struct {
	Name string
	Role string // viewer | operator | approver | admin
}

// canDecide: only approvers and admins approve or reject.
func (a Actor) canDecide() bool { return a.Role == "approver" || a.Role == "admin" }

// Device is a device as frozen into a request: which inventory row (ID),
// where and how fleetd reaches it (Address, Credential) and which box it
// must be (HostKey, the SHA256 fingerprint pinned when the request was
// made). The approval covers all of it; the executor acts on ID and refuses
// the device if the inventory no longer matches.
type Device struct {
	ID         uuid.UUID `json:"-"`
	Name       string    `json:"device"`
	Site       string    `json:"site"`
	Kind       string    `json:"kind"`
	Address    string    `json:"address"`
	Credential string    `json:"credential"`
	HostKey    string    `json:"host_key"`
}

// Selector records how the device list was chosen (shown, and hashed).
type Selector struct {
	Devices   []string `json:"devices,omitempty"`
	Site      string   `json:"site,omitempty"`
	Diagnosis string   `json:"diagnosis,omitempty"`
	FromRun   string   `json:"from_run,omitempty"`
}

// Request is a remediation request: the `requests show -o json` object of
// docs/design.md (id, action, devices, state, requested_by, approved_by, reason,
// not_before, expires_at, result) plus details for people.
type Request struct {
	ID               uuid.UUID      `json:"id"`
	Action           Action         `json:"action"`
	Devices          []string       `json:"devices"`
	State            State          `json:"state"`
	RequestedBy      string         `json:"requested_by"`
	ApprovedBy       string         `json:"approved_by"`
	Reason           string         `json:"reason"`
	NotBefore        *time.Time     `json:"not_before"`
	ExpiresAt        time.Time      `json:"expires_at"`
	Result           *Result        `json:"result"`
	Selector         Selector       `json:"selector"`
	Schedule         Schedule       `json:"schedule"`
	At               *time.Time     `json:"at,omitempty"`
	BatchSize        int            `json:"batch_size"`
	FailureThreshold int            `json:"failure_threshold"`
	ParamsHash       string         `json:"params_hash"`
	CreatedAt        time.Time      `json:"created_at"`
	ApprovedAt       *time.Time     `json:"approved_at,omitempty"`
	ApprovalComment  string         `json:"approval_comment,omitempty"`
	RejectedBy       string         `json:"rejected_by,omitempty"`
	RejectReason     string         `json:"reject_reason,omitempty"`
	CancelledBy      string         `json:"cancelled_by,omitempty"`
	CancelReason     string         `json:"cancel_reason,omitempty"`
	DecidedAt        *time.Time     `json:"decided_at,omitempty"` // when rejected, expired or cancelled
	StartedAt        *time.Time     `json:"started_at,omitempty"`
	FinishedAt       *time.Time     `json:"finished_at,omitempty"`
	ScheduleNote     string         `json:"schedule_note,omitempty"`
	Preview          *Preview       `json:"preview,omitempty"`
	DeviceResults    []DeviceResult `json:"device_results,omitempty"`
	// Identities (List only) is the frozen identity of the first devices,
	// for a glance in `approvals list`; Preview.Devices has them all.
	Identities []PreviewDevice `json:"identities,omitempty"`
	// History is the request's audit trail, oldest first (Get only).
	History []HistoryEntry `json:"history,omitempty"`
}

// HistoryEntry is one audited transition of a request: who, when, what, why.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Why    string    `json:"why,omitempty"`
}

// Preview says exactly what an approved request will do, on which devices,
// in which order.
type Preview struct {
	// Batches lists device names in execution order; batch 0 is the canary.
	Batches [][]string `json:"batches"`
	// Devices is the identity of each device as frozen and approved, in
	// execution order: the request acts on exactly these boxes.
	Devices          []PreviewDevice  `json:"devices"`
	Precheck         []string         `json:"precheck"` // check ids run before acting
	Commands         []PreviewCommand `json:"commands"` // sent to every device that needs it
	Verify           []string         `json:"verify"`   // check ids run after acting
	Schedule         string           `json:"schedule"` // in words
	StopRule         string           `json:"stop_rule"`
	SkipRule         string           `json:"skip_rule"`
	FailureThreshold int              `json:"failure_threshold"`
}

// PreviewDevice is one frozen device identity of a preview.
type PreviewDevice struct {
	Device     string    `json:"device"`
	ID         uuid.UUID `json:"id"`
	Site       string    `json:"site"`
	Address    string    `json:"address"`
	Credential string    `json:"credential"`
	HostKey    string    `json:"host_key"` // SHA256 fingerprint pinned at request time
}

// PreviewCommand is one device command of a preview.
type PreviewCommand struct {
	Level   string `json:"level"` // clish | root
	Command string `json:"command"`
	Note    string `json:"note,omitempty"`
}

// Result is what a finished (or running) request did.
type Result struct {
	Summary     Summary        `json:"summary"`
	Message     string         `json:"message"`
	Recommended string         `json:"recommended,omitempty"` // e.g. "reboot"
	Devices     []DeviceResult `json:"devices"`
}

// Summary counts a request's devices by outcome.
type Summary struct {
	Devices   int `json:"devices"`
	Succeeded int `json:"succeeded"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	NotRun    int `json:"not_run"`
	Pending   int `json:"pending"`
}

// DeviceResult is one device's progress and outcome within a request.
type DeviceResult struct {
	Device          string     `json:"device"`
	Site            string     `json:"site"`
	Batch           int        `json:"batch"` // 0 = canary
	Outcome         string     `json:"outcome"`
	Step            string     `json:"step"` // last journalled step
	DiagnosesBefore []string   `json:"diagnoses_before"`
	DiagnosesAfter  []string   `json:"diagnoses_after"`
	Message         string     `json:"message"`
	Error           string     `json:"error,omitempty"`
	ErrorClass      string     `json:"error_class,omitempty"`
	Recommended     string     `json:"recommended,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
}

// Errors the API maps to HTTP statuses. They wrap details with %w.
var (
	ErrNotFound     = errors.New("remediation request not found")
	ErrForbidden    = errors.New("not allowed")                  // 403
	ErrSelfApproval = errors.New("self-approval is not allowed") // 403
	ErrConflict     = errors.New("conflict")                     // 409: wrong state, changed since reviewed, time passed
	ErrExpired      = errors.New("request expired")              // 409
	ErrInvalid      = errors.New("invalid request")              // 400
)
