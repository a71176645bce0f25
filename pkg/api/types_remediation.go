package api

import "github.com/fleetd/fleetd/pkg/remediate"

// Wire types of remediation are pkg/remediate's own: Request is the
// `requests show -o json` object of DESIGN.md.
type (
	RemediationRequest       = remediate.Request
	CreateRemediationRequest = remediate.CreateRequest
)

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
