// Package queues names fleetd's River queues: the one definition that the
// packages inserting jobs (runs, remediate, sweep, notify), the River client
// that works them (internal/jobs) and the metrics that count them share.
//
// It is a leaf under pkg/ so that every one of them may import it; a queue's
// worker count and timeouts are set where the client is built, not here.
package queues

import "github.com/riverqueue/river"

const (
	// Diagnose holds one job per device of a diagnose run or sweep
	// (pkg/runs). It has most workers: device sessions are long and many.
	Diagnose = "diagnose"
	// Remediate holds one job per approved remediation request
	// (pkg/remediate), apart from diagnose jobs so that a large sweep never
	// delays an approved restart.
	Remediate = "remediate"
	// Default is River's default queue: sweep starts and reports
	// (pkg/sweep), webhook deliveries (pkg/notify) and the expiry of
	// remediation requests (pkg/remediate). These jobs are short.
	Default = river.QueueDefault
)

// All lists every queue, in a stable order (the client's queue table, the
// metrics refresher).
func All() []string { return []string{Diagnose, Remediate, Default} }
