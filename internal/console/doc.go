// Package console is fleetd's web console, served at /ui/ on the API's
// listener: the Fleet, Devices, Device, Runs, Approvals, Audit and
// Schedules pages, rendered on the server with html/template from embedded
// templates and assets (one binary, no Node toolchain).
//
// It holds no rules of its own. Each page and action names the API route
// it mirrors, and is authorised with that route's role
// (apiserver.RouteRole); it calls the same services the API calls, so the
// two-person approval, validation and audit are those of the services,
// enforced once. Errors are the API's (apiserver.ErrorOf).
//
// Sign-in exchanges an API token, pasted once, for a server-side session
// (pkg/auth Sessions: only a hash of the id is stored; idle and absolute
// expiry; the token's revocation ends it). The session cookie is HttpOnly,
// SameSite=Strict and Secure under TLS; every state change carries a CSRF
// token derived from the session; the Content-Security-Policy allows no
// inline script or style; everything a device printed goes through
// html/template's escaping. Pages read without JavaScript; the one script
// (static/console.js) only refreshes a running run's progress.
package console
