// Package metrics owns fleetd's Prometheus metrics: what the workers of this
// process checked (devices, results by health and diagnosis, SSH errors by
// class, run durations, webhook deliveries) and what the shared database
// holds (job queue depth by queue and state, approvals pending), refreshed
// periodically rather than at scrape time so that a scrape never waits on
// PostgreSQL.
//
// Counters are per process: sum them across replicas. The database gauges
// are the same on every replica: take max(), not sum().
//
// fleetd serves them on its API server as GET /metrics, behind the viewer
// role like every other route (Prometheus: authorization.credentials_file
// holding a viewer token).
package metrics
