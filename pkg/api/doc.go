// Package api owns fleetd's HTTP/JSON API under /v1: the wire types
// (types.go), the central route table with the least role each route needs
// (routes.go), the middleware (request ids, access log, bearer tokens, role
// checks, body limits, strict JSON), the one mapping from service errors to
// JSON errors (errmap.go), and the Go client fleetctl uses (client.go).
//
// Every error answer is {"error": {"code", "message", "details", "request_id"}};
// the client returns it as *Error.
//
// Adding an endpoint: a Deps field for a new service (if any), one Route in
// routeTable, a handler method in handlers_<noun>.go, a client method, and a
// sample request in route_test.go's matrix (the test fails until it exists).
package api
