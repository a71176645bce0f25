package api

import (
	"fmt"
	"strings"
)

// Error codes carried in {"error": {"code": ...}}. Scripts match on the code,
// people read the message; the code set only grows.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidJSON      = "invalid_json"
	CodeValidation       = "validation_failed"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeUnavailable      = "unavailable"
	// CodeUpstream: a device fleetd asked (an FMC's REST API) failed or refused.
	CodeUpstream = "upstream_failed"
	CodeInternal = "internal"
)

// Error is the body of every failed API call, and the error the Client
// returns for one, so fleetctl can show the server's own words and scripts can
// branch on Code or Status.
type Error struct {
	// Status is the HTTP status; it travels in the status line, not the body.
	Status  int           `json:"-"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []ErrorDetail `json:"details,omitempty"`
	// Total is how many problems a validation error found; Details lists
	// at most the first 100 of them.
	Total int `json:"total,omitempty"`
	// RequestID lets an operator find the server's log line for this call.
	RequestID string `json:"request_id,omitempty"`
}

// ErrorDetail is one of several problems behind an error, e.g. one bad row of
// an inventory file. Line is the 1-based line in the file the client sent.
type ErrorDetail struct {
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// errorEnvelope is the wire shape: {"error": {...}}.
type errorEnvelope struct {
	Error *Error `json:"error"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Code != "" {
			fmt.Fprintf(&b, " %s", e.Code)
		}
		b.WriteString(")")
	}
	return b.String()
}

// String renders a detail the way an editor or compiler would: "line 4: kind: ...".
func (d ErrorDetail) String() string {
	var parts []string
	if d.Line > 0 {
		parts = append(parts, fmt.Sprintf("line %d", d.Line))
	}
	if d.Field != "" {
		parts = append(parts, d.Field)
	}
	parts = append(parts, d.Message)
	return strings.Join(parts, ": ")
}

// Errorf builds an *Error with the given status and code.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}
