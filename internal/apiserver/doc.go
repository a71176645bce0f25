// Package apiserver serves fleetd's HTTP/JSON API under /v1 (the contract is
// pkg/api): the central route table with the least role each route needs
// (routes.go), the middleware (request ids, access log, bearer tokens, role
// checks, body limits, strict JSON), the handlers that map the services'
// domain types to pkg/api's wire types, and the one mapping from service
// errors to JSON errors (errmap.go).
//
// Adding an endpoint: a Deps field for a new service (if any), one Route in
// routeTable, a handler method in handlers_<noun>.go, its wire types and a
// client method in pkg/api, and a sample request in route_test.go's matrix
// (the test fails until it exists).
package apiserver
