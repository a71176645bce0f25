package apiserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/remediate"
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
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "%s", err.Error())
	case errors.Is(err, remediate.ErrSelfApproval):
		return api.Errorf(http.StatusForbidden, api.CodeSelfApproval, "%s", err.Error())
	case errors.Is(err, remediate.ErrForbidden):
		return api.Errorf(http.StatusForbidden, api.CodeForbidden, "%s", err.Error())
	case errors.Is(err, remediate.ErrExpired):
		return api.Errorf(http.StatusConflict, api.CodeExpired, "%s", err.Error())
	case errors.Is(err, remediate.ErrConflict):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "%s", err.Error())
	case errors.Is(err, remediate.ErrInvalid):
		return api.Errorf(http.StatusBadRequest, api.CodeValidation, "%s", err.Error())
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
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "remediation is not configured on this server")
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
	var req api.CreateRemediationRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	out, err := s.deps.Remediation.Create(r.Context(), remediationActor(r), createRequestFromWire(req))
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusCreated, requestToWire(out))
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
	return writeList(w, list, requestToWire)
}

func (s *Server) getRemediation(w http.ResponseWriter, r *http.Request) error {
	id, err := s.remediationTarget(r)
	if err != nil {
		return err
	}
	out, err := s.deps.Remediation.Get(r.Context(), id)
	return writeRemediation(w, out, err)
}

func (s *Server) approveRemediation(w http.ResponseWriter, r *http.Request) error {
	return decideRemediation(s, w, r, func(ctx context.Context, a remediate.Actor, id uuid.UUID, req api.ApproveRequest) (remediate.Request, error) {
		return s.deps.Remediation.Approve(ctx, a, id, req.Comment, req.ParamsHash)
	})
}

func (s *Server) rejectRemediation(w http.ResponseWriter, r *http.Request) error {
	return decideRemediation(s, w, r, func(ctx context.Context, a remediate.Actor, id uuid.UUID, req api.RejectRequest) (remediate.Request, error) {
		return s.deps.Remediation.Reject(ctx, a, id, req.Reason)
	})
}

func (s *Server) cancelRemediation(w http.ResponseWriter, r *http.Request) error {
	return decideRemediation(s, w, r, func(ctx context.Context, a remediate.Actor, id uuid.UUID, req api.CancelRequest) (remediate.Request, error) {
		return s.deps.Remediation.Cancel(ctx, a, id, req.Reason)
	})
}

// remediationTarget is the request id of the path of a route that takes no
// query parameters.
func (s *Server) remediationTarget(r *http.Request) (uuid.UUID, error) {
	id, err := s.remediationID(r)
	if err != nil {
		return id, err
	}
	_, err = parseQuery(r)
	return id, err
}

// decideRemediation is approve, reject and cancel: the request id from the
// path, no query, the decision's JSON body, then the request as it now is.
func decideRemediation[B any](s *Server, w http.ResponseWriter, r *http.Request,
	decide func(ctx context.Context, a remediate.Actor, id uuid.UUID, body B) (remediate.Request, error)) error {
	id, err := s.remediationTarget(r)
	if err != nil {
		return err
	}
	var body B
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	out, err := decide(r.Context(), remediationActor(r), id, body)
	return writeRemediation(w, out, err)
}

// writeRemediation writes a service's answer: the request (200), or the
// error mapped.
func writeRemediation(w http.ResponseWriter, out remediate.Request, err error) error {
	if err != nil {
		return remediationError(err)
	}
	writeJSON(w, http.StatusOK, requestToWire(out))
	return nil
}
