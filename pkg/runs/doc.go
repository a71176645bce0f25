// Package runs owns durable runs: a diagnose (or a sweep) over a device set
// that is frozen when the run is created, executed as one River job per
// device, with each device's result recorded exactly once.
//
// The flow:
//
//	Service.Start  -- one transaction: the run row, a pending run_devices row
//	                  per device, and one River job per device.
//	DiagnoseWorker -- a River worker: skips a device whose result is already
//	                  recorded (a rescued or retried job), runs the Diagnoser,
//	                  retries transient failures through River, then hands the
//	                  result to the Recorder and waits until it is durable.
//	Recorder       -- batches results from all workers of the process into
//	                  one transaction (results, transcripts, device_status,
//	                  run counters, completion), retrying through database
//	                  outages so that no result is lost.
//
// The package owns the tables runs, run_devices, run_transcripts and
// device_status; other packages read them through history.go (pkg/sweep's
// diffs, reports and catch-up). It reads the inventory's devices and host
// keys only through pkg/inventory's SQL building blocks (sqlblocks.go), so
// that a device job still loads its device in one query.
//
// A fleetd killed mid-run loses nothing: jobs it held are rescued by River
// (after Config.RescueAfter) and re-run on any replica, and the
// state = 'pending' guard makes the second attempt a no-op when the first
// one's result was already committed.
package runs
