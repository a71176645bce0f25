package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runs"
)

// ErrorOf is the API's answer to a service's error, for the web console:
// the same status, code and message an API client would get (remediation's
// errors included). A nil error is nil.
func ErrorOf(err error) *api.Error {
	if err == nil {
		return nil
	}
	return toAPIError(remediationError(err))
}

// toAPIError is the one mapping from the services' errors to HTTP answers.
// A new service adds its sentinel errors here. Anything unknown is a 500
// whose message hides the cause (it may name tables or hosts); the cause is
// logged with the request id.
func toAPIError(err error) *api.Error {
	var (
		apiErr  *api.Error
		valErr  *inventory.ValidationError
		refused *inventory.AcceptRefusedError
	)
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &valErr):
		return validationError(valErr)
	case errors.As(err, &refused):
		keys := "host keys"
		if len(refused.Refused) == 1 {
			keys = "host key"
		}
		e := api.Errorf(http.StatusForbidden, api.CodeForbidden, "%d %s not accepted (two-person rule); nothing was accepted", len(refused.Refused), keys)
		for _, r := range refused.Refused {
			e.Details = append(e.Details, api.ErrorDetail{Field: r.Device, Message: r.Reason})
		}
		return e
	case errors.Is(err, inventory.ErrNotFound), errors.Is(err, auth.ErrNotFound), errors.Is(err, runs.ErrNotFound):
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "%s", err.Error())
	case errors.Is(err, inventory.ErrExists), errors.Is(err, auth.ErrNameTaken):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "%s", err.Error())
	default:
		return &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal}
	}
}

func validationError(v *inventory.ValidationError) *api.Error {
	e := &api.Error{Status: http.StatusBadRequest, Code: api.CodeValidation}
	for _, p := range v.Problems {
		e.Details = append(e.Details, api.ErrorDetail{Line: p.Line, Field: p.Field, Message: p.Message})
	}
	n := v.Count()
	e.Total = n
	plural := "s"
	if n == 1 {
		plural = ""
	}
	shown := ""
	if len(v.Problems) < n {
		shown = fmt.Sprintf(" (the first %d listed)", len(v.Problems))
	}
	if v.File != "" {
		e.Message = fmt.Sprintf("%s: %d problem%s%s; nothing was written", v.File, n, plural, shown)
	} else if n == 1 && len(e.Details) == 1 {
		e.Message = fmt.Sprintf("invalid: %s", e.Details[0])
	} else {
		e.Message = fmt.Sprintf("%d problems%s; nothing was written", n, shown)
	}
	return e
}
