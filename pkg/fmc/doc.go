// Package fmc is a client of the Firepower Management Center's REST API
// (docs/firepower.md §5) and the checks fleetd makes through it: the token
// life cycle (basic-auth login answering 204 with tokens in headers, three
// refreshes, then a new login), the domain, a client-side rate limit, 429
// and 5xx retried with a capped backoff, paging, a body size cap, timeouts
// on every request, and TLS verified against a CA or a pinned certificate
// (never skipped). It imports nothing of fleetd but pkg/diagnose, whose
// check results and diagnosis codes the FMC checks produce.
package fmc
