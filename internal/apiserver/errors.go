package apiserver

import (
	"net/http"

	"github.com/fleetd/fleetd/pkg/api"
)

// errorEnvelope is the wire shape of every error answer: {"error": {...}}.
type errorEnvelope struct {
	Error *api.Error `json:"error"`
}

func errBadRequest(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusBadRequest, api.CodeBadRequest, format, args...)
}

func errNotFound(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusNotFound, api.CodeNotFound, format, args...)
}
