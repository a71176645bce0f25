package api

import (
	"time"

	"github.com/google/uuid"
)

// Wire types of remediation: RemediationRequest is the `requests show -o
// json` object of docs/design.md. internal/apiserver maps pkg/remediate's
// types onto them (a test there fails if the two encodings drift apart).

// RemediationAction is what a request does to its devices.
type RemediationAction string

// Actions (docs/design.md: `action: restart-connector|reboot`).
const (
	ActionRestartConnector RemediationAction = "restart-connector"
	ActionReboot           RemediationAction = "reboot"
)

// RequestState is where a remediation request is in its life.
type RequestState string

// Request states (docs/design.md).
const (
	RequestPending   RequestState = "pending"
	RequestApproved  RequestState = "approved"
	RequestRejected  RequestState = "rejected"
	RequestExpired   RequestState = "expired"
	RequestCancelled RequestState = "cancelled"
	RequestScheduled RequestState = "scheduled"
	RequestRunning   RequestState = "running"
	RequestSucceeded RequestState = "succeeded"
	RequestFailed    RequestState = "failed"
)

// RequestStates lists every state, in life order.
func RequestStates() []RequestState {
	return []RequestState{RequestPending, RequestApproved, RequestScheduled, RequestRunning, RequestSucceeded,
		RequestFailed, RequestRejected, RequestExpired, RequestCancelled}
}

// Final reports a state nothing leaves.
func (s RequestState) Final() bool {
	switch s {
	case RequestRejected, RequestExpired, RequestCancelled, RequestSucceeded, RequestFailed:
		return true
	}
	return false
}

// CreateRemediationRequest is the body of POST /v1/remediations. Name
// devices, or select by Site and/or Diagnosis from the latest device status.
type CreateRemediationRequest struct {
	Action    RemediationAction `json:"action"`
	Devices   []string          `json:"devices,omitempty"`
	Site      string            `json:"site,omitempty"`
	Diagnosis string            `json:"diagnosis,omitempty"`
	// FromRun selects the devices of that run a connector restart cures
	// (recommended restart-connector): restart-connector only.
	FromRun  string     `json:"from_run,omitempty"`
	At       *time.Time `json:"at,omitempty"`
	InWindow bool       `json:"in_window,omitempty"`
	Reason   string     `json:"reason,omitempty"`
}

// RemediationSelector records how a request's device list was chosen.
type RemediationSelector struct {
	Devices   []string `json:"devices,omitempty"`
	Site      string   `json:"site,omitempty"`
	Diagnosis string   `json:"diagnosis,omitempty"`
	FromRun   string   `json:"from_run,omitempty"`
}

// RemediationRequest is a remediation request: the `requests show -o json`
// object of docs/design.md (id, action, devices, state, requested_by,
// approved_by, reason, not_before, expires_at, result) plus details for
// people.
type RemediationRequest struct {
	ID               uuid.UUID                 `json:"id"`
	Action           RemediationAction         `json:"action"`
	Devices          []string                  `json:"devices"`
	State            RequestState              `json:"state"`
	RequestedBy      string                    `json:"requested_by"`
	ApprovedBy       string                    `json:"approved_by"`
	Reason           string                    `json:"reason"`
	NotBefore        *time.Time                `json:"not_before"`
	ExpiresAt        time.Time                 `json:"expires_at"`
	Result           *RemediationResult        `json:"result"`
	Selector         RemediationSelector       `json:"selector"`
	Schedule         string                    `json:"schedule"` // now | at | window
	At               *time.Time                `json:"at,omitempty"`
	BatchSize        int                       `json:"batch_size"`
	FailureThreshold int                       `json:"failure_threshold"`
	ParamsHash       string                    `json:"params_hash"`
	CreatedAt        time.Time                 `json:"created_at"`
	ApprovedAt       *time.Time                `json:"approved_at,omitempty"`
	ApprovalComment  string                    `json:"approval_comment,omitempty"`
	RejectedBy       string                    `json:"rejected_by,omitempty"`
	RejectReason     string                    `json:"reject_reason,omitempty"`
	CancelledBy      string                    `json:"cancelled_by,omitempty"`
	CancelReason     string                    `json:"cancel_reason,omitempty"`
	DecidedAt        *time.Time                `json:"decided_at,omitempty"` // when rejected, expired or cancelled
	StartedAt        *time.Time                `json:"started_at,omitempty"`
	FinishedAt       *time.Time                `json:"finished_at,omitempty"`
	ScheduleNote     string                    `json:"schedule_note,omitempty"`
	Preview          *RemediationPreview       `json:"preview,omitempty"`
	DeviceResults    []RemediationDeviceResult `json:"device_results,omitempty"`
	// Identities (list only) is the frozen identity of the first devices,
	// for a glance in `approvals list`; Preview.Devices has them all.
	Identities []PreviewDevice `json:"identities,omitempty"`
	// History is the request's audit trail, oldest first (one request only).
	History []RemediationHistoryEntry `json:"history,omitempty"`
}

// RemediationHistoryEntry is one audited transition of a request: who,
// when, what, why.
type RemediationHistoryEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Why    string    `json:"why,omitempty"`
}

// RemediationPreview says exactly what an approved request will do, on
// which devices, in which order.
type RemediationPreview struct {
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

// RemediationResult is what a finished (or running) request did.
type RemediationResult struct {
	Summary     RemediationSummary        `json:"summary"`
	Message     string                    `json:"message"`
	Recommended string                    `json:"recommended,omitempty"` // e.g. "reboot"
	Devices     []RemediationDeviceResult `json:"devices"`
}

// RemediationSummary counts a request's devices by outcome.
type RemediationSummary struct {
	Devices   int `json:"devices"`
	Succeeded int `json:"succeeded"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	NotRun    int `json:"not_run"`
	Pending   int `json:"pending"`
}

// RemediationDeviceResult is one device's progress and outcome within a
// request.
type RemediationDeviceResult struct {
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

// ApproveRequest is the body of POST /v1/remediations/{id}/approve.
type ApproveRequest struct {
	Comment string `json:"comment,omitempty"`
	// ParamsHash is the params_hash the approver reviewed; when set, the
	// approval fails if the request no longer matches it.
	ParamsHash string `json:"params_hash,omitempty"`
}

// RejectRequest is the body of POST /v1/remediations/{id}/reject.
type RejectRequest struct {
	Reason string `json:"reason"`
}

// CancelRequest is the body of POST /v1/remediations/{id}/cancel.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Error codes of the remediation routes.
const (
	CodeSelfApproval = "self_approval" // 403: the requester tried to approve
	CodeExpired      = "expired"       // 409: the request expired before approval
)
