// Package migrations holds fleetd's numbered SQL migrations (goose format),
// embedded in the binary so that `fleetd migrate up` and `fleetd serve` need
// no files on disk. Numbers: 001 foundation, 002 runs and results,
// 003 remediation, 004 schedules and notifications, 005 replicas,
// 006 device identities frozen into remediation requests, 007 who set
// each device address (host-key two-person rule), 008 token names unique
// case-insensitively with fleetd/system reserved, 009 the FMC REST API
// (api_address, model, sw_version, synced_from; TLS certificates pinned
// with the host keys), 012 the session lease (run_leases), 013 each
// result's longest command, and lz4 for transcripts and checks, 014 no
// (run_id, device) index: the planner probed it for (run_id, device_id).
package migrations

import "embed"

// FS holds every NNN_name.sql file of this directory.
//
//go:embed *.sql
var FS embed.FS
