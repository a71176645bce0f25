// Package api is the contract of fleetd's HTTP/JSON API under /v1: the wire
// types (types*.go), the error body and its codes (errors.go), and the Go
// client fleetctl uses (client*.go). It imports nothing of fleetd, so a
// client links neither the server nor its stores; the server
// (internal/apiserver) maps its domain types onto these.
//
// Every error answer is {"error": {"code", "message", "details", "request_id"}};
// the client returns it as *Error.
package api
