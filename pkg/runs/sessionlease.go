package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// A device's session lease keeps it from having two sessions of the same
// run at once (issue 10 §3): a job River rescued, or that Liveness released
// from a replica it took for dead, must not open a second session while the
// first attempt's may still be open.
//
// The primary guarantee is the timeout ordering (internal/app
// DeviceJobTimeouts): the runner closes a session's connection at
// runner.session_timeout whatever the device does, a device job's context
// ends at that plus a margin, and River rescues a job only after a longer
// rescue_after. The lease is the belt and braces for what that ordering
// cannot see: a replica cut off from the database (its heartbeats stop, so
// its jobs are released, while its sessions run on) and any job started
// twice.
//
// Cost (issue 15): none beyond the job's own load query, which takes the
// leases of all its devices in the same statement (a row of the unlogged run_leases, migration
// 012: no WAL, so no flush to wait for at commit), and the result's write,
// which deletes it. It replaced a session-level advisory lock per job on
// one shared connection: two more round trips per device, about 8 % of a
// 10,000-device run. A job that ends without a result (a transient failure
// River retries, cancellation) gives the lease back with one more
// statement. A lease lasts the job's timeout plus leaseMargin by the
// database's clock: a process that dies holding one blocks the device's
// copy of the job only until then, which is before River's rescue_after.
// A process restarting under the same client id deletes its previous
// incarnation's leases (ReleaseLeasesOf) as it takes its jobs back: that
// incarnation is dead, so are its sessions. Leases left behind otherwise
// are deleted by the retention job once long expired.

// leaseMargin is how much longer than the job's timeout a lease lasts.
const leaseMargin = 5 * time.Second

// jobDevicesSQL loads a device job's devices (the uuid[] $2, in its
// order) with their run's status, and takes each pending device's session
// lease, in one statement: $3 is this attempt's token, $4 the lease's
// length, $5 the process's client id. leased is false for a device another
// attempt holds an unexpired lease on (or that is done: nothing to lease).
// A device of the array not in the run (the run was deleted) has no row.
var jobDevicesSQL = func() string {
	cols, joins := inventory.JobDeviceSQL("d", "rd.device_id")
	// Every table is reached by a lateral primary-key probe per id, fenced
	// with OFFSET 0: planned as joins, the batch's lookups became scans of
	// the run's 10,000 rows once statistics existed (80 ms a call).
	return `WITH ids AS (SELECT id, ord FROM unnest($2::uuid[]) WITH ORDINALITY AS x (id, ord)),
		lease AS (
			INSERT INTO run_leases AS l (run_id, device_id, token, until, holder)
			SELECT $1, ids.id, $3, now() + $4::interval, $5
			FROM ids CROSS JOIN LATERAL (SELECT 1 FROM run_devices
				WHERE run_id = $1 AND device_id = ids.id AND state = 'pending' OFFSET 0) p
			ON CONFLICT (run_id, device_id) DO UPDATE SET token = EXCLUDED.token, until = EXCLUDED.until,
				holder = EXCLUDED.holder
			WHERE l.until < now()
			RETURNING l.device_id)
		SELECT rd.device_id, rd.device, rd.site, rd.kind, rd.state, r.status,
			EXISTS (SELECT 1 FROM lease WHERE lease.device_id = rd.device_id), ` + cols + `
		FROM ids CROSS JOIN LATERAL (SELECT device_id, device, site, kind, state FROM run_devices
			WHERE run_id = $1 AND device_id = ids.id OFFSET 0) rd
		JOIN runs r ON r.id = $1
		` + joins + `
		ORDER BY ids.ord`
}()

// releaseLease gives back the lease of an attempt that ends without a
// result, so that River's retry need not wait for it to expire. Not the
// job's context: a job cancelled at shutdown still releases.
func (w *DiagnoseWorker) releaseLease(run, device, token uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := w.pool.Exec(ctx, `DELETE FROM run_leases WHERE run_id = $1 AND device_id = $2 AND token = $3`,
		run, device, token)
	if err != nil {
		w.log.Warn("giving back a device's session lease failed; it expires by itself",
			zap.String("run_id", run.String()), zap.String("device_id", device.String()), zap.Error(err))
	}
}

// ReleaseLeasesOf deletes the leases held by the process with job-queue
// client id clientID. Call it only for a process known to be dead: this
// one's previous incarnation, at start (internal/app, with
// jobs.ReleaseOrphans).
func ReleaseLeasesOf(ctx context.Context, q Querier, clientID string) (int64, error) {
	if clientID == "" {
		return 0, nil
	}
	rows, err := q.Query(ctx, `DELETE FROM run_leases WHERE holder = $1 RETURNING 1`, clientID)
	if err != nil {
		return 0, fmt.Errorf("release the session leases of %s: %w", clientID, err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// leaseInterval is d as a PostgreSQL interval literal.
func leaseInterval(d time.Duration) string {
	return fmt.Sprintf("%d milliseconds", d.Milliseconds())
}
