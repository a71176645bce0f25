package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/remediate"
)

// Wire types of remediation are pkg/remediate's own: Request is the
// `requests show -o json` object of docs/design.md.
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

// Remediation is what the remediation routes need (*remediate.Service).
type Remediation interface {
	Create(ctx context.Context, actor remediate.Actor, req remediate.CreateRequest) (remediate.Request, error)
	Get(ctx context.Context, id uuid.UUID) (remediate.Request, error)
	List(ctx context.Context, f remediate.ListFilter) ([]remediate.Request, error)
	Approve(ctx context.Context, actor remediate.Actor, id uuid.UUID, comment, reviewedHash string) (remediate.Request, error)
	Reject(ctx context.Context, actor remediate.Actor, id uuid.UUID, reason string) (remediate.Request, error)
	Cancel(ctx context.Context, actor remediate.Actor, id uuid.UUID, reason string) (remediate.Request, error)
}

// remediationActor is the caller as pkg/remediate sees it: the token's
// identity name and role, never anything the client says about itself.
func remediationActor(r *http.Request) remediate.Actor {
	id, _ := IdentityFrom(r.Context())
	return remediate.Actor{Name: id.Name, Role: id.Role.String()}
}

// remediationError maps pkg/remediate's errors to API answers.
func remediationError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, remediate.ErrNotFound):
		return Errorf(http.StatusNotFound, CodeNotFound, "%s", err.Error())
	case errors.Is(err, remediate.ErrSelfApproval):
		return Errorf(http.StatusForbidden, CodeSelfApproval, "%s", err.Error())
	case errors.Is(err, remediate.ErrForbidden):
		return Errorf(http.StatusForbidden, CodeForbidden, "%s", err.Error())
	case errors.Is(err, remediate.ErrExpired):
		return Errorf(http.StatusConflict, CodeExpired, "%s", err.Error())
	case errors.Is(err, remediate.ErrConflict):
		return Errorf(http.StatusConflict, CodeConflict, "%s", err.Error())
	case errors.Is(err, remediate.ErrInvalid):
		return Errorf(http.StatusBadRequest, CodeValidation, "%s", err.Error())
	}
	return err
}

func (s *Server) remediationID(r *http.Request) (uuid.UUID, error) {
	if err := s.remediationConfigured(); err != nil {
		return uuid.UUID{}, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return id, errBadRequest("request id %q is not a UUID", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) remediationConfigured() error {
	if s.deps.Remediation == nil {
		return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "remediation is not configured on this server")
	}
	return nil
}

func (s *Server) createRemediation(w http.ResponseWriter, r *http.Request) error {
	if err := s.remediationConfigured(); err != nil {
		return err
	}
	if _, err := parseQuery(r); err != nil {
		return err
	}
	var req CreateRemediationRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	out, err := s.deps.Remediation.Create(r.Context(), remediationActor(r), req)
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listRemediations(w http.ResponseWriter, r *http.Request) error {
	if err := s.remediationConfigured(); err != nil {
		return err
	}
	q, err := parseQuery(r, "state", "limit")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(remediate.AllStates()))
	for _, st := range remediate.AllStates() {
		names = append(names, string(st))
	}
	f := remediate.ListFilter{State: remediate.State(q.oneOf("state", names...)), Limit: int(q.int("limit", 1, 1000))}
	if err := q.done(); err != nil {
		return err
	}
	list, err := s.deps.Remediation.List(r.Context(), f)
	if err != nil {
		return remediationError(err)
	}
	if list == nil {
		list = []remediate.Request{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getRemediation(w http.ResponseWriter, r *http.Request) error {
	id, err := s.remediationID(r)
	if err != nil {
		return err
	}
	if _, err := parseQuery(r); err != nil {
		return err
	}
	out, err := s.deps.Remediation.Get(r.Context(), id)
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) approveRemediation(w http.ResponseWriter, r *http.Request) error {
	id, err := s.remediationID(r)
	if err != nil {
		return err
	}
	if _, err := parseQuery(r); err != nil {
		return err
	}
	var req ApproveRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	out, err := s.deps.Remediation.Approve(r.Context(), remediationActor(r), id, req.Comment, req.ParamsHash)
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) rejectRemediation(w http.ResponseWriter, r *http.Request) error {
	id, err := s.remediationID(r)
	if err != nil {
		return err
	}
	if _, err := parseQuery(r); err != nil {
		return err
	}
	var req RejectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	out, err := s.deps.Remediation.Reject(r.Context(), remediationActor(r), id, req.Reason)
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) cancelRemediation(w http.ResponseWriter, r *http.Request) error {
	id, err := s.remediationID(r)
	if err != nil {
		return err
	}
	if _, err := parseQuery(r); err != nil {
		return err
	}
	var req CancelRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	out, err := s.deps.Remediation.Cancel(r.Context(), remediationActor(r), id, req.Reason)
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
